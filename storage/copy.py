"""Copy one certmate database into another: moving up from SQLite to PostgreSQL.

Rows are copied table by table in foreign-key order, in batches walked by
primary key, each batch one transaction on the target that skips rows it
already holds. So a copy can be stopped at any point (even `kill -9`) and run
again to finish, and it never writes a row twice. Values are copied as they
are: sealed blobs stay sealed under the same master keys, and since row ids
are kept, the associated data that binds each blob to its row still matches.
PostgreSQL's id sequences are moved past the copied ids at the end, and the
copy is verified by counting every table on both sides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa

from storage.database import Database
from storage.models import metadata
from storage.sql import insert_ignore_many

NOT_COPIED: Final = frozenset({"send_slots"})
"""Send schedules: a few seconds of pacing state, rebuilt by the first send."""

Progress = Callable[[str, int], None]


@dataclass(frozen=True, slots=True)
class Count:
    """One table's rows on each side after a copy."""

    table: str
    source: int
    target: int

    @property
    def matches(self) -> bool:
        return self.source == self.target


def copied_tables() -> list[sa.Table]:
    """The tables a copy carries, parents before children."""
    return [table for table in metadata.sorted_tables if table.name not in NOT_COPIED]


async def copy_database(
    source: Database, target: Database, *, batch: int = 1_000, progress: Progress | None = None
) -> list[Count]:
    """Copy every row of `source` that `target` lacks; both must be migrated to the same
    revision. Returns the verified counts."""
    for table in copied_tables():
        copied = await _copy_table(source, target, table, batch)
        if progress is not None:
            progress(table.name, copied)
    if not target.is_sqlite:
        await _move_sequences(target)
    return await count_both(source, target)


async def count_both(source: Database, target: Database) -> list[Count]:
    return [
        Count(table.name, await _count(source, table), await _count(target, table))
        for table in copied_tables()
    ]


async def _copy_table(source: Database, target: Database, table: sa.Table, batch: int) -> int:
    (key,) = table.primary_key.columns
    after: object = None
    copied = 0
    while True:
        query = sa.select(table).order_by(key).limit(batch)
        if after is not None:
            query = query.where(key > after)
        async with source.read() as session:
            rows = [dict(row._mapping) for row in await session.execute(query)]
        if not rows:
            return copied
        async with target.write() as session:
            await session.execute(insert_ignore_many(session, table, [key.name]), rows)
        copied += len(rows)
        after = rows[-1][key.name]


async def _count(database: Database, table: sa.Table) -> int:
    async with database.read() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def _move_sequences(target: Database) -> None:
    """PostgreSQL: each serial id's sequence past the highest copied id."""
    async with target.write() as session:
        for table in copied_tables():
            (key,) = table.primary_key.columns
            serial = key.autoincrement is True or (
                key.autoincrement == "auto" and not key.foreign_keys
            )
            if not (serial and isinstance(key.type, sa.Integer)):
                continue
            await session.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{key.name}'),"  # noqa: S608
                    f" coalesce(max({key.name}), 1), max({key.name}) IS NOT NULL)"
                    f" FROM {table.name}"
                )
            )
