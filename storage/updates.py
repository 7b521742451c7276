"""Processed platform updates: a webhook delivery recorded once; duplicates are dropped."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Channel, ProcessedUpdate
from storage.sql import affected, insert_ignore


async def record(session: AsyncSession, channel: Channel, update_id: str, now: datetime) -> bool:
    """Record an update; False when it was already recorded (a duplicate delivery)."""
    statement = insert_ignore(
        session,
        ProcessedUpdate,
        {"channel": channel, "update_id": update_id, "received_at": now},
        ["channel", "update_id"],
    )
    result = await session.execute(statement)
    return bool(affected(result))


async def prune(session: AsyncSession, before: datetime) -> int:
    """Forget updates received before `before`; returns how many."""
    result = await session.execute(
        sa.delete(ProcessedUpdate).where(col(ProcessedUpdate.received_at) < before)
    )
    return affected(result)
