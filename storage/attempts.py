"""Password lockout: after 5 wrong passwords in 15 minutes a certificate is locked for a while.

Counted per owner and certificate (or PFX file), in the database, so that
neither a restart nor `/cancel` and a fresh upload resets the count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.models import KeyAttempt

MAX_FAILURES: Final = 5
WINDOW: Final = timedelta(minutes=15)
LOCKOUT: Final = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Verdict:
    failures: int
    locked_until: datetime | None


async def locked_until(
    session: AsyncSession, owner_id: int, subject: str, now: datetime
) -> datetime | None:
    """When the lock on `subject` lifts, if it is locked now."""
    row = await _row(session, owner_id, subject)
    if row is None or row.locked_until is None or row.locked_until <= now:
        return None
    return row.locked_until


async def record_failure(
    session: AsyncSession, owner_id: int, subject: str, now: datetime
) -> Verdict:
    """Count a wrong password; the fifth within the window locks the certificate."""
    row = await _row(session, owner_id, subject)
    if row is None:
        row = KeyAttempt(owner_id=owner_id, subject=subject, window_started_at=now)
        session.add(row)
    if now - row.window_started_at > WINDOW or (
        row.locked_until is not None and row.locked_until <= now
    ):
        row.failures, row.window_started_at, row.locked_until = 0, now, None
    row.failures += 1
    if row.failures >= MAX_FAILURES:
        row.locked_until = now + LOCKOUT
    await session.flush()
    return Verdict(row.failures, row.locked_until)


async def clear(session: AsyncSession, owner_id: int, subject: str) -> None:
    """The right password was given: forget the failures."""
    await session.execute(
        sa.delete(KeyAttempt).where(
            col(KeyAttempt.owner_id) == owner_id, col(KeyAttempt.subject) == subject
        )
    )


async def _row(session: AsyncSession, owner_id: int, subject: str) -> KeyAttempt | None:
    return await session.scalar(
        select(KeyAttempt).where(
            col(KeyAttempt.owner_id) == owner_id, col(KeyAttempt.subject) == subject
        )
    )
