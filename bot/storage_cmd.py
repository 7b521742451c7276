"""`certmate db upgrade` and `certmate keys rotate`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

import sqlalchemy as sa

from bot.app import checked_keyring, open_database
from bot.config import Settings
from storage import migrate
from storage.keyring import KeyFileError
from storage.rotation import rotate

EXIT_OK = 0
EXIT_FAILED = 1


def run_db_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    """Apply pending migrations and say where the database now stands."""

    async def upgrade() -> str | None:
        database = open_database(settings)
        try:
            return await migrate.upgrade(database)
        finally:
            await database.close()

    revision = asyncio.run(upgrade())
    where = sa.make_url(settings.database_url).render_as_string(hide_password=True)
    print(f"database {where} is at revision {revision}")  # noqa: T201
    return EXIT_OK


def run_keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    """Rotate the master key (and re-encrypt every record when asked); resumable after
    any interruption."""
    if settings.vault.key:
        print(  # noqa: T201
            "certmate keys rotate: the master key comes from CERTMATE_VAULT__KEY; "
            "rotation rewrites a key file, so set [vault] key_file instead",
            file=sys.stderr,
        )
        return EXIT_FAILED

    async def rotate_keys() -> int:
        database = open_database(settings)
        try:
            await migrate.upgrade(database)
            await checked_keyring(settings, database)  # every key in use is there
            report = await rotate(
                database,
                settings.key_file,
                now=datetime.now(UTC),
                reencrypt=args.reencrypt,
                batch_size=args.batch_size,
                progress=lambda done: print(f"{done} records on the new key", file=sys.stderr),  # noqa: T201
            )
        finally:
            await database.close()
        resumed = " (finished an interrupted rotation)" if report.resumed else ""
        verb = "re-encrypted under new data keys" if report.reencrypted else "re-wrapped"
        print(  # noqa: T201
            f"master key {report.new_key_id} is current{resumed}; "
            f"{report.moved} records {verb}; "
            f"{len(report.retired_key_ids)} old key(s) removed from {settings.key_file}"
        )
        return EXIT_OK

    try:
        return asyncio.run(rotate_keys())
    except KeyFileError as err:
        print(f"certmate keys rotate: {err}", file=sys.stderr)  # noqa: T201
        return EXIT_FAILED
