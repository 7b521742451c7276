"""Benchmark: the reminder sweep's due query over 100,000 certificates, indexed vs full scan.

Seeds 100,000 certificates for 50,000 users (1,000 of them due), then times
`storage.certificates.due` — the query the sweep runs — on SQLite and, when
a server answers, PostgreSQL. The baseline, in the same run on the same
data, is the same query with indexes switched off (SQLite `NOT INDEXED`,
PostgreSQL `enable_indexscan/bitmapscan = off`). Prints seeding rows/s,
medians, the ratio and the query plan.

    python bench/storage.py [--certificates N] [--users N] [--due N] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
import sqlalchemy as sa
from sqlmodel import select

from storage import certificates, migrate
from storage.database import Database
from storage.models import Certificate, User

NOW = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
BATCH = 5_000
POSTGRES = os.environ.get(
    "CERTMATE_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


async def seed(db: Database, users: int, total: int, due: int) -> float:
    """Insert users and certificates in batches; returns certificate rows per second."""
    started = time.perf_counter()
    async with db.write() as session:
        for first in range(1, users + 1, BATCH):
            await session.execute(
                sa.insert(User),
                [{"id": i, "channel": "telegram", "user_key": str(i), "locale": "ko",
                  "timezone": "Asia/Seoul", "reminders_enabled": True, "reachable": True,
                  "created_at": NOW, "updated_at": NOW}
                 for i in range(first, min(first + BATCH, users + 1))],
            )  # fmt: skip
    for first in range(1, total + 1, BATCH):
        async with db.write() as session:
            await session.execute(
                sa.insert(Certificate),
                [_certificate(i, users, total, due)
                 for i in range(first, min(first + BATCH, total + 1))],
            )  # fmt: skip
    elapsed = time.perf_counter() - started
    async with db.write() as session:
        await session.execute(sa.text("ANALYZE"))
    return total / elapsed


def _certificate(i: int, users: int, total: int, due: int) -> dict[str, Any]:
    """Every `total // due`-th certificate is due; the rest are planned later, or have no plan."""
    is_due = i % (total // due) == 0
    if is_due:
        next_at: datetime | None = NOW - timedelta(minutes=i % 600)
    elif i % 3:
        next_at = NOW + timedelta(days=1 + i % 300)
    else:
        next_at = None
    return {
        "id": i, "owner_id": 1 + i % users, "fingerprint": f"{i:064x}",
        "subject": f"cn=user{i}()00{i:014d},ou=personal4IB,o=yessign,c=kr", "holder": f"user{i}",
        "ca": "yessign", "policy_oid": "1.2.410.200005.1.1.4", "usage": "bank",
        "holder_type": "personal", "serial": format(i, "x"),
        "not_before": NOW - timedelta(days=300), "not_after": NOW + timedelta(days=65),
        "status": "active" if is_due or i % 10 else "replaced", "has_private_key": True,
        "key_encryption": "seed-cbc-sha1", "reminders_enabled": True,
        "next_reminder_at": next_at, "created_at": NOW, "updated_at": NOW,
    }  # fmt: skip


async def median_ms(action: Callable[[], Awaitable[int]], runs: int, expected: int) -> float:
    await action()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        found = await action()
        samples.append(time.perf_counter() - started)
        if found != expected:
            raise RuntimeError(f"the query found {found} rows, expected {expected}")
    return statistics.median(samples) * 1000


async def measure(db: Database, due: int, runs: int) -> dict[str, Any]:
    """Time the due query (ORM objects, as the sweep gets them, and bare rows), indexed vs not."""
    limit = due * 2
    sql = str(
        certificates.due_query(NOW, limit).compile(
            dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}
        )
    )
    unindexed_sql = sql.replace("FROM certificates", "FROM certificates NOT INDEXED")

    def query(*, use_index: bool, objects: bool) -> Callable[[], Awaitable[int]]:
        async def run() -> int:
            async with db.read() as session:
                if not use_index and not db.is_sqlite:
                    for setting in (
                        "enable_indexscan",
                        "enable_bitmapscan",
                        "enable_indexonlyscan",
                    ):
                        await session.execute(sa.text(f"SET LOCAL {setting} = off"))
                text = sql if use_index or not db.is_sqlite else unindexed_sql
                if objects and text is sql:
                    return len(await certificates.due(session, NOW, limit))
                if objects:
                    statement = select(Certificate).from_statement(sa.text(text))
                    return len((await session.scalars(statement)).all())
                return len((await session.execute(sa.text(text))).all())

        return run

    explain = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN "
    async with db.read() as session:
        plan = [
            " ".join(str(v) for v in row) for row in await session.execute(sa.text(explain + sql))
        ]
    figures: dict[str, Any] = {}
    for label, objects in (("objects", True), ("rows", False)):
        indexed = await median_ms(query(use_index=True, objects=objects), runs, due)
        scan = await median_ms(query(use_index=False, objects=objects), max(runs // 4, 3), due)
        figures[label] = {
            "indexed_ms": round(indexed, 2),
            "full_scan_ms": round(scan, 2),
            "ratio": round(scan / indexed, 1),
        }
    return figures | {
        "uses_index": any("ix_certificates_due" in line for line in plan),
        "plan": plan,
    }


@asynccontextmanager
async def sqlite_database() -> AsyncIterator[Database]:
    with tempfile.TemporaryDirectory() as folder:
        db = Database.connect(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")
        try:
            yield db
        finally:
            await db.close()


@asynccontextmanager
async def postgres_database() -> AsyncIterator[Database | None]:
    url = sa.make_url(POSTGRES)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        yield None
        return
    name = f"certmate_bench_{secrets.token_hex(4)}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    db = Database.connect(url.set(database=name).render_as_string(hide_password=False))
    try:
        yield db
    finally:
        await db.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    engines = {"sqlite": sqlite_database, "postgresql": postgres_database}
    for name in args.engines.split(","):
        async with engines[name]() as db:
            if db is None:
                results[name] = {"skipped": f"no server at {sa.make_url(POSTGRES)}"}
                continue
            await migrate.upgrade(db)
            rate = await seed(db, args.users, args.certificates, args.due)
            results[name] = {"seed_rows_per_s": round(rate)} | await measure(
                db, args.due, args.runs
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    if args.json:
        print(json.dumps(results))
        return
    print(
        f"due query: {args.due} due among {args.certificates} certificates "
        f"of {args.users} users (median of {args.runs})"
    )
    for engine, figures in results.items():
        if "skipped" in figures:
            print(f"  {engine:10}: skipped ({figures['skipped']})")
            continue
        print(f"  {engine}: seeded at {figures['seed_rows_per_s']} rows/s")
        for label in ("objects", "rows"):
            f = figures[label]
            print(
                f"    due query, {label:7}: {f['indexed_ms']:7.2f} ms with the index | "
                f"{f['full_scan_ms']:7.2f} ms full scan | {f['ratio']:5.1f}x"
            )
        for line in figures["plan"]:
            print(f"      plan: {line}")


if __name__ == "__main__":
    main()
