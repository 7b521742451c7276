"""`certmate db copy --to URL`: copy the configured database into another one."""

from __future__ import annotations

import argparse
import asyncio
import sys

import sqlalchemy as sa

from bot.app import open_database
from bot.config import Settings
from storage import migrate
from storage.copy import Count, copy_database
from storage.database import Database

EXIT_OK = 0
EXIT_FAILED = 1


def run_db_copy(args: argparse.Namespace, settings: Settings) -> int:
    """Copy every row into `--to` (migrated first), then verify by counting both sides."""
    source_url, target_url = sa.make_url(settings.database_url), sa.make_url(args.to)
    shown = target_url.render_as_string(hide_password=True)
    if source_url == target_url:
        print("certmate db copy: --to is the database being copied", file=sys.stderr)  # noqa: T201
        return EXIT_FAILED
    try:
        counts = asyncio.run(_copy(settings, args.to, args.batch_size))
    except (OSError, sa.exc.SQLAlchemyError) as err:
        print(f"certmate db copy: {shown}: {type(err).__name__}", file=sys.stderr)  # noqa: T201
        return EXIT_FAILED
    for count in counts:
        mark = "ok" if count.matches else "DIFFERS"
        print(f"{count.table:<22} {count.source:>10} {count.target:>10}  {mark}")  # noqa: T201
    if all(count.matches for count in counts):
        print(f"copied and verified: {shown}")  # noqa: T201
        return EXIT_OK
    print(  # noqa: T201
        "certmate db copy: the counts differ: was the source still running, or did the"
        " target hold other data? Stop certmate, then run the copy again.",
        file=sys.stderr,
    )
    return EXIT_FAILED


async def _copy(settings: Settings, target_url: str, batch: int) -> list[Count]:
    source = open_database(settings)
    target = Database.connect(target_url)
    try:
        await migrate.upgrade(source)
        await migrate.upgrade(target)
        return await copy_database(
            source,
            target,
            batch=batch,
            progress=lambda table, rows: print(f"copied {table}: {rows}", file=sys.stderr),  # noqa: T201
        )
    finally:
        await source.close()
        await target.close()
