"""Reminder leases under a long sweep, a stop and a database outage.

The sweeper's clock is a fake one that the recording notifier moves forward
at every send, so a sweep "lasts" minutes without the test waiting for them.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col

from bot.reminders.sweep import Sweeper
from handlers.dates import SEOUL
from handlers.messages import Reply
from storage import migrate, reminders
from storage.database import Database
from storage.models import Channel, Reminder, ReminderStatus, User
from tests.bot.reminders.conftest import seed, services_for
from tests.conftest import PostgresDatabases
from tests.faults import FlakyProxy

D30_MORNING = datetime(2026, 6, 1, 9, 5, tzinfo=SEOUL)


@dataclass
class FakeClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Slow:
    """A notifier that takes `step` of the fake clock per send and calls `at[n]` (once)
    when the n-th send starts."""

    clock: FakeClock
    step: timedelta = timedelta(seconds=1)
    at: dict[int, Callable[[], None]] = field(default_factory=dict)
    sent: list[str] = field(default_factory=list)

    async def send(
        self, user: User, message: Reply, certificates: Sequence[str], now: datetime
    ) -> str:
        del message, now
        started = len(self.sent) + 1
        self.clock.now += self.step
        self.sent.extend(certificates)
        if started in self.at:
            self.at.pop(started)()
        await asyncio.sleep(0)
        return f"{user.user_key}-{started}"


async def _statuses(database: Database) -> dict[ReminderStatus, int]:
    async with database.read() as session:
        return await reminders.count_by_status(session)


async def test_a_sweeper_started_late_takes_nothing_a_long_sweep_holds(
    database: Database,
) -> None:
    """A sweep of 400 messages at 1 s each (6 min 40 s): a second sweeper starting
    at 5 min 20 s finds no lease expired, because leases run from each claim and are
    renewed, not from the sweep's start. Every reminder is sent exactly once."""
    await seed(database, 400)
    clock = FakeClock(D30_MORNING)
    services = services_for(database)
    first = Slow(clock)
    second = Slow(clock)
    late: list[asyncio.Task[object]] = []
    sweeper_b = Sweeper(services, {Channel.TELEGRAM: second}, "b", clock=clock)
    first.at[320] = lambda: late.append(asyncio.create_task(sweeper_b.run(clock())))
    sweeper_a = Sweeper(services, {Channel.TELEGRAM: first}, "a", clock=clock)

    await sweeper_a.run(D30_MORNING)
    await asyncio.gather(*late)

    assert late, "the second sweeper started mid-sweep"
    counts = Counter(first.sent + second.sent)
    assert len(counts) == 400
    assert max(counts.values()) == 1, f"{sum(counts.values()) - 400} sent twice"
    assert await _statuses(database) == {ReminderStatus.SENT: 400}


async def test_a_stopped_sweep_marks_what_it_sent_and_releases_the_rest(
    database: Database,
) -> None:
    """`stop()` in the middle of a sweep: what went out is marked sent, nothing stays
    claimed, the rest is pending again without a counted attempt, and another sweeper
    takes it at once (no lease to wait out): each reminder once in all."""
    await seed(database, 300)
    clock = FakeClock(D30_MORNING)
    services = services_for(database)
    first = Slow(clock)
    sweeper = Sweeper(services, {Channel.TELEGRAM: first}, "a", clock=clock)
    first.at[120] = sweeper.stop

    await sweeper.run(D30_MORNING)

    statuses = await _statuses(database)
    assert ReminderStatus.SENDING not in statuses
    assert statuses[ReminderStatus.SENT] == len(first.sent) < 300
    assert statuses[ReminderStatus.PENDING] == 300 - len(first.sent)
    async with database.read() as session:
        attempts = set(
            await session.scalars(
                sa.select(col(Reminder.attempts)).where(
                    col(Reminder.status) == ReminderStatus.PENDING
                )
            )
        )
    assert attempts == {0}
    assert await sweeper.run(D30_MORNING) == [], "a stopped sweeper starts no sweep"

    second = Slow(clock)
    await Sweeper(services, {Channel.TELEGRAM: second}, "b", clock=clock).run(D30_MORNING)
    assert sorted(first.sent + second.sent) == sorted(set(first.sent + second.sent))
    assert len(first.sent) + len(second.sent) == 300


async def test_a_database_outage_mid_sweep_fails_no_reminder(
    postgres_databases: PostgresDatabases,
) -> None:
    """PostgreSQL goes away for 2 s in the middle of a sweep (every connection cut, new
    ones refused): the sweep retries what the outage touched and carries on; every
    reminder is sent exactly once and marked, none is left claimed or late."""
    url = await postgres_databases.create()
    try:
        async with FlakyProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
            database = Database.connect(
                url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
            )
            try:
                await migrate.upgrade(database)
                await seed(database, 300)
                clock = FakeClock(D30_MORNING)
                notifier = Slow(clock, step=timedelta(milliseconds=100))
                outage: list[asyncio.Task[None]] = []
                notifier.at[100] = lambda: outage.append(asyncio.create_task(proxy.outage(2)))
                sweeper = Sweeper(
                    services_for(database), {Channel.TELEGRAM: notifier}, "a", clock=clock
                )
                deliveries = await sweeper.run(D30_MORNING)
                await asyncio.gather(*outage)
                assert proxy.cuts == 1
                assert len(deliveries) == 300
                assert Counter(notifier.sent).most_common(1)[0][1] == 1
                assert await _statuses(database) == {ReminderStatus.SENT: 300}
            finally:
                await database.close()
    finally:
        await postgres_databases.drop(url)
