"""The Event API's pacing: one schedule for every process of the bot, held on a 429.

On a fake clock, one notifier books a slot per request at the configured rate and a
429 holds the schedule for its Retry-After. On real PostgreSQL, two "processes" (two
engines, two `DatabasePacer`s, two HTTP sessions, one event loop) send to the local
fake Event API at once and keep the rate together, and a 429 one of them meets makes
the other wait too. Rates are measured where Kakao would see them: at the fake.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Final

import aiohttp
import pytest
import sqlalchemy as sa

from bot.channels.kakao_events import DEFAULT_HOLD, MAX_HOLD, KakaoEventNotifier
from bot.channels.pacer import LocalPacer, Pacer
from bot.pacing import DatabasePacer
from bot.reminders.notifiers import NotifierError
from handlers.messages import Reply
from storage import migrate
from storage.database import Database
from storage.models import Channel, User
from tests.conftest import PostgresDatabases
from tests.fakes.kakao_events import API_KEY, BOT_ID, FakeKakaoEventApi

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
REMINDER = Reply("홍길동님의 공동인증서가 30일 뒤 만료됩니다.")
RATE = 20.0
PER_PROCESS = 20


class FakeTime:
    """A clock that stands still; sleeps are recorded, not waited."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def user(number: int) -> User:
    key = f"bot-user-key-{number:04d}"
    return User(id=number, channel=Channel.KAKAO, user_key=key, created_at=NOW, updated_at=NOW)


def notifier(
    api: FakeKakaoEventApi, session: aiohttp.ClientSession, pacer: Pacer, time: FakeTime | None
) -> KakaoEventNotifier:
    return KakaoEventNotifier(
        session,
        api_key=API_KEY,
        bot_id=BOT_ID,
        base_url=api.url,
        per_second=RATE,
        pacer=pacer,
        sleep=time.sleep if time is not None else asyncio.sleep,
    )


def rate(arrivals: Sequence[float]) -> float:
    """Requests a second from the first arrival to the last."""
    return (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])


@pytest.fixture
async def api() -> AsyncIterator[FakeKakaoEventApi]:
    async with FakeKakaoEventApi() as fake:
        yield fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


# --- one process, on a fake clock ---------------------------------------------------------


async def test_reminders_at_once_each_wait_for_their_own_slot(
    api: FakeKakaoEventApi, session: aiohttp.ClientSession
) -> None:
    """40 reminders sent at once through one notifier at 20/s: the first goes at once,
    each other waits for a slot of its own, 1/20 s after the one before, so the 40 take
    1.95 s and never go faster."""
    time = FakeTime()
    sender = notifier(api, session, LocalPacer(time), time)

    await asyncio.gather(*(sender.send(user(n), REMINDER, [], NOW) for n in range(40)))

    assert len(api.requests) == 40
    assert sorted(time.slept) == pytest.approx([n / RATE for n in range(1, 40)])


TOO_MANY: Final = 429
LIMITS: Final = {
    "seconds": ((TOO_MANY, None, {"Retry-After": "3"}), 3.0),
    "fraction": ((TOO_MANY, None, {"Retry-After": "0.5"}), 0.5),
    "none": ((TOO_MANY, None, {}), DEFAULT_HOLD),
    "http-date": ((TOO_MANY, None, {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}), DEFAULT_HOLD),
    "negative": ((TOO_MANY, None, {"Retry-After": "-4"}), DEFAULT_HOLD),
    "absurd": ((TOO_MANY, None, {"Retry-After": "99999999"}), MAX_HOLD),
    "quota": ((400, {"code": -10, "msg": "API limit has been exceeded."}, {}), DEFAULT_HOLD),
}
"""Kakao's answer (status, body, headers) that asks to slow down, and the hold it means."""


@pytest.mark.parametrize(("answer", "hold"), LIMITS.values(), ids=LIMITS.keys())
async def test_a_rate_limit_holds_the_schedule_for_its_retry_after(
    api: FakeKakaoEventApi,
    session: aiohttp.ClientSession,
    answer: tuple[int, dict[str, object] | None, dict[str, str]],
    hold: float,
) -> None:
    """A 429 (or Kakao's quota answer, code -10) is a NotifierError, retried later, and
    the next request waits the seconds Retry-After names: DEFAULT_HOLD when it names
    none (absent, a date, not a positive number), MAX_HOLD at most."""
    time = FakeTime()
    sender = notifier(api, session, LocalPacer(time), time)
    status, body, headers = answer
    api.answer_next(status, body, headers=headers)

    with pytest.raises(NotifierError):
        await sender.send(user(1), REMINDER, [], NOW)
    await sender.send(user(2), REMINDER, [], NOW)

    assert time.slept == [pytest.approx(hold)]
    assert [request["status"] for request in api.requests] == [status, 200]


# --- several processes, one PostgreSQL ----------------------------------------------------


async def _processes(
    postgres_databases: PostgresDatabases, count: int
) -> tuple[list[Database], sa.URL]:
    url = await postgres_databases.create()
    databases = [Database.connect(url.render_as_string(hide_password=False)) for _ in range(count)]
    await migrate.upgrade(databases[0])
    return databases, url


async def _send_at_once(
    api: FakeKakaoEventApi, pacers: Sequence[Pacer], each: int = PER_PROCESS
) -> list[float]:
    """Each pacer's process sends `each` reminders at once through its own HTTP
    session; when each accepted one reached the fake."""

    async def process(number: int, pacer: Pacer) -> None:
        async with aiohttp.ClientSession() as session:
            sender = notifier(api, session, pacer, None)
            users = range(number * 1000, number * 1000 + each)
            await asyncio.gather(*(sender.send(user(n), REMINDER, [], NOW) for n in users))

    await asyncio.gather(*(process(n, pacer) for n, pacer in enumerate(pacers)))
    return [request["at"] for request in api.requests if request["status"] == 200]


async def test_two_processes_keep_the_configured_rate_together(
    api: FakeKakaoEventApi, postgres_databases: PostgresDatabases
) -> None:
    """Two processes sending 20 reminders each at once, at 20/s configured: Kakao sees
    20/s (within 10%), not 40/s, and no second holds more than 22 requests (21 on time;
    a send that leaves late, as the first ones do while their connections open, may
    bunch with the next)."""
    databases, url = await _processes(postgres_databases, 2)
    try:
        arrivals = await _send_at_once(api, [DatabasePacer(database) for database in databases])
    finally:
        for database in databases:
            await database.close()
        await postgres_databases.drop(url)

    assert len(arrivals) == 2 * PER_PROCESS
    assert rate(arrivals) == pytest.approx(RATE, rel=0.1)
    busiest = max(sum(1 for t in arrivals if start <= t <= start + 1) for start in arrivals)
    assert busiest <= RATE + 2


async def test_processes_pacing_alone_send_twice_the_rate(api: FakeKakaoEventApi) -> None:
    """What the shared schedule answers: two processes each pacing in memory keep 20/s
    each, so Kakao sees about 40/s."""
    arrivals = await _send_at_once(api, [LocalPacer(), LocalPacer()])

    assert len(arrivals) == 2 * PER_PROCESS
    assert rate(arrivals) == pytest.approx(2 * RATE, rel=0.1)


async def test_a_429_met_by_one_process_makes_the_other_wait(
    api: FakeKakaoEventApi, postgres_databases: PostgresDatabases
) -> None:
    """Kakao answers one process's request 429 with Retry-After: 1; the reminders both
    processes send next reach Kakao only after that second, then at the rate."""
    databases, url = await _processes(postgres_databases, 2)
    try:
        first, second = (DatabasePacer(database) for database in databases)
        api.answer_next(429, headers={"Retry-After": "1"})
        async with aiohttp.ClientSession() as session:
            with pytest.raises(NotifierError):
                await notifier(api, session, first, None).send(user(1), REMINDER, [], NOW)
        arrivals = await _send_at_once(api, [first, second], each=10)
    finally:
        for database in databases:
            await database.close()
        await postgres_databases.drop(url)

    refused = api.requests[0]
    assert refused["status"] == TOO_MANY
    assert len(arrivals) == 2 * 10
    assert arrivals[0] - refused["at"] >= 0.95
    assert rate(arrivals) == pytest.approx(RATE, rel=0.1)
