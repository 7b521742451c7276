"""The roll call and single-holder leases, on both engines."""

from __future__ import annotations

from datetime import timedelta

from storage import cluster
from storage.database import Database
from tests.storage.conftest import NOW

LEASE = timedelta(seconds=30)


async def test_a_lease_has_one_holder_until_it_expires(database: Database) -> None:
    """The first taker holds it and renews it; another gets it only once it expired;
    a released lease is free at once."""
    async with database.write() as session:
        assert await cluster.acquire(session, "poller", "a", NOW, LEASE)
        assert not await cluster.acquire(session, "poller", "b", NOW + timedelta(seconds=1), LEASE)
        assert await cluster.acquire(session, "poller", "a", NOW + timedelta(seconds=20), LEASE)
        # a renewed at +20 s: still a's at +45 s, b's after +50 s
        assert not await cluster.acquire(session, "poller", "b", NOW + timedelta(seconds=45), LEASE)
        assert await cluster.acquire(session, "poller", "b", NOW + timedelta(seconds=51), LEASE)
        assert not await cluster.acquire(session, "poller", "a", NOW + timedelta(seconds=52), LEASE)
        await cluster.release(session, "poller", "b")
        assert await cluster.acquire(session, "poller", "a", NOW + timedelta(seconds=53), LEASE)


async def test_the_roll_call_lists_live_processes_and_forgets_the_dead(
    database: Database,
) -> None:
    """Processes beat; one silent for a minute is not listed, one silent for a day is
    deleted; one that leaves is gone with its leases."""
    async with database.write() as session:
        await cluster.beat(session, "old", NOW - timedelta(days=2), started_at=NOW)
        await cluster.beat(session, "quiet", NOW - timedelta(minutes=2), started_at=NOW)
        await cluster.beat(session, "live", NOW, started_at=NOW, roles="poller")
        await cluster.record_sweep(session, "live", NOW, 12)
        assert await cluster.acquire(session, "poller", "live", NOW, LEASE)
    async with database.read() as session:
        live = await cluster.processes(session, NOW - timedelta(minutes=1))
        every = await cluster.processes(session, NOW - timedelta(days=30))
    assert [(p.name, p.roles, p.last_sweep_sent) for p in live] == [("live", "poller", 12)]
    assert sorted(p.name for p in every) == ["live", "quiet"]
    async with database.write() as session:
        await cluster.leave(session, "live")
        assert await cluster.acquire(session, "poller", "other", NOW, LEASE)
    async with database.read() as session:
        assert [p.name for p in await cluster.processes(session, NOW - timedelta(minutes=1))] == []


async def test_the_poller_role_counts_only_for_the_holder_of_the_lease(
    database: Database,
) -> None:
    """A killed poller's last beat still says poller; once another holds the lease (or
    the lease ran out), only the holder is listed with the role."""
    async with database.write() as session:
        await cluster.beat(session, "killed", NOW, started_at=NOW, roles="poller")
        await cluster.beat(session, "other", NOW, started_at=NOW)
        assert await cluster.acquire(session, cluster.POLLER_LEASE, "killed", NOW, LEASE)
    async with database.read() as session:
        held = await cluster.holders(session, NOW + timedelta(seconds=29))
        rows = {p.name: p for p in await cluster.processes(session, NOW)}
        assert cluster.roles_of(rows["killed"], held) == ["poller"]
        expired = await cluster.holders(session, NOW + timedelta(seconds=31))
        assert cluster.roles_of(rows["killed"], expired) == []
    later = NOW + timedelta(seconds=31)
    async with database.write() as session:
        assert await cluster.acquire(session, cluster.POLLER_LEASE, "other", later, LEASE)
        await cluster.beat(session, "other", later, started_at=NOW, roles="poller")
    async with database.read() as session:
        held = await cluster.holders(session, later)
        rows = {p.name: p for p in await cluster.processes(session, NOW)}
        assert cluster.roles_of(rows["killed"], held) == []
        assert cluster.roles_of(rows["other"], held) == ["poller"]
