"""The poller lease in one process (two leases stand for two processes), and the 409 log.

The leases use a real database (each engine), short settings and the real clock;
the polling they guard is a stand-in that only says whether it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
import telegram

from bot.channels.telegram_poller import PollerLease, poll_updates
from bot.config import ConfigError, TelegramSettings
from storage import migrate
from storage.database import Database
from tests.conftest import PostgresDatabases
from tests.fakes.telegram import TOKEN, FakeBotApi
from tests.faults import FlakyProxy

LEASE = timedelta(seconds=1.5)
EVERY = timedelta(seconds=0.3)


def _now() -> datetime:
    return datetime.now(UTC)


class Polls:
    """The polling a lease guards: who polls now, and whether two ever did at once."""

    def __init__(self) -> None:
        self.now: set[str] = set()
        self.most = 0

    async def poll(self, owner: str) -> None:
        self.now.add(owner)
        self.most = max(self.most, len(self.now))
        try:
            await asyncio.Event().wait()
        finally:
            self.now.discard(owner)


@contextlib.asynccontextmanager
async def _running(lease: PollerLease) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(lease.run())
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _until(done: Callable[[], bool], within: float) -> float:
    started = time.monotonic()
    while not done():
        assert time.monotonic() - started < within, "never happened"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def _lease(database: Database, owner: str, polls: Polls) -> PollerLease:
    return PollerLease(database, owner, partial(polls.poll, owner), _now, lease=LEASE, every=EVERY)


async def test_one_of_two_polls_and_a_stop_hands_over_within_one_try(
    database: Database,
) -> None:
    """Two processes' leases on one database: one polls; cancelling it (a stop) frees
    the lease, and the other polls within one try, long before the lease would end."""
    polls = Polls()
    first, second = _lease(database, "a", polls), _lease(database, "b", polls)
    async with _running(first) as running_first, _running(second):
        await _until(lambda: polls.now == {"a"}, 5)
        await asyncio.sleep(1)
        assert polls.now == {"a"}
        running_first.cancel()
        took = await _until(lambda: polls.now == {"b"}, 5)
        assert took < EVERY.total_seconds() + 0.3 < LEASE.total_seconds()
    assert polls.most == 1


async def test_a_poller_cut_from_the_database_stops_before_another_takes_over(
    postgres_databases: PostgresDatabases,
) -> None:
    """The poller loses the database (every connection cut, new ones refused) for 3 s,
    twice the lease: it stops polling before its lease can expire, so when the other
    process takes the lease over, two never poll at once (keeping on would have meant
    two pollers and the 409 fight). It polls again once it can hold the lease."""
    url = await postgres_databases.create()
    try:
        async with FlakyProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
            cut = Database.connect(
                url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
            )
            direct = Database.connect(url.render_as_string(hide_password=False))
            try:
                await migrate.upgrade(direct)
                polls = Polls()
                async with _running(_lease(cut, "a", polls)):
                    await _until(lambda: polls.now == {"a"}, 5)
                    async with _running(_lease(direct, "b", polls)):
                        await asyncio.sleep(0.5)
                        outage = asyncio.create_task(proxy.outage(3))
                        await _until(lambda: polls.now == {"b"}, LEASE.total_seconds() + 1)
                        await outage
                    await _until(lambda: polls.now == {"a"}, 5)
                assert polls.most == 1
            finally:
                await cut.close()
                await direct.close()
    finally:
        await postgres_databases.drop(url)


async def test_a_conflict_is_logged_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    """A webhook is set (or a poller outside this database polls): getUpdates is answered
    409 at every retry, the log says so once a minute, with the count."""
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]

    async def record(_batch: object) -> None:
        raise AssertionError("nothing arrives while in conflict")

    async with (
        FakeBotApi() as api,
        telegram.Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url) as bot,
    ):
        await bot.set_webhook("https://certmate.example/telegram/webhook")
        caplog.set_level(logging.WARNING, logger="certmate.telegram")
        polling = asyncio.create_task(
            poll_updates(bot, record, lambda: clock[0], long_poll=0, retry=0.01)
        )
        try:
            await api.wait_for(lambda: len(api.calls_of("getUpdates")) >= 20, timeout=10)
            assert len([r for r in caplog.records if "409" in r.getMessage()]) == 1
            clock[0] += timedelta(minutes=1)
            await _until(lambda: sum("409" in r.getMessage() for r in caplog.records) == 2, 5)
        finally:
            polling.cancel()
            await asyncio.gather(polling, return_exceptions=True)
    again = [r.getMessage() for r in caplog.records if "409" in r.getMessage()][1]
    assert "(0 more" not in again


def test_the_lease_must_outlast_its_renewals() -> None:
    """A lease renewed no sooner than it ends would pass from hand to hand."""
    with pytest.raises(ConfigError, match="poll_try_seconds"):
        TelegramSettings(poll_lease_seconds=10, poll_try_seconds=10)
