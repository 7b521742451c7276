"""Send schedules in PostgreSQL, so every process of one bot keeps one pace.

Each key is a GCRA schedule: one row holding the next free slot, in seconds
on the database server's clock (one clock for every process). Booking a slot
is one statement that moves the row on and returns the wait, so concurrent
senders in any process queue in order.
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa

from storage.database import Database

FORGET_AFTER: Final = 60.0
"""Seconds a schedule must be idle before its row may be deleted (a chat's)."""

_NOW = "extract(epoch from clock_timestamp())::float8"
_RESERVE = sa.text(
    f"""
    INSERT INTO send_slots AS slot (key, next_at) VALUES (:key, {_NOW} + :interval)
    ON CONFLICT (key) DO UPDATE SET next_at = greatest(slot.next_at, {_NOW}) + :interval
    RETURNING slot.next_at - :interval - :tolerance - {_NOW}
    """  # noqa: S608  (constants only; the values are bound)
)
_HOLD = sa.text(
    f"""
    INSERT INTO send_slots AS slot (key, next_at) VALUES (:key, {_NOW} + :seconds)
    ON CONFLICT (key) DO UPDATE SET next_at = greatest(slot.next_at, {_NOW} + :seconds)
    """  # noqa: S608
)
_FORGET = sa.text(f"DELETE FROM send_slots WHERE next_at < {_NOW} - :idle")  # noqa: S608


def shared(database: Database) -> bool:
    """Whether schedules can be shared through `database` (PostgreSQL; one SQLite
    process paces alone)."""
    return not database.is_sqlite


async def reserve(database: Database, key: str, interval: float, tolerance: float) -> float:
    """Book the next slot of `key` (one per `interval` s, `tolerance` s early allowed);
    the seconds to wait before using it."""
    values = {"key": key, "interval": interval, "tolerance": tolerance}
    async with database.engine.begin() as connection:
        wait = (await connection.execute(_RESERVE, values)).scalar_one()
    return max(0.0, float(wait))


async def hold(database: Database, key: str, seconds: float) -> None:
    """Move the next slot of `key` to at least `seconds` from now."""
    async with database.engine.begin() as connection:
        await connection.execute(_HOLD, {"key": key, "seconds": seconds})


async def forget_idle(database: Database) -> int:
    """Delete schedules idle for `FORGET_AFTER` seconds (their next slot is long free)."""
    async with database.engine.begin() as connection:
        result = await connection.execute(_FORGET, {"idle": FORGET_AFTER})
    return int(result.rowcount)
