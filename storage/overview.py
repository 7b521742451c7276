"""What an operator asks of the whole cluster, answered from the database alone
(`certmate status`): work waiting, work claimed, work given up, and who is alive."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage import cluster, reminders
from storage.models import ProcessBeat, ProcessedUpdate, ReminderStatus

ALIVE_WITHIN: Final = timedelta(seconds=60)
"""A process that has not beaten for this long is taken for dead (they beat every 10 s)."""


@dataclass(frozen=True, slots=True)
class Overview:
    updates_pending: dict[str, int]
    """Updates recorded but not yet handled, by channel."""
    oldest_pending: datetime | None
    updates_dead: int
    """Updates given up after failing as a bug `updates.MAX_ATTEMPTS` times, kept sealed."""
    oldest_dead: datetime | None
    dead_errors: dict[str, int]
    """The dead updates by their last error (type and code location)."""
    reminders: dict[ReminderStatus, int]
    processes: Sequence[ProcessBeat]
    lease_holders: dict[str, str]
    """Lease name -> owner, for the leases held now."""


async def overview(session: AsyncSession, now: datetime) -> Overview:
    pending = await session.execute(
        select(
            col(ProcessedUpdate.channel), sa.func.count(), sa.func.min(ProcessedUpdate.received_at)
        )
        .where(col(ProcessedUpdate.handled_at).is_(None), col(ProcessedUpdate.dead_at).is_(None))
        .group_by(col(ProcessedUpdate.channel))
    )
    by_channel: dict[str, int] = {}
    oldest: datetime | None = None
    for channel, count, received in pending:
        by_channel[channel.value] = int(count)
        oldest = received if oldest is None else min(oldest, received)
    dead = await session.execute(
        select(
            col(ProcessedUpdate.last_error), sa.func.count(), sa.func.min(ProcessedUpdate.dead_at)
        )
        .where(col(ProcessedUpdate.dead_at).is_not(None))
        .group_by(col(ProcessedUpdate.last_error))
    )
    errors: dict[str, int] = {}
    oldest_dead: datetime | None = None
    for error, count, died in dead:
        errors[error or "?"] = errors.get(error or "?", 0) + int(count)
        if died is not None and (oldest_dead is None or died < oldest_dead):
            oldest_dead = died
    return Overview(
        updates_pending=by_channel,
        oldest_pending=oldest,
        updates_dead=sum(errors.values()),
        oldest_dead=oldest_dead,
        dead_errors=errors,
        reminders=await reminders.count_by_status(session),
        processes=await cluster.processes(session, now - ALIVE_WITHIN),
        lease_holders=await cluster.holders(session, now),
    )
