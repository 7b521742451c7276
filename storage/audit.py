"""Audit events: what was done, by whom, when. Never a secret."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.models import AuditAction, AuditEvent


async def record(
    session: AsyncSession,
    owner_id: int | None,
    action: AuditAction,
    now: datetime,
    detail: str | None = None,
) -> None:
    """Record an event; `detail` is a short public note (a fingerprint, a count)."""
    session.add(AuditEvent(owner_id=owner_id, action=action, detail=detail, created_at=now))


async def list_for_owner(session: AsyncSession, owner_id: int) -> Sequence[AuditEvent]:
    result = await session.scalars(
        select(AuditEvent).where(col(AuditEvent.owner_id) == owner_id).order_by(col(AuditEvent.id))
    )
    return result.all()
