"""Migrations are the schema: applied to an empty database they give exactly the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from storage import migrate
from storage.database import Database
from storage.models import metadata


async def test_migrations_produce_exactly_the_models_schema(database: Database) -> None:
    """Alembic finds nothing to change between the migrated database and the models."""
    async with database.read() as session:
        connection = await session.connection()
        differences = await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), metadata
            )
        )
    assert differences == []


async def test_upgrade_is_idempotent_and_reports_the_head(database: Database) -> None:
    """A second upgrade changes nothing and the database is at the newest revision."""
    assert await migrate.current(database) == migrate.head()
    assert await migrate.upgrade(database) == migrate.head()
    assert await migrate.current(database) == migrate.head()


async def test_a_fresh_database_has_no_revision(database_url: str) -> None:
    """Before `db upgrade` the database reports no revision; after, the head."""
    db = Database.connect(database_url)
    try:
        assert await migrate.current(db) is None
        await migrate.upgrade(db)
        assert await migrate.current(db) == migrate.head()
    finally:
        await db.close()
