"""Password lockout: wrong passwords counted against the private key, and per owner.

A key is named by its ciphertext (`npki.keyid`), not by the file's bytes or
the certificate it came with: appending a byte or pairing the key with
another certificate tries the same key and finds the same count. A PFX has
several names (each thing its password is tested on); it is locked when any
of them is. Beside the keys, one row per owner (`OWNER`) counts the owner's
wrong passwords across all keys, so a thief holding many files cannot try
five passwords on each. Counts live in the database: neither a restart nor
`/cancel` and a fresh upload resets them. The right password clears the
key's count, never the owner's. A row whose window has passed and whose lock
has lifted counts nothing (the next failure starts it afresh), so housekeeping
forgets it: a user who mistypes the passwords of many keys leaves no rows behind.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.models import KeyAttempt
from storage.sql import affected

OWNER: Final = "user"
"""The subject of the owner's row (key names start with `key:`)."""


@dataclass(frozen=True, slots=True)
class Policy:
    """How many wrong passwords, in what window, lock for how long."""

    tries: int
    window: timedelta
    lockout: timedelta


KEY_POLICY: Final = Policy(5, timedelta(minutes=15), timedelta(minutes=15))
OWNER_POLICY: Final = Policy(20, timedelta(hours=1), timedelta(hours=1))
FORGET_AFTER: Final = max(KEY_POLICY.window, OWNER_POLICY.window)
"""A row is forgotten once its window began longer ago than this and no lock holds."""


@dataclass(frozen=True, slots=True)
class Verdict:
    failures: int
    """The key's failures in its window (the most of its names)."""
    locked_until: datetime | None
    """When the lock lifts, if this failure locked the key or the owner."""


async def locked_until(
    session: AsyncSession, owner_id: int, keys: Collection[str], now: datetime
) -> datetime | None:
    """When the lock on these keys (or on the owner) lifts, if it is locked now."""
    rows = await _rows(session, owner_id, [*keys, OWNER])
    locks = [row.locked_until for row in rows.values() if row.locked_until is not None]
    current = [until for until in locks if until > now]
    return max(current) if current else None


async def record_failure(
    session: AsyncSession,
    owner_id: int,
    keys: Collection[str],
    now: datetime,
    *,
    key_policy: Policy = KEY_POLICY,
    owner_policy: Policy = OWNER_POLICY,
) -> Verdict:
    """Count one wrong password against the keys and the owner; lock at the limits."""
    rows = await _rows(session, owner_id, [*keys, OWNER])
    failures = 0
    locks: list[datetime] = []
    for subject in dict.fromkeys([*keys, OWNER]):
        policy = owner_policy if subject == OWNER else key_policy
        row = rows.get(subject)
        if row is None:
            row = KeyAttempt(owner_id=owner_id, subject=subject, window_started_at=now)
            session.add(row)
        _count(row, policy, now)
        if row.locked_until is not None:
            locks.append(row.locked_until)
        if subject != OWNER:
            failures = max(failures, row.failures)
    await session.flush()
    return Verdict(failures, max(locks) if locks else None)


async def clear(session: AsyncSession, owner_id: int, keys: Collection[str]) -> None:
    """The right password opened these keys: forget their failures (not the owner's)."""
    subjects = [key for key in keys if key != OWNER]
    if subjects:
        await session.execute(
            sa.delete(KeyAttempt).where(
                col(KeyAttempt.owner_id) == owner_id, col(KeyAttempt.subject).in_(subjects)
            )
        )


async def prune(session: AsyncSession, now: datetime, limit: int = 5_000) -> int:
    """Forget up to `limit` rows that count nothing any more (window over, no lock);
    returns how many (call again while it returns `limit`)."""
    idle = (
        select(KeyAttempt.id)
        .where(
            col(KeyAttempt.window_started_at) < now - FORGET_AFTER,
            sa.or_(col(KeyAttempt.locked_until).is_(None), col(KeyAttempt.locked_until) <= now),
        )
        .limit(limit)
    )
    result = await session.execute(
        sa.delete(KeyAttempt).where(col(KeyAttempt.id).in_(idle.scalar_subquery()))
    )
    return affected(result)


def _count(row: KeyAttempt, policy: Policy, now: datetime) -> None:
    if now - row.window_started_at > policy.window or (
        row.locked_until is not None and row.locked_until <= now
    ):
        row.failures, row.window_started_at, row.locked_until = 0, now, None
    row.failures += 1
    if row.failures >= policy.tries:
        row.locked_until = now + policy.lockout


async def _rows(session: AsyncSession, owner_id: int, subjects: list[str]) -> dict[str, KeyAttempt]:
    result = await session.scalars(
        select(KeyAttempt).where(
            col(KeyAttempt.owner_id) == owner_id, col(KeyAttempt.subject).in_(set(subjects))
        )
    )
    return {row.subject: row for row in result.all()}
