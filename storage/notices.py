"""Notices: messages kept for a user who cannot be messaged first (console, Kakao without
the Event API), shown at their next message."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.models import Notice


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
