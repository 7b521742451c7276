"""Notices: messages kept for a user who cannot be messaged first (console, Kakao without
the Event API), shown at their next message."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.models import Notice
from storage.sql import affected


async def add(
    session: AsyncSession,
    owner_id: int,
    *,
    message_id: str,
    text: str,
    choices: list[list[str]],
    certificates: list[str],
    now: datetime,
) -> None:
    session.add(
        Notice(
            owner_id=owner_id,
            message_id=message_id,
            text=text,
            choices=choices,
            certificates=certificates,
            created_at=now,
        )
    )


async def take(session: AsyncSession, owner_id: int, now: datetime) -> Sequence[Notice]:
    """The notices not shown yet, oldest first, marked shown."""
    rows = (
        await session.scalars(
            select(Notice)
            .where(col(Notice.owner_id) == owner_id, col(Notice.shown_at).is_(None))
            .order_by(col(Notice.id))
        )
    ).all()
    for row in rows:
        row.shown_at = now
    return rows


async def prune(session: AsyncSession, before: datetime, limit: int = 5_000) -> int:
    """Forget up to `limit` notices shown before `before`; returns how many (call again
    while it returns `limit`). A shown notice is only a copy of a message already read."""
    shown = (
        select(Notice.id)
        .where(col(Notice.shown_at).is_not(None), col(Notice.shown_at) < before)
        .limit(limit)
    )
    result = await session.execute(
        sa.delete(Notice).where(col(Notice.id).in_(shown.scalar_subquery()))
    )
    return affected(result)
