"""The update inbox shared by several processes: each stands for one here (its own `Inbox`
and owner name on the same real database, SQLite file or PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import exc
from sqlmodel import select

from bot.inbox import Body, Inbox
from bot.metrics import Metrics
from storage.database import Database
from storage.models import Channel, ProcessedUpdate
from storage.overview import overview
from storage.vault import Vault


def _clock() -> datetime:
    return datetime.now(UTC)


def _lane(body: Body) -> str:
    return str(body["user"])


def _inbox(
    database: Database,
    vault: Vault,
    owner: str,
    handle: Callable[[Body], Awaitable[None]],
    sweep_every: float = 60.0,
) -> Inbox:
    return Inbox(
        database,
        vault,
        Channel.TELEGRAM,
        handle=handle,
        lane_of=_lane,
        clock=_clock,
        owner=owner,
        sweep_every=sweep_every,
    )


async def _until(predicate: Callable[[], bool], within: float = 20) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "still false"
        await asyncio.sleep(0.02)


async def _rows(database: Database) -> dict[str, ProcessedUpdate]:
    async with database.read() as session:
        return {row.update_id: row for row in await session.scalars(select(ProcessedUpdate))}


async def test_a_bug_is_tried_three_times_then_kept_dead_and_the_lane_goes_on(
    database: Database, vault: Vault
) -> None:
    """An update whose handling raises ValueError every time is tried 3 times, then kept
    dead (its body still sealed, its error named by type and place), counted by the
    overview; the user's later updates are still handled, in order."""
    handled: list[int] = []
    tries: list[int] = []

    async def handle(body: Body) -> None:
        if body["n"] == 2:
            tries.append(2)
            raise ValueError("a bug, with a message that may quote the user")
        handled.append(body["n"])

    inbox = _inbox(database, vault, "a", handle)
    for n in range(1, 5):
        assert await inbox.receive(str(n), {"user": 7, "n": n})
    assert await inbox.drain(20)
    assert handled == [1, 3, 4]
    assert tries == [2, 2, 2]
    rows = await _rows(database)
    dead = rows["2"]
    assert dead.dead_at is not None
    assert dead.handled_at is None
    assert dead.attempts == 3
    assert dead.sealed is not None  # kept for the operator, sealed
    assert dead.last_error is not None
    assert dead.last_error.startswith("ValueError at test_inbox.py:")
    assert "message" not in dead.last_error
    assert all(rows[str(n)].handled_at is not None for n in (1, 3, 4))
    async with database.read() as session:
        seen = await overview(session, _clock())
    assert seen.updates_dead == 1
    assert seen.updates_pending == {}
    assert list(seen.dead_errors) == [dead.last_error]
    await inbox.stop(1)


async def test_a_transient_failure_is_retried_until_it_passes_and_not_counted(
    database: Database, vault: Vault
) -> None:
    """A handle that fails with OperationalError (a full disk, a lost connection) twice,
    then succeeds: the update is handled once, not dead, no attempt counted; the lane
    waited, so the next update came after it."""
    calls: list[int] = []

    async def handle(body: Body) -> None:
        calls.append(body["n"])
        if calls.count(1) <= 2 and body["n"] == 1:
            raise exc.OperationalError("INSERT", {}, OSError(28, "No space left on device"))

    inbox = _inbox(database, vault, "a", handle)
    assert await inbox.receive("1", {"user": 7, "n": 1})
    assert await inbox.receive("2", {"user": 7, "n": 2})
    assert await inbox.drain(20)
    assert calls == [1, 1, 1, 2]
    rows = await _rows(database)
    assert rows["1"].handled_at is not None
    assert rows["1"].dead_at is None
    assert rows["1"].attempts == 0
    await inbox.stop(1)


async def test_a_second_process_does_not_take_updates_in_hand(
    database: Database, vault: Vault
) -> None:
    """60 users' updates are recorded and being handled by A when B starts and sweeps: B
    takes none of them (their lanes are A's), and each is handled once."""
    release = asyncio.Event()
    by_a: list[int] = []
    by_b: list[int] = []

    async def slow(body: Body) -> None:
        await release.wait()
        by_a.append(body["user"])

    async def record(body: Body) -> None:
        by_b.append(body["user"])

    a = _inbox(database, vault, "a", slow)
    for user in range(60):
        assert await a.receive(str(user), {"user": user})
    b = _inbox(database, vault, "b", record)
    assert await b.sweep() == 0
    release.set()
    assert await a.drain(20)
    assert sorted(by_a) == list(range(60))
    assert by_b == []
    await a.stop(1)
    await b.stop(1)


async def test_one_users_updates_stay_in_order_across_processes(
    database: Database, vault: Vault
) -> None:
    """One user's updates arrive alternately at A and B, quickly, while handling is slow:
    they are handled one at a time, in the order recorded, each once."""
    handled: list[int] = []
    running = 0

    async def handle(body: Body) -> None:
        nonlocal running
        running += 1
        assert running == 1, "two of one user's updates at once"
        await asyncio.sleep(0.02)
        handled.append(body["n"])
        running -= 1

    a = _inbox(database, vault, "a", handle, sweep_every=0.5)
    b = _inbox(database, vault, "b", handle, sweep_every=0.5)
    a.start()
    b.start()
    for n in range(20):
        assert await (a if n % 2 == 0 else b).receive(str(n), {"user": 7, "n": n})
    await _until(lambda: len(handled) >= 20)
    assert handled == list(range(20))
    assert await a.stop(5)
    assert await b.stop(5)
    rows = await _rows(database)
    assert all(row.handled_at is not None for row in rows.values())


async def test_a_stopped_process_hands_its_lanes_over_at_once(
    database: Database, vault: Vault
) -> None:
    """A holds lanes with updates waiting when it stops (grace over): it releases them, and
    B's next sweep takes them, well within the lease; nothing is lost or handled twice."""
    stuck = asyncio.Event()
    by_b: list[int] = []

    async def never(_body: Body) -> None:
        await stuck.wait()

    async def record(body: Body) -> None:
        by_b.append(body["user"])

    a = _inbox(database, vault, "a", never)
    for user in range(10):
        assert await a.receive(str(user), {"user": user})
    b = _inbox(database, vault, "b", record)
    assert await b.sweep() == 0  # A holds them
    started = time.monotonic()
    assert not await a.stop(0.2)
    assert await b.sweep() == 10
    assert await b.drain(10)
    assert time.monotonic() - started < 5
    assert sorted(by_b) == list(range(10))
    rows = await _rows(database)
    assert all(row.handled_at is not None for row in rows.values())
    await b.stop(1)


@pytest.mark.parametrize("where", ["holder", "other"])
async def test_an_update_recorded_for_a_busy_lane_elsewhere_is_not_stranded(
    database: Database, vault: Vault, where: str
) -> None:
    """B records an update for a lane A holds (so B may not handle it): A, finishing its
    lane, finds it and handles it, in order, without waiting for any sweep."""
    release = asyncio.Event()
    handled: list[str] = []

    async def handle(body: Body) -> None:
        await release.wait()
        handled.append(body["id"])

    a = _inbox(database, vault, "a", handle)
    b = _inbox(database, vault, "b", handle)
    assert await a.receive("1", {"user": 7, "id": "1"})
    assert await (b if where == "other" else a).receive("2", {"user": 7, "id": "2"})
    assert b.busy == 0
    release.set()
    await _until(lambda: len(handled) == 2 and a.busy == 0, within=5)
    assert handled == ["1", "2"]
    await a.stop(1)
    await b.stop(1)


async def test_the_inbox_counts_what_it_received_handled_retried_and_gave_up(
    database: Database, vault: Vault
) -> None:
    """/metrics' update counters move with the inbox: a duplicate delivery is not
    received twice, a transient failure is one retry, a bug's two retries and its death
    are counted, and only updates handled to the end are `handled`."""
    failed_once = False

    async def handle(body: Body) -> None:
        nonlocal failed_once
        if body["n"] == 2 and not failed_once:
            failed_once = True
            raise exc.OperationalError("INSERT", {}, OSError(28, "No space left on device"))
        if body["n"] == 3:
            raise ValueError("a bug")

    metrics = Metrics()
    inbox = Inbox(
        database, vault, Channel.TELEGRAM, handle=handle, lane_of=_lane, clock=_clock,
        owner="a", sweep_every=60.0, metrics=metrics,
    )  # fmt: skip
    for n in (1, 2, 3):
        assert await inbox.receive(str(n), {"user": 7, "n": n})
    assert not await inbox.receive("1", {"user": 7, "n": 1})  # delivered again: dropped
    assert await inbox.drain(20)
    await inbox.stop(1)

    def value(name: str) -> float:
        sample = metrics.registry.get_sample_value(name, {"channel": "telegram"})
        return sample or 0.0

    assert value("certmate_updates_received_total") == 3
    assert value("certmate_updates_handled_total") == 2
    assert value("certmate_updates_retried_total") == 1 + 2
    assert value("certmate_updates_dead_total") == 1
