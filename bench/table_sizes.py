"""Rows and bytes of each of certmate's tables, on SQLite or PostgreSQL (bench/storage_growth.py).

SQLite: the WAL is checkpointed first, so the file is the database; a table's
bytes are the pages it and its indexes use (`dbstat`), and the file's are
`page_count x page_size`, free pages (`freelist_count`, reused before the file
grows) shown apart. Without `dbstat` a table's bytes are the sum of its
values' lengths, indexes left out. PostgreSQL: `VACUUM` first (dead rows
become reusable space, as autovacuum would make them), then
`pg_total_relation_size` (table, indexes and TOAST) and `pg_database_size`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database
from storage.models import metadata


@dataclass(frozen=True, slots=True)
class Size:
    rows: int
    bytes: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    tables: dict[str, Size]
    file_bytes: int
    """SQLite: the database file (after a checkpoint); PostgreSQL: the whole database."""
    free_bytes: int
    """SQLite: pages free inside the file; PostgreSQL: 0 (free space is inside tables)."""


TABLES = tuple(table.name for table in metadata.sorted_tables)


async def snapshot(database: Database) -> Snapshot:
    """Every table's rows and bytes now."""
    async with database.engine.connect() as opened:
        connection = await opened.execution_options(isolation_level="AUTOCOMMIT")
        if database.is_sqlite:
            return await _sqlite(connection)
        return await _postgresql(connection)


async def _rows(connection: AsyncConnection) -> dict[str, int]:
    return {
        name: int((await connection.exec_driver_sql(f"SELECT count(*) FROM {name}")).scalar_one())  # noqa: S608  (our table names)
        for name in TABLES
    }


async def _sqlite(connection: AsyncConnection) -> Snapshot:
    await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    rows = await _rows(connection)
    pragma = connection.exec_driver_sql
    page_size = int((await pragma("PRAGMA page_size")).scalar_one())
    pages = int((await pragma("PRAGMA page_count")).scalar_one())
    free = int((await pragma("PRAGMA freelist_count")).scalar_one())
    try:
        used = await _dbstat(connection)
    except sa.exc.OperationalError:  # SQLite built without SQLITE_ENABLE_DBSTAT_VTAB
        used = await _value_lengths(connection)
    tables = {name: Size(rows[name], used.get(name, 0)) for name in TABLES}
    return Snapshot(tables, pages * page_size, free * page_size)


async def _dbstat(connection: AsyncConnection) -> dict[str, int]:
    """Bytes of the pages of each table and its indexes."""
    result = await connection.exec_driver_sql(
        "SELECT m.tbl_name, sum(d.pgsize) FROM dbstat AS d"
        " JOIN sqlite_master AS m ON m.name = d.name GROUP BY m.tbl_name"
    )
    pairs: list[tuple[Any, ...]] = [tuple(row) for row in result]
    return {str(name): int(total) for name, total in pairs}


async def _value_lengths(connection: AsyncConnection) -> dict[str, int]:
    """The bytes of each table's values (no page overhead, no indexes): the fallback."""
    found = {}
    for table in metadata.sorted_tables:
        lengths = " + ".join(f"coalesce(length({column.name}), 0)" for column in table.columns)
        result = await connection.exec_driver_sql(f"SELECT sum({lengths}) FROM {table.name}")  # noqa: S608
        found[table.name] = int(result.scalar_one() or 0)
    return found


async def _postgresql(connection: AsyncConnection) -> Snapshot:
    await connection.exec_driver_sql("VACUUM")
    rows = await _rows(connection)
    tables = {}
    for name in TABLES:
        size = await connection.exec_driver_sql(f"SELECT pg_total_relation_size('{name}')")
        tables[name] = Size(rows[name], int(size.scalar_one()))
    total = await connection.exec_driver_sql("SELECT pg_database_size(current_database())")
    return Snapshot(tables, int(total.scalar_one()), 0)
