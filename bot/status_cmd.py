"""`certmate status [--json]`: the whole cluster, from the database (any machine can ask)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bot.app import open_database
from bot.config import Settings
from storage import cluster, migrate
from storage.overview import Overview, overview

EXIT_OK = 0
EXIT_FAILED = 1


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    where = sa.make_url(settings.database_url).render_as_string(hide_password=True)
    now = datetime.now(UTC)
    try:
        revision, seen = asyncio.run(_read(settings, now))
    except (OSError, sa.exc.SQLAlchemyError) as err:
        print(f"certmate status: database {where}: {type(err).__name__}", file=sys.stderr)  # noqa: T201
        return EXIT_FAILED
    report = _report(where, revision, seen, now)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))  # noqa: T201
    else:
        print(_text(report))  # noqa: T201
    return EXIT_OK


async def _read(settings: Settings, now: datetime) -> tuple[str | None, Overview]:
    database = open_database(settings)
    try:
        revision = await migrate.current(database)
        async with database.read() as session:
            return revision, await overview(session, now)
    finally:
        await database.close()


def _report(where: str, revision: str | None, seen: Overview, now: datetime) -> dict[str, Any]:
    oldest = seen.oldest_pending and round((now - seen.oldest_pending).total_seconds())
    return {
        "database": where,
        "revision": revision,
        "schema_current": revision == migrate.head(),
        "updates": {
            "pending": seen.updates_pending,
            "oldest_pending_seconds": oldest,
            "dead": seen.updates_dead,
            "oldest_dead_at": seen.oldest_dead and seen.oldest_dead.isoformat(),
            "dead_errors": seen.dead_errors,
        },
        "reminders": {status.value: count for status, count in sorted(seen.reminders.items())},
        "processes": [
            {
                "name": process.name,
                "roles": cluster.roles_of(process, seen.lease_holders),
                "started_at": process.started_at.isoformat(),
                "seen_seconds_ago": round((now - process.seen_at).total_seconds()),
                "last_sweep_at": process.last_sweep_at and process.last_sweep_at.isoformat(),
                "last_sweep_sent": process.last_sweep_sent,
            }
            for process in seen.processes
        ],
    }


def _text(report: dict[str, Any]) -> str:
    current = "current" if report["schema_current"] else "NOT current: run certmate db upgrade"
    lines = [f"database  {report['database']} (revision {report['revision']}, {current})"]
    pending = report["updates"]["pending"]
    waiting = ", ".join(f"{channel} {count}" for channel, count in pending.items()) or "none"
    oldest = report["updates"]["oldest_pending_seconds"]
    lines.append(f"updates   pending: {waiting}" + (f" (oldest {oldest} s)" if oldest else ""))
    if report["updates"]["dead"]:
        kinds = ", ".join(f"{error} x{n}" for error, n in report["updates"]["dead_errors"].items())
        lines.append(
            f"          dead: {report['updates']['dead']} (given up, kept sealed; oldest"
            f" {report['updates']['oldest_dead_at']}): {kinds}"
        )
    counts = ", ".join(f"{status} {count}" for status, count in report["reminders"].items())
    lines.append(f"reminders {counts or 'none'}")
    processes = report["processes"]
    lines.append(f"processes {len(processes)} alive")
    for process in processes:
        sweep = (
            f"last sweep {process['last_sweep_at']} ({process['last_sweep_sent']} sent)"
            if process["last_sweep_at"] else "no sweep yet"
        )  # fmt: skip
        roles = f" [{', '.join(process['roles'])}]" if process["roles"] else ""
        lines.append(
            f"  {process['name']}{roles}: seen {process['seen_seconds_ago']} s ago, {sweep}"
        )
    return "\n".join(lines)
