"""Migrations are the schema: applied to an empty database they give exactly the models."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

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


async def test_processes_starting_together_migrate_one_at_a_time(
    database_url: str, tmp_path: Path
) -> None:
    """Six `certmate db upgrade` processes started at once on a fresh database all
    succeed (PostgreSQL used to fail some with a duplicate `pg_type` row), and the
    schema ends at the head exactly once."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMATE_")}
    env |= {
        "CERTMATE_DATABASE__URL": database_url,
        "CERTMATE_VAULT__KEY_FILE": str(tmp_path / "master.key"),
    }
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "db",
            "upgrade",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(6)
    ]
    outcomes = await asyncio.gather(*(p.communicate() for p in processes))
    failed = [err.decode()[-300:] for p, (_out, err) in zip(processes, outcomes, strict=True)
              if p.returncode != 0]  # fmt: skip
    assert failed == []
    db = Database.connect(database_url)
    try:
        assert await migrate.current(db) == migrate.head()
    finally:
        await db.close()
