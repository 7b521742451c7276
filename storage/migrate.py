"""Apply the Alembic migrations shipped in `storage/migrations` (`certmate db upgrade`)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from storage.database import Database

MIGRATIONS: Final = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


MIGRATION_LOCK: Final = 0x63657274_6D617465 & 0x7FFF_FFFF_FFFF_FFFF
"""PostgreSQL advisory lock key ("certmate") held while migrating."""


async def upgrade(database: Database) -> str | None:
    """Bring the schema to the newest revision; returns it.

    Processes starting together migrate one after another: on PostgreSQL the
    first takes an advisory lock for its transaction and the others wait, then
    find the schema current; on SQLite the write transaction (`BEGIN
    IMMEDIATE`) is already exclusive across processes.
    """
    async with database.write() as session:
        connection = await session.connection()
        if not database.is_sqlite:
            await connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), "head"))
    return head()


async def current(database: Database) -> str | None:
    """The revision the database is at (None: never migrated)."""
    async with database.read() as session:
        connection = await session.connection()
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


def head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
