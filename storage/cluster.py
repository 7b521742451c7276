"""The cluster in the database: which processes are alive, and single-holder leases.

Every `certmate run` process beats (`beat`) every few seconds, so `certmate
status` can list the live ones and their last sweep. A lease (`acquire`)
gives one job to one process at a time, polling Telegram for example: the
holder renews it while alive; another process takes it over only once it has
expired, so a dead holder is replaced within one lease.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.models import Lease, ProcessBeat
from storage.sql import affected, insert_ignore

FORGET_AFTER: Final = timedelta(days=1)
POLLER_LEASE: Final = "telegram:poller"
POLLER_ROLE: Final = "poller"
LEASED_ROLES: Final = {POLLER_ROLE: POLLER_LEASE}
"""Roles true only while their lease is held: a killed holder's last beat still claims
them until it is forgotten, while another process already holds the lease."""


async def beat(
    session: AsyncSession, name: str, now: datetime, *, started_at: datetime, roles: str = ""
) -> None:
    """Say `name` is alive at `now` (its row made at its first beat); rows of processes
    silent for `FORGET_AFTER` (killed, never left) go."""
    await session.execute(
        sa.delete(ProcessBeat).where(col(ProcessBeat.seen_at) < now - FORGET_AFTER)
    )
    updated = await session.execute(
        sa.update(ProcessBeat).where(col(ProcessBeat.name) == name).values(seen_at=now, roles=roles)
    )
    if not affected(updated):
        await session.execute(
            insert_ignore(
                session,
                ProcessBeat,
                {"name": name, "started_at": started_at, "seen_at": now,
                 "last_sweep_sent": 0, "roles": roles},
                ["name"],
            )
        )  # fmt: skip


async def record_sweep(session: AsyncSession, name: str, now: datetime, sent: int) -> None:
    await session.execute(
        sa.update(ProcessBeat)
        .where(col(ProcessBeat.name) == name)
        .values(last_sweep_at=now, last_sweep_sent=sent, seen_at=now)
    )


async def leave(session: AsyncSession, name: str) -> None:
    """`name` stopped: off the roll call, its leases free at once."""
    await session.execute(sa.delete(ProcessBeat).where(col(ProcessBeat.name) == name))
    await session.execute(sa.delete(Lease).where(col(Lease.owner) == name))


async def processes(session: AsyncSession, seen_since: datetime) -> Sequence[ProcessBeat]:
    """The processes seen at or after `seen_since`, oldest first."""
    rows = await session.scalars(
        select(ProcessBeat)
        .where(col(ProcessBeat.seen_at) >= seen_since)
        .order_by(col(ProcessBeat.started_at))
    )
    return rows.all()


async def holders(session: AsyncSession, now: datetime) -> dict[str, str]:
    """Lease name -> owner, for the leases not expired at `now`."""
    rows = await session.execute(
        select(col(Lease.name), col(Lease.owner)).where(col(Lease.expires_at) >= now)
    )
    return {name: owner for name, owner in rows}  # noqa: C416  (rows are Row, not tuples)


def roles_of(process: ProcessBeat, holders: Mapping[str, str]) -> list[str]:
    """The roles `process` last said it had, less those whose lease it no longer holds."""
    return [
        role
        for role in process.roles.split(",")
        if role and (role not in LEASED_ROLES or holders.get(LEASED_ROLES[role]) == process.name)
    ]


async def acquire(
    session: AsyncSession, name: str, owner: str, now: datetime, lease: timedelta
) -> bool:
    """Take or renew the lease `name` for `owner` until `now + lease`: True if `owner`
    holds it now (it was free, expired, or already its own)."""
    values = {"name": name, "owner": owner, "expires_at": now + lease}
    inserted = await session.execute(insert_ignore(session, Lease, values, ["name"]))
    if affected(inserted):
        return True
    taken = await session.execute(
        sa.update(Lease)
        .where(
            col(Lease.name) == name,
            sa.or_(col(Lease.owner) == owner, col(Lease.expires_at) < now),
        )
        .values(owner=owner, expires_at=now + lease)
    )
    return bool(affected(taken))


async def release(session: AsyncSession, name: str, owner: str) -> None:
    """Give the lease up at once (a stop), if `owner` still holds it."""
    await session.execute(
        sa.delete(Lease).where(col(Lease.name) == name, col(Lease.owner) == owner)
    )
