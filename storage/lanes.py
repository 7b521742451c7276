"""Per-user lanes as leases: one process at a time handles one user's updates.

A lane's lease is the row `lane:<channel>:<lane>` of the `leases` table
(storage/cluster.py): held by a process's name until it expires, renewed by
its holder while it works, released when the lane has nothing left, taken
over only once expired (a crashed holder). Every function here runs inside
a write transaction that also touches the lane's updates, and locks the
lease rows first (in name order, so two processes never deadlock): a
holder's release and another process's record of the same lane then run one
after the other, never interleaved, and no update is stranded.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.models import Channel, Lease
from storage.sql import affected, insert_ignore


def lease_name(channel: Channel, lane: str) -> str:
    return f"lane:{channel.value}:{lane}"


async def _locked(session: AsyncSession, names: Iterable[str]) -> dict[str, Lease]:
    """The existing lease rows among `names`, locked until the transaction ends
    (PostgreSQL; SQLite's single writer already serialises the transaction)."""
    rows = await session.scalars(
        select(Lease)
        .where(col(Lease.name).in_(sorted(names)))
        .order_by(col(Lease.name))
        .with_for_update()
    )
    return {row.name: row for row in rows}


async def acquire(
    session: AsyncSession,
    channel: Channel,
    lanes: Collection[str],
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
) -> set[str]:
    """Take or renew the leases of `lanes` for `owner` until `now + lease`; the lanes
    `owner` holds now (free, expired, or already its own)."""
    names = {lease_name(channel, lane): lane for lane in lanes}
    found = await _locked(session, names)
    held: set[str] = set()
    renew: list[str] = []
    for name in sorted(names):
        row = found.get(name)
        if row is None:
            values = {"name": name, "owner": owner, "expires_at": now + lease}
            if affected(await session.execute(insert_ignore(session, Lease, values, ["name"]))):
                held.add(names[name])
                continue
            # Another process made it a moment ago: lock it too, so its release waits for
            # this transaction and then sees the update recorded in it.
            row = (await _locked(session, [name])).get(name)
            if row is None:
                continue
        if row.owner == owner or row.expires_at < now:
            renew.append(name)
    if renew:
        await session.execute(
            sa.update(Lease)
            .where(col(Lease.name).in_(renew))
            .values(owner=owner, expires_at=now + lease)
        )
        held |= {names[name] for name in renew}
    return held


async def release_idle(
    session: AsyncSession, channel: Channel, lanes: Collection[str], owner: str
) -> None:
    """Give up the leases of `lanes` (they have nothing pending), if `owner` holds them;
    call after locking them with `lock`."""
    await session.execute(
        sa.delete(Lease).where(
            col(Lease.name).in_([lease_name(channel, lane) for lane in lanes]),
            col(Lease.owner) == owner,
        )
    )


async def lock(session: AsyncSession, channel: Channel, lanes: Collection[str]) -> None:
    """Lock the lease rows of `lanes` before deciding whether to release them."""
    await _locked(session, [lease_name(channel, lane) for lane in lanes])


async def renew(
    session: AsyncSession,
    channel: Channel,
    lanes: Collection[str],
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
) -> int:
    """Push the expiry of `owner`'s leases of `lanes` to `now + lease`; how many it
    still held."""
    names = [lease_name(channel, lane) for lane in lanes]
    await _locked(session, names)
    result = await session.execute(
        sa.update(Lease)
        .where(col(Lease.name).in_(names), col(Lease.owner) == owner)
        .values(expires_at=now + lease)
    )
    return affected(result)


async def release_all(session: AsyncSession, channel: Channel, owner: str) -> None:
    """Every lane lease of `owner` on `channel` freed at once (a stop)."""
    prefix = lease_name(channel, "")
    await session.execute(
        sa.delete(Lease).where(col(Lease.owner) == owner, col(Lease.name).startswith(prefix))
    )


async def free(
    session: AsyncSession, channel: Channel, lanes: Collection[str], owner: str, now: datetime
) -> list[str]:
    """Those of `lanes` that `owner` could take now: no lease, an expired one, or its own."""
    names = {lease_name(channel, lane): lane for lane in lanes}
    rows = await session.scalars(select(Lease).where(col(Lease.name).in_(list(names))))
    taken = {row.name for row in rows if row.owner != owner and row.expires_at >= now}
    return [lane for name, lane in names.items() if name not in taken]
