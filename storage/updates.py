"""The update inbox: a platform update is recorded before it is acknowledged.

A webhook answers 200 (and a poller asks for the next batch) only after the
update's row is committed, its body sealed because it may hold a typed
password. The update is then handled and its body dropped and shredded (the
write checkpoints the WAL, so no copy of the files gives it back). A crash between
the two leaves the row pending, and the next start handles it: nothing the
platform believes delivered is lost. The row (without body) stays until
pruned, so a redelivered duplicate is recognised and dropped.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.database import SHREDDED
from storage.models import Channel, ProcessedUpdate
from storage.sql import affected
from storage.vault import Binding, Sealed, Vault


@dataclass(frozen=True, slots=True)
class PendingUpdate:
    """An update recorded but not yet handled."""

    row_id: int
    update_id: str
    body: bytes


def binding(channel: Channel, update_id: str) -> Binding:
    identity = f"{channel.value}:{update_id}"
    return Binding("update", identity, channel.value)


async def record(
    session: AsyncSession,
    vault: Vault,
    channel: Channel,
    update_id: str,
    body: bytes,
    *,
    now: datetime,
) -> int | None:
    """Record an update, its body sealed; its row id, or None when it was already
    recorded (a duplicate delivery)."""
    sealed = vault.seal(body, binding(channel, update_id))
    values = {
        "channel": channel,
        "update_id": update_id,
        "received_at": now,
        "sealed_key_id": sealed.key_id,
        "sealed": sealed.blob,
    }
    statement = _insert_returning(session.get_bind().dialect.name)
    row_id: int | None = await session.scalar(statement, values)
    return row_id


@cache
def _insert_returning(dialect: str) -> sa.Insert:
    """Built once per dialect: this runs for every update, and building costs more than
    executing."""
    table: sa.Table = ProcessedUpdate.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert.on_conflict_do_nothing(index_elements=["channel", "update_id"]).returning(
        table.c.id
    )


async def mark_handled(session: AsyncSession, row_ids: Collection[int], now: datetime) -> None:
    """The updates were handled: drop their bodies (shredded: a body may hold a password).
    The inbox marks handled updates in batches, so the checkpoint is paid once a batch."""
    session.info[SHREDDED] = True
    await session.execute(
        sa.update(ProcessedUpdate)
        .where(col(ProcessedUpdate.id).in_(list(row_ids)))
        .values(handled_at=now, sealed=None, sealed_key_id=None)
    )


async def pending(
    session: AsyncSession, vault: Vault, channel: Channel, limit: int
) -> list[PendingUpdate]:
    """Updates recorded but not handled (a crash or a stop came first), oldest first."""
    rows = (
        await session.scalars(
            select(ProcessedUpdate)
            .where(ProcessedUpdate.channel == channel, col(ProcessedUpdate.handled_at).is_(None))
            .order_by(col(ProcessedUpdate.id))
            .limit(limit)
        )
    ).all()
    found = []
    for row in rows:
        if row.id is None or row.sealed is None or row.sealed_key_id is None:
            continue
        body = vault.open(Sealed(row.sealed_key_id, row.sealed), binding(channel, row.update_id))
        found.append(PendingUpdate(row.id, row.update_id, body))
    return found


async def prune(session: AsyncSession, before: datetime, limit: int = 5_000) -> int:
    """Forget up to `limit` handled updates received before `before`; returns how many
    (call again while it returns `limit`: short transactions keep the writer free)."""
    oldest = (
        select(ProcessedUpdate.id)
        .where(
            col(ProcessedUpdate.received_at) < before,
            col(ProcessedUpdate.handled_at).is_not(None),
        )
        .limit(limit)
    )
    result = await session.execute(
        sa.delete(ProcessedUpdate).where(col(ProcessedUpdate.id).in_(oldest.scalar_subquery()))
    )
    return affected(result)
