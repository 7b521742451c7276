"""Reminders across real processes: `certmate remind` killed at random points, and two at once.

The short forms run in the suite; the long ones (50 kills, 10,000 reminders)
carry the `slow` marker: `pytest -m slow tests/bot/reminders`.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col

from bot.reminders.sweep import DELIVER_AT_ONCE
from handlers.dates import SEOUL
from storage import migrate
from storage.database import Database
from storage.models import Notice, Reminder, ReminderStatus
from tests.bot.reminders.conftest import seed

D30_MORNING = datetime(2026, 6, 1, 9, 5, tzinfo=SEOUL)
LEASE_PASSED = timedelta(minutes=6)


def _env(database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMATE_")}
    return env | {
        "CERTMATE_DATABASE__URL": database_url,
        "CERTMATE_VAULT__KEY_FILE": str(tmp_path / "master.key"),
    }


def _remind(now: datetime) -> list[str]:
    return [sys.executable, "-m", "bot", "remind", "--json", "--now", now.isoformat()]


async def _deliveries(database: Database) -> Counter[str]:
    """How many times each certificate was delivered (one notice per delivery)."""
    async with database.read() as session:
        rows = (await session.scalars(sa.select(Notice))).all()
    return Counter(fingerprint for row in rows for fingerprint in row.certificates)


async def _unsent(database: Database) -> int:
    async with database.read() as session:
        return int(
            await session.scalar(
                sa.select(sa.func.count()).where(col(Reminder.status) != ReminderStatus.SENT)
            )
            or 0
        )


async def _prepare(database_url: str, users: int) -> Database:
    database = Database.connect(database_url)
    await migrate.upgrade(database)
    from storage.models import Channel  # noqa: PLC0415

    await seed(database, users, channel=Channel.CONSOLE)
    return database


async def _crash_loop(database_url: str, tmp_path: Path, users: int, kills: int) -> None:
    database = await _prepare(database_url, users)
    env = _env(database_url, tmp_path)
    rng = random.Random(20261125)  # noqa: S311  (kill timing, not security)
    now = D30_MORNING
    killed_mid_run = 0
    for _ in range(kills):
        with subprocess.Popen(  # noqa: ASYNC220  (the test drives real processes)
            _remind(now), env=env, cwd=tmp_path,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ) as process:  # fmt: skip
            await asyncio.sleep(rng.uniform(0.3, 2.5))
            if process.poll() is None:
                killed_mid_run += 1
            process.send_signal(signal.SIGKILL)
        now += LEASE_PASSED  # the next run may take over what the killed one had claimed
    finish = await asyncio.to_thread(
        subprocess.run, _remind(now), env=env, cwd=tmp_path, capture_output=True, check=False
    )
    assert finish.returncode == 0, finish.stderr
    delivered = await _deliveries(database)
    assert len(delivered) == users, "every due reminder was delivered"
    # At least once: a kill repeats only the messages it cut off between their send and
    # their mark, at most DELIVER_AT_ONCE of them (a row cut off by two kills in a row,
    # which the next run sends first, goes out three times).
    repeated = sum(delivered.values()) - len(delivered)
    assert repeated <= DELIVER_AT_ONCE * killed_mid_run, delivered.most_common(10)
    assert await _unsent(database) == 0
    assert killed_mid_run > 0, "some kills must land while the sweep was working"
    await database.close()


async def test_killed_at_random_points_loses_nothing(database_url: str, tmp_path: Path) -> None:
    """SIGKILL `certmate remind` 6 times mid-sweep: every reminder arrives; a kill repeats
    only what it cut off between send and mark."""
    await _crash_loop(database_url, tmp_path, users=150, kills=6)


@pytest.mark.slow
async def test_killed_fifty_times_loses_nothing(database_url: str, tmp_path: Path) -> None:
    """The long form: 50 kills at random points over 400 due reminders."""
    await _crash_loop(database_url, tmp_path, users=400, kills=50)


async def _two_at_once(database_url: str, tmp_path: Path, users: int) -> None:
    database = await _prepare(database_url, users)
    env = _env(database_url, tmp_path)

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            _remind(D30_MORNING), env=env, cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    with start() as first:
        await _until_claiming(database)  # the second starts while the first is at work
        with start() as second:
            outputs = await asyncio.gather(
                *(asyncio.to_thread(process.communicate) for process in (first, second))
            )
    assert (first.returncode, second.returncode) == (0, 0), [err for _out, err in outputs]
    printed = [
        json.loads(line)["certificate"] for out, _err in outputs for line in out.splitlines()
    ]
    delivered = await _deliveries(database)
    assert len(printed) == len(set(printed)) == users
    assert set(delivered.values()) == {1}
    assert len(delivered) == users
    await database.close()


async def _until_claiming(database: Database) -> None:
    for _ in range(3000):
        async with database.read() as session:
            busy = await session.scalar(
                sa.select(sa.func.count()).where(col(Reminder.status) != ReminderStatus.PENDING)
            )
        if busy:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the first sweep never started")


async def test_two_processes_at_once_send_each_reminder_once(
    database_url: str, tmp_path: Path
) -> None:
    """Two `certmate remind` processes sweeping 600 due reminders at once: zero duplicates."""
    await _two_at_once(database_url, tmp_path, 600)


@pytest.mark.slow
async def test_two_processes_over_10000_reminders(database_url: str, tmp_path: Path) -> None:
    """The long form: 10,000 due reminders, two processes, zero duplicates."""
    await _two_at_once(database_url, tmp_path, 10_000)
