"""Housekeeping: forget what certmate keeps only for a while. `certmate run` runs it hourly.

- Handled updates: their rows (bodies are dropped when handled) are kept
  `UPDATE_MEMORY` so a delivery Telegram repeats is recognised and dropped;
  Telegram stops redelivering long before that.
- Dead updates (given up after failing as a bug): kept sealed for the operator
  (`certmate status`) for the same `UPDATE_MEMORY`, then deleted and shredded.
- The files and passwords a flow left alone past its expiry still holds, sealed (the
  user who never writes again): shredded; the row stays, so the next message still
  says the flow was forgotten.
- Button tokens past their expiry: a press on them already answers "not found".
- Secure links past their expiry (their sealed key goes with them).
- Notices shown more than `NOTICE_MEMORY` ago: copies of messages already read,
  which name the holder of a certificate.
- Wrong-password counts whose window is over and whose lock has lifted: they count
  nothing any more, and one is left per key a user mistyped.

Deletes go in short batches, so the single SQLite writer is never held for long.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from storage import attempts, buttons, conversations, links, notices, updates
from storage.database import Database

UPDATE_MEMORY: Final = timedelta(days=7)
NOTICE_MEMORY: Final = timedelta(days=30)
BATCH: Final = 5_000


@dataclass(frozen=True, slots=True)
class Tidied:
    updates: int
    buttons: int
    notices: int
    links: int
    attempts: int
    held: int
    """Expired conversations whose sealed secrets were shredded."""


async def tidy(database: Database, now: datetime, *, batch: int = BATCH) -> Tidied:
    """Forget handled and dead updates older than `UPDATE_MEMORY`, expired button tokens and
    secure links, notices shown more than `NOTICE_MEMORY` ago, and stale password counts;
    shred what expired conversations still hold."""
    forgotten_updates = await _in_batches(
        database, lambda session: updates.prune(session, now - UPDATE_MEMORY, batch), batch
    )
    forgotten_updates += await _in_batches(
        database, lambda session: updates.prune_dead(session, now - UPDATE_MEMORY, batch), batch
    )
    forgotten_buttons = await _in_batches(
        database, lambda session: buttons.prune(session, now, batch), batch
    )
    forgotten_notices = await _in_batches(
        database, lambda session: notices.prune(session, now - NOTICE_MEMORY, batch), batch
    )
    forgotten_links = await _in_batches(
        database, lambda session: links.prune(session, now, batch), batch
    )
    forgotten_attempts = await _in_batches(
        database, lambda session: attempts.prune(session, now, batch), batch
    )
    shredded_held = await _in_batches(
        database, lambda session: conversations.drop_expired_secrets(session, now, batch), batch
    )
    return Tidied(
        forgotten_updates,
        forgotten_buttons,
        forgotten_notices,
        forgotten_links,
        forgotten_attempts,
        shredded_held,
    )


async def _in_batches(
    database: Database, prune: Callable[[AsyncSession], Awaitable[int]], batch: int
) -> int:
    total = 0
    while True:
        async with database.write() as session:
            count = await prune(session)
        total += count
        if count < batch:
            return total
