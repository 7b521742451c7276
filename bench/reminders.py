"""Benchmark: planning and claiming a reminder sweep, and how its cost grows.

Seeds N certificates over N/2 users with a share of them due, then times
the two database phases of a sweep on SQLite and (when a server answers)
PostgreSQL: planning (the due certificates into the outbox) and claiming
(every due outbox row, in the sweep's batches, with leases). Three runs side
by side: the base (1,000,000 certificates, 1% due), ten times the due rows,
and ten times the table at the base due count. If the cost follows the due
rows and not the table size, the second ratio is near 10x and the third
near 1x.

    python bench/reminders.py [--scale 0.1] [--engines sqlite,postgresql] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from bench.services import services_over
from bench.storage import postgres_database, sqlite_database
from bot.reminders.sweep import CLAIM_BATCH, LEASE, Sweeper
from handlers.dates import SEOUL
from storage import migrate, reminders
from storage.database import Database
from storage.models import Certificate, Channel, User

NOW = datetime(2026, 6, 1, 9, 5, tzinfo=SEOUL)
DUE_EXPIRY = datetime(2026, 7, 1, 14, 59, 59, tzinfo=UTC)  # D-30 at NOW
LATER_EXPIRY = datetime(2027, 3, 1, 14, 59, 59, tzinfo=UTC)  # nothing due for months
BATCH = 10_000


async def seed(db: Database, total: int, due: int) -> float:
    """`total` certificates over total/2 users; `due` of them reach D-30 at NOW."""
    started = time.perf_counter()
    users = max(total // 2, 1)
    registered = NOW - timedelta(days=60)
    async with db.write() as session:
        for first in range(1, users + 1, BATCH):
            await session.execute(
                sa.insert(User),
                [{"id": i, "channel": Channel.TELEGRAM, "user_key": str(i), "locale": "ko",
                  "timezone": "Asia/Seoul", "reminders_enabled": True, "reachable": True,
                  "created_at": registered, "updated_at": registered}
                 for i in range(first, min(first + BATCH, users + 1))],
            )  # fmt: skip
    step = max(total // due, 1)
    for first in range(1, total + 1, BATCH):
        async with db.write() as session:
            rows = []
            for i in range(first, min(first + BATCH, total + 1)):
                is_due = i % step == 0
                rows.append(
                    {"id": i, "owner_id": 1 + i % users, "fingerprint": f"{i:064x}",
                     "subject": f"cn=u{i}", "holder": f"u{i}", "ca": "yessign", "usage": "bank",
                     "holder_type": "personal", "serial": "1", "status": "active",
                     "not_before": registered,
                     "not_after": DUE_EXPIRY if is_due else LATER_EXPIRY,
                     "has_private_key": False, "reminders_enabled": True,
                     "next_reminder_at": NOW - timedelta(minutes=5) if is_due
                     else LATER_EXPIRY - timedelta(days=30),
                     "created_at": registered, "updated_at": registered}
                )  # fmt: skip
            await session.execute(sa.insert(Certificate), rows)
    async with db.write() as session:
        await session.execute(sa.text("ANALYZE"))
    return total / (time.perf_counter() - started)


async def measure(db: Database) -> dict[str, float]:
    """Seconds to plan the due certificates, and to claim every due outbox row."""
    services = services_over(db, lambda: NOW)
    sweeper = Sweeper(services, {}, "bench")
    started = time.perf_counter()
    planned = await sweeper.plan(NOW)
    plan_s = time.perf_counter() - started
    started = time.perf_counter()
    claimed = 0
    cursor = None
    while True:
        async with db.write() as session:
            batch = await reminders.claim_due(
                session, now=NOW, lease_owner="bench", lease=LEASE, limit=CLAIM_BATCH,
                channels=[Channel.TELEGRAM], after=cursor,
            )  # fmt: skip
        if not batch.rows:
            break
        claimed += len(batch.rows)
        cursor = batch.cursor
    claim_s = time.perf_counter() - started
    return {"planned": planned, "claimed": claimed, "plan_s": plan_s, "claim_s": claim_s}


@asynccontextmanager
async def engine(name: str) -> AsyncIterator[Database | None]:
    factory = sqlite_database if name == "sqlite" else postgres_database
    async with factory() as db:
        yield db


async def run(args: argparse.Namespace) -> dict[str, Any]:
    base_total = int(1_000_000 * args.scale)
    base_due = max(base_total // 100, 1)
    cases = {
        "base": (base_total, base_due),
        "10x due": (base_total, base_due * 10),
        "10x table": (base_total * 10, base_due),
    }
    results: dict[str, Any] = {}
    for name in args.engines.split(","):
        results[name] = {}
        for case, (total, due) in cases.items():
            async with engine(name) as db:
                if db is None:
                    results[name] = {"skipped": "no PostgreSQL server"}
                    break
                await migrate.upgrade(db)
                rate = await seed(db, total, due)
                figures = await measure(db)
                results[name][case] = {"total": total, "due": due, "seed_rows_per_s": round(rate)}
                results[name][case] |= {k: round(v, 3) for k, v in figures.items()}
            if args.progress:
                print(f"  {name} {case}: {results[name][case]}", file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: a million certificates")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    if args.json:
        print(json.dumps(results))
        return
    for name, cases in results.items():
        if "skipped" in cases:
            print(f"{name}: skipped ({cases['skipped']})")
            continue
        base = cases["base"]
        print(f"{name}:")
        for case, f in cases.items():
            total = f["plan_s"] + f["claim_s"]
            ratio = total / (base["plan_s"] + base["claim_s"])
            print(
                f"  {case:9}: {f['total']:>9} certificates, {f['due']:>7} due | plan "
                f"{f['plan_s']:7.2f} s | claim {f['claim_s']:7.2f} s | {ratio:5.1f}x base"
            )


if __name__ == "__main__":
    main()
