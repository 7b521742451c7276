"""The reminder outbox: planned once per (certificate, threshold), claimed with a lease.

Claiming marks due rows `sending` under a lease in one statement. On
PostgreSQL the candidate rows are locked `FOR UPDATE SKIP LOCKED`, so
concurrent sweepers take disjoint rows; on SQLite the write transaction
(`BEGIN IMMEDIATE`) makes the claim exclusive. A lease is counted from the
moment of the claim (`leased_at`, the wall clock), not from the sweep's
`now`, and its holder renews it while it works. A row whose lease expired
(its sender crashed) is claimable again: delivery is at least once, and a
row is never lost.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.models import Channel, Reminder, ReminderKind, ReminderStatus, User
from storage.sql import affected, insert_ignore, insert_ignore_many
from storage.types import UTCDateTime

_OPEN = (ReminderStatus.PENDING, ReminderStatus.SENDING)


async def plan(
    session: AsyncSession,
    *,
    certificate_id: int,
    owner_id: int,
    kind: ReminderKind,
    threshold_days: int,
    due_at: datetime,
    now: datetime,
    status: ReminderStatus = ReminderStatus.PENDING,
) -> bool:
    """Plan a reminder (or record one as passed); False if it was already planned."""
    statement = insert_ignore(
        session,
        Reminder,
        {
            "certificate_id": certificate_id,
            "owner_id": owner_id,
            "kind": kind,
            "threshold_days": threshold_days,
            "due_at": due_at,
            "status": status,
            "attempts": 0,
            "created_at": now,
        },
        ["certificate_id", "kind", "threshold_days"],
    )
    result = await session.execute(statement)
    return bool(affected(result))


async def claim_due(
    session: AsyncSession,
    *,
    now: datetime,
    lease_owner: str,
    lease: timedelta,
    limit: int,
    channels: Collection[Channel],
    after: tuple[datetime, int] | None = None,
    leased_at: datetime | None = None,
) -> Claimed:
    """Take up to `limit` due reminders for `lease_owner`: first those whose lease expired
    (their sender crashed), then pending ones, most overdue first (after `after`, the
    (due time, id) where this walk left off, so old index entries are not scanned again).

    Rows due by `now` are taken; leases run from `leased_at` (default `now`) for `lease`,
    and a lease is expired when it ended before `leased_at`.

    Only reminders of reachable users with reminders on, on `channels` (the
    ones a notifier can deliver to), are taken. Each of the two lookups is an
    index range scan, so a claim costs what it takes, not the table size.
    """
    leased_at = now if leased_at is None else leased_at
    expired = sa.and_(
        col(Reminder.status) == ReminderStatus.SENDING, col(Reminder.lease_expires_at) < leased_at
    )
    due = sa.and_(col(Reminder.status) == ReminderStatus.PENDING, col(Reminder.due_at) <= now)
    if after is not None:
        position = sa.tuple_(sa.literal(after[0], UTCDateTime()), sa.literal(after[1]))
        due = sa.and_(due, sa.tuple_(col(Reminder.due_at), col(Reminder.id)) > position)
    expired_rows = await _claim(
        session,
        expired,
        col(Reminder.lease_expires_at),
        limit=limit,
        lease_owner=lease_owner,
        lease_until=leased_at + lease,
        channels=channels,
    )
    due_rows: Sequence[Reminder] = []
    if len(expired_rows) < limit:
        due_rows = await _claim(
            session,
            due,
            col(Reminder.due_at),
            limit=limit - len(expired_rows),
            lease_owner=lease_owner,
            lease_until=leased_at + lease,
            channels=channels,
        )
    cursor = (due_rows[-1].due_at, due_rows[-1].id or 0) if due_rows else after
    rows = sorted([*expired_rows, *due_rows], key=lambda r: (r.due_at, r.id or 0))
    return Claimed(rows, cursor)


@dataclass(frozen=True, slots=True)
class Claimed:
    rows: Sequence[Reminder]
    cursor: tuple[datetime, int] | None
    """Where the walk over pending rows goes on from (pass it back as `after`)."""


async def _claim(
    session: AsyncSession,
    claimable: sa.ColumnElement[bool],
    order: Any,
    *,
    limit: int,
    lease_owner: str,
    lease_until: datetime,
    channels: Collection[Channel],
) -> Sequence[Reminder]:
    # Correlated, so each due row looks its owner up by primary key: the cost follows the
    # due rows, not the number of users.
    deliverable = (
        select(col(User.id))
        .where(
            col(User.id) == col(Reminder.owner_id),
            col(User.reachable).is_(True),
            col(User.reminders_enabled).is_(True),
            col(User.channel).in_(list(channels)),
        )
        .exists()
    )
    candidates = (
        select(col(Reminder.id))
        .where(claimable, deliverable)
        .order_by(order, col(Reminder.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    claimed = await session.scalars(
        sa.update(Reminder)
        .where(col(Reminder.id).in_(candidates))
        .values(
            status=ReminderStatus.SENDING,
            lease_owner=lease_owner,
            lease_expires_at=lease_until,
            attempts=col(Reminder.attempts) + 1,
        )
        .returning(Reminder)
        .execution_options(populate_existing=True)
    )
    return claimed.all()


async def mark_sent(
    session: AsyncSession, reminder_id: int, lease_owner: str, now: datetime, message_id: str
) -> bool:
    """Record delivery; False if the lease was lost (another sender took the row over)."""
    result = await session.execute(
        sa.update(Reminder)
        .where(
            col(Reminder.id) == reminder_id,
            col(Reminder.lease_owner) == lease_owner,
            col(Reminder.status) == ReminderStatus.SENDING,
        )
        .values(
            status=ReminderStatus.SENT, sent_at=now, lease_expires_at=None, message_id=message_id
        )
    )
    return bool(affected(result))


async def renew(session: AsyncSession, lease_owner: str, until: datetime) -> int:
    """Extend every lease `lease_owner` still holds to `until`; returns how many. A row
    taken over by another sender carries that sender's name, so it is not touched."""
    result = await session.execute(
        sa.update(Reminder)
        .where(
            col(Reminder.lease_owner) == lease_owner,
            col(Reminder.status) == ReminderStatus.SENDING,
        )
        .values(lease_expires_at=until)
    )
    return affected(result)


async def release(session: AsyncSession, reminder_ids: Collection[int], lease_owner: str) -> int:
    """Give claimed reminders back at once (a stop), uncounted, for any sender to take."""
    if not reminder_ids:
        return 0
    result = await session.execute(
        sa.update(Reminder)
        .where(
            col(Reminder.id).in_(list(reminder_ids)),
            col(Reminder.lease_owner) == lease_owner,
            col(Reminder.status) == ReminderStatus.SENDING,
        )
        .values(
            status=ReminderStatus.PENDING,
            lease_owner=None,
            lease_expires_at=None,
            attempts=col(Reminder.attempts) - 1,
        )
    )
    return affected(result)


async def defer(session: AsyncSession, reminder_id: int, lease_owner: str, until: datetime) -> None:
    """Put a claimed reminder back, due at `until` (quiet hours), without counting an attempt."""
    await session.execute(
        sa.update(Reminder)
        .where(col(Reminder.id) == reminder_id, col(Reminder.lease_owner) == lease_owner)
        .values(
            status=ReminderStatus.PENDING,
            due_at=until,
            lease_owner=None,
            lease_expires_at=None,
            attempts=col(Reminder.attempts) - 1,
        )
    )


async def plan_many(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Plan many reminders in one statement (each a dict of Reminder columns); those
    already planned are left as they are."""
    if rows:
        statement = insert_ignore_many(
            session, Reminder, ["certificate_id", "kind", "threshold_days"]
        )
        await session.execute(statement, [dict(row) for row in rows])


async def planned(
    session: AsyncSession, certificate_ids: Collection[int]
) -> dict[int, dict[int, ReminderStatus]]:
    """For each certificate, its planned expiry/expired thresholds and their status."""
    found: dict[int, dict[int, ReminderStatus]] = {i: {} for i in certificate_ids}
    rows = await session.execute(
        select(
            col(Reminder.certificate_id), col(Reminder.threshold_days), col(Reminder.status)
        ).where(
            col(Reminder.certificate_id).in_(list(certificate_ids)),
            col(Reminder.kind) != ReminderKind.SNOOZED,
        )
    )
    for certificate_id, threshold, status in rows:
        found[certificate_id][threshold] = status
    return found


async def cancel_thresholds(
    session: AsyncSession, certificate_id: int, thresholds: Collection[int]
) -> None:
    """Cancel pending threshold reminders the user no longer wants (settings changed)."""
    await session.execute(
        sa.update(Reminder)
        .where(
            col(Reminder.certificate_id) == certificate_id,
            col(Reminder.kind) == ReminderKind.EXPIRY,
            col(Reminder.status) == ReminderStatus.PENDING,
            col(Reminder.threshold_days).in_(list(thresholds)),
        )
        .values(status=ReminderStatus.CANCELLED)
    )


async def mark_failed(
    session: AsyncSession,
    reminder_id: int,
    lease_owner: str,
    *,
    error: str,
    retry_at: datetime,
    max_attempts: int,
) -> None:
    """A send failed: retry at `retry_at`, or give up after `max_attempts`."""
    await session.execute(
        sa.update(Reminder)
        .where(
            col(Reminder.id) == reminder_id,
            col(Reminder.lease_owner) == lease_owner,
            col(Reminder.status) == ReminderStatus.SENDING,
        )
        .values(
            status=sa.case(
                (col(Reminder.attempts) >= max_attempts, ReminderStatus.FAILED.value),
                else_=ReminderStatus.PENDING.value,
            ),
            due_at=retry_at,
            lease_owner=None,
            lease_expires_at=None,
            last_error=error[:500],
        )
    )


async def cancel_pending(session: AsyncSession, certificate_id: int) -> int:
    """Cancel a certificate's reminders not yet sent (renewed, replaced or deleted)."""
    result = await session.execute(
        sa.update(Reminder)
        .where(
            col(Reminder.certificate_id) == certificate_id,
            col(Reminder.status).in_(_OPEN),
        )
        .values(status=ReminderStatus.CANCELLED, lease_owner=None, lease_expires_at=None)
    )
    return affected(result)


async def count_by_status(session: AsyncSession) -> dict[ReminderStatus, int]:
    """How many reminders are in each status (failed ones are the ones to look at)."""
    rows = await session.execute(
        select(col(Reminder.status), sa.func.count()).group_by(col(Reminder.status))
    )
    return {status: count for status, count in rows}  # noqa: C416  (rows are Row objects)
