"""The pacer `certmate run` gives its senders: shared through PostgreSQL, else local.

Several processes of one bot share Telegram's limits, so on PostgreSQL each
slot is booked in the database (`storage.pacing`). If the database cannot be
reached the slot is booked in this process's memory and sending goes on:
pacing falls back to per process for that moment, and nothing waits on it.
"""

from __future__ import annotations

import logging
from typing import Final

from bot.channels.pacer import LocalPacer, Pacer
from storage import pacing
from storage.database import Database
from storage.transient import is_transient

log = logging.getLogger(__name__)

TIDY_EVERY: Final = 1_000
"""Bookings between two deletions of idle schedules."""


class DatabasePacer:
    """A `Pacer` whose schedules are rows of `send_slots`, with a local fallback."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._local = LocalPacer()
        self._booked = 0

    async def reserve(self, key: str, interval: float, burst: int) -> float:
        try:
            wait = await pacing.reserve(self._database, key, interval, (burst - 1) * interval)
            self._booked += 1
            if self._booked % TIDY_EVERY == 0:
                await pacing.forget_idle(self._database)
        except Exception as error:
            if not is_transient(error):
                raise
            log.warning("shared pacing unavailable (%s); pacing locally", type(error).__name__)
            return self._local.reserve_now(key, interval, burst)
        return wait

    async def hold(self, key: str, seconds: float) -> None:
        self._local.hold_now(key, seconds)
        try:
            await pacing.hold(self._database, key, seconds)
        except Exception as error:
            if not is_transient(error):
                raise
            log.warning("shared pacing unavailable (%s); holding locally", type(error).__name__)


def pacer_for(database: Database) -> Pacer:
    """Shared pacing on PostgreSQL; this process's own on SQLite (one process)."""
    return DatabasePacer(database) if pacing.shared(database) else LocalPacer()
