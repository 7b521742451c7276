"""The update inbox: a platform update is recorded before it is acknowledged.

A webhook answers 200 (and a poller asks for the next batch) only after the
update's row is committed, its body sealed because it may hold a typed
password. The update is then handled and its body dropped and shredded (the
write checkpoints the WAL, so no copy of the files gives it back). A crash between
the two leaves the row pending, and another process (or the next start) handles it:
nothing the platform believes delivered is lost. An update whose handling fails
as a bug `MAX_ATTEMPTS` times is dead: kept sealed, no longer pending, counted
by `certmate status`, shredded with the handled ones. The row (without body)
stays until pruned, so a redelivered duplicate is recognised and dropped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.database import SHREDDED
from storage.models import Channel, ProcessedUpdate
from storage.sql import affected
from storage.vault import Binding, Sealed, Vault

MAX_ATTEMPTS: Final = 3
"""Tries in all before an update that fails as a bug is given up as dead."""


@dataclass(frozen=True, slots=True)
class PendingUpdate:
    """An update recorded but not yet handled."""

    row_id: int
    update_id: str
    body: bytes
    lane: str = ""


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
    lane: str = "",
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
        "lane": lane,
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


def _pending() -> sa.ColumnElement[bool]:
    return sa.and_(
        col(ProcessedUpdate.handled_at).is_(None), col(ProcessedUpdate.dead_at).is_(None)
    )


async def pending_in(
    session: AsyncSession,
    vault: Vault,
    channel: Channel,
    lanes: Collection[str],
    *,
    known: Collection[int] = (),
) -> dict[str, list[PendingUpdate]]:
    """The pending updates of `lanes` (neither handled nor dead), oldest first by lane;
    those in `known` (already in hand) come without their body opened."""
    if not lanes:
        return {}
    rows = await session.execute(
        sa.select(
            col(ProcessedUpdate.id),
            col(ProcessedUpdate.update_id),
            col(ProcessedUpdate.lane),
            col(ProcessedUpdate.sealed_key_id),
            col(ProcessedUpdate.sealed),
        )
        .where(
            col(ProcessedUpdate.channel) == channel,
            col(ProcessedUpdate.lane).in_(list(lanes)),
            _pending(),
        )
        .order_by(col(ProcessedUpdate.id))
    )
    found: dict[str, list[PendingUpdate]] = defaultdict(list)
    for row_id, update_id, lane, key_id, blob in rows:
        if row_id is None:
            continue
        if row_id in known:
            found[lane].append(PendingUpdate(row_id, update_id, b"", lane))
        elif key_id is not None and blob is not None:
            body = vault.open(Sealed(key_id, blob), binding(channel, update_id))
            found[lane].append(PendingUpdate(row_id, update_id, body, lane))
    return found


async def pending_lanes(session: AsyncSession, channel: Channel, limit: int) -> list[str]:
    """Lanes with pending updates (up to `limit`), those waiting longest first."""
    rows = await session.execute(
        sa.select(col(ProcessedUpdate.lane), sa.func.min(ProcessedUpdate.id))
        .where(col(ProcessedUpdate.channel) == channel, _pending())
        .group_by(col(ProcessedUpdate.lane))
        .order_by(sa.func.min(ProcessedUpdate.id))
        .limit(limit)
    )
    return [lane for lane, _first in rows]


async def failed(session: AsyncSession, *, row_id: int, error: str, now: datetime) -> bool:
    """A try at handling the update failed as a bug (`error`: type and place, never a
    message): counted; at `MAX_ATTEMPTS` it is dead (its body kept sealed). Whether dead."""
    await session.execute(
        sa.update(ProcessedUpdate)
        .where(col(ProcessedUpdate.id) == row_id)
        .values(attempts=ProcessedUpdate.attempts + 1, last_error=error[:160])
    )
    attempts = await session.scalar(
        select(ProcessedUpdate.attempts).where(col(ProcessedUpdate.id) == row_id)
    )
    if attempts is None or attempts < MAX_ATTEMPTS:
        return False
    await session.execute(
        sa.update(ProcessedUpdate).where(col(ProcessedUpdate.id) == row_id).values(dead_at=now)
    )
    return True


async def prune(session: AsyncSession, before: datetime, limit: int = 5_000) -> int:
    """Forget up to `limit` handled updates received before `before`; returns how many
    (call again while it returns `limit`: short transactions keep the writer free)."""
    return await _prune(session, col(ProcessedUpdate.handled_at).is_not(None), before, limit)


async def prune_dead(session: AsyncSession, before: datetime, limit: int = 5_000) -> int:
    """Forget up to `limit` dead updates received before `before`, shredding their sealed
    bodies; returns how many."""
    session.info[SHREDDED] = True
    return await _prune(session, col(ProcessedUpdate.dead_at).is_not(None), before, limit)


async def _prune(
    session: AsyncSession, which: sa.ColumnElement[bool], before: datetime, limit: int
) -> int:
    oldest = (
        select(ProcessedUpdate.id)
        .where(col(ProcessedUpdate.received_at) < before, which)
        .limit(limit)
    )
    result = await session.execute(
        sa.delete(ProcessedUpdate).where(col(ProcessedUpdate.id).in_(oldest.scalar_subquery()))
    )
    return affected(result)
