"""SIGTERM in the middle of a reminder sweep of `certmate run` (a real process, the
local fake Bot API at the edge)."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import col

from storage import migrate
from storage.database import Database
from storage.models import Channel, Reminder, ReminderStatus
from tests.bot.processes import telegram_env
from tests.bot.reminders.conftest import seed
from tests.conftest import free_port
from tests.fakes.telegram import FakeBotApi

USERS = 300


async def test_sigterm_mid_sweep_marks_what_was_sent_and_releases_the_rest(
    database_url: str, tmp_path: Path
) -> None:
    """`certmate run` is sending 300 due reminders at Telegram's 30/s when SIGTERM comes:
    it exits within 10 s, every message that reached Telegram is marked sent, and
    nothing is left claimed (no lease to wait out: the next process sends the rest at
    once). Before, the sweep was cancelled and its claimed rows waited out the lease."""
    database = Database.connect(database_url)
    await migrate.upgrade(database)
    expiry = datetime.now(UTC) + timedelta(days=20)  # the D-30 slot is due, nothing else
    await seed(database, USERS, channel=Channel.TELEGRAM, expiry=expiry, key_prefix="")
    async with FakeBotApi() as api:
        env = telegram_env(api)
        env |= {
            "CERTMATE_DATABASE__URL": database_url,
            "CERTMATE_VAULT__KEY_FILE": str(tmp_path / "master.key"),
            "CERTMATE_HTTP__PORT": str(free_port()),
            "CERTMATE_REMINDERS__QUIET_START": "00:00",  # no quiet hours, whatever the hour
            "CERTMATE_REMINDERS__QUIET_END": "00:00",
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run",
            cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await api.wait_for(lambda: len(api.calls_of("sendMessage")) >= 60, timeout=60)
            process.send_signal(signal.SIGTERM)
            started = time.monotonic()
            _out, err = await asyncio.wait_for(process.communicate(), timeout=30)
            stopped_in = time.monotonic() - started
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        delivered = sum(len(api.sent_messages(user)) for user in range(1, USERS + 1))
    async with database.read() as session:
        rows = (
            await session.execute(sa.select(col(Reminder.status), col(Reminder.lease_owner)))
        ).all()
    await database.close()
    log = err.decode()[-3000:]
    assert process.returncode == 0, log
    assert stopped_in < 10, log
    statuses = [status for status, _owner in rows]
    assert ReminderStatus.SENDING not in statuses, log
    assert statuses.count(ReminderStatus.SENT) == delivered < USERS
    assert statuses.count(ReminderStatus.PENDING) == USERS - delivered
    assert {owner for status, owner in rows if status is ReminderStatus.PENDING} == {None}
