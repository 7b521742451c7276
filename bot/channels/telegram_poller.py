"""One poller per bot: the process holding the `telegram:poller` lease long-polls.

Telegram lets one getUpdates at a time per bot: a second one ends the first
with 409 Conflict, so processes that all poll fight every few seconds. Each
process in polling mode runs a `PollerLease`: every `every` seconds it tries
to take (or renew) the lease in the database for `lease`; while it holds it,
it runs the long-polling loop. It stops polling when a renewal finds the lease
taken, and also when it cannot renew in time: polling on without a lease
risks two pollers (409 fights) the moment another process takes the expired
lease, while stopping only pauses intake (updates wait at Telegram for 24 h,
and without a database they could not be recorded anyway). A stop releases
the lease at once, so another process takes over at its next try.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from telegram import Bot
from telegram.error import Conflict, NetworkError, TelegramError

from storage import cluster
from storage.database import Database

LEASE_NAME: Final = cluster.POLLER_LEASE
ROLE: Final = cluster.POLLER_ROLE
"""How the holder shows in `certmate status`."""
POLL_SECONDS: Final = 30
POLL_RETRY_SECONDS: Final = 5.0
CONFLICT_LOG_EVERY: Final = timedelta(minutes=1)
ALLOWED_UPDATES: Final = ("message", "callback_query")

Clock = Callable[[], datetime]
Record = Callable[[Sequence[tuple[str, Any]]], Awaitable[object]]

log = logging.getLogger("certmate.telegram")


class Throttle:
    """Says yes at most once per `every` (by `clock`), counting the noes between."""

    def __init__(self, every: timedelta, clock: Clock) -> None:
        self.every = every
        self.clock = clock
        self._last: datetime | None = None
        self.skipped = 0

    def ready(self) -> bool:
        now = self.clock()
        if self._last is not None and now - self._last < self.every:
            self.skipped += 1
            return False
        self._last = now
        return True


async def poll_updates(
    bot: Bot,
    record: Record,
    clock: Clock,
    *,
    long_poll: int = POLL_SECONDS,
    retry: float = POLL_RETRY_SECONDS,
) -> None:
    """Long polling until cancelled: a batch is recorded before the next call confirms
    it to Telegram. A 409 Conflict (a webhook is set, or a poller outside this cluster)
    is logged at most once a minute."""
    conflicts = Throttle(CONFLICT_LOG_EVERY, clock)
    offset: int | None = None
    while True:
        try:
            batch = await bot.get_updates(
                offset=offset, timeout=long_poll, allowed_updates=list(ALLOWED_UPDATES)
            )
        except Conflict:
            if conflicts.ready():
                log.warning(
                    "getUpdates: 409 Conflict (%d more since the last warning): a webhook is"
                    " set or a process outside this database polls this bot; retrying",
                    conflicts.skipped,
                )
                conflicts.skipped = 0
            await asyncio.sleep(retry)
            continue
        except (NetworkError, TelegramError) as err:
            log.warning("getUpdates failed (%s); retrying", type(err).__name__)
            await asyncio.sleep(retry)
            continue
        if not batch:
            continue
        try:
            await record([(str(u.update_id), u.to_dict()) for u in batch])
        except Exception as err:  # noqa: BLE001  (the database: ask for them again)
            log.warning("could not record updates (%s); retrying", type(err).__name__)
            await asyncio.sleep(retry)
            continue  # unconfirmed: the next getUpdates returns them again
        offset = batch[-1].update_id + 1


class PollerLease:
    """Runs `poll` only while this process (`owner`) holds the poller lease."""

    def __init__(
        self,
        database: Database,
        owner: str,
        poll: Callable[[], Coroutine[Any, Any, None]],
        clock: Clock,
        *,
        lease: timedelta,
        every: timedelta,
    ) -> None:
        if every >= lease:
            raise ValueError("the lease must outlast the interval between its renewals")
        self.database = database
        self.owner = owner
        self.poll = poll
        self.clock = clock
        self.lease = lease
        self.every = every
        self.changed = asyncio.Event()
        """Set when this process starts or stops polling (its roll call says so at once)."""
        self._polling: asyncio.Task[None] | None = None
        self._renewed_at: datetime | None = None
        self._failures = Throttle(CONFLICT_LOG_EVERY, clock)

    @property
    def polling(self) -> bool:
        return self._polling is not None

    async def run(self) -> None:
        """Try, renew, poll or not, every `every`, until cancelled; then release."""
        try:
            while True:
                if await self._holds():
                    self._start()
                else:
                    await self._stop()
                await asyncio.sleep(self.every.total_seconds())
        finally:
            await self._stop()
            await self._release()

    async def _holds(self) -> bool:
        """Take or renew the lease. On a failure, keep polling only while the lease
        taken last certainly outlasts the next try."""
        now = self.clock()
        try:
            async with asyncio.timeout(self.every.total_seconds()):
                async with self.database.write() as session:
                    held = await cluster.acquire(session, LEASE_NAME, self.owner, now, self.lease)
        except Exception as err:  # noqa: BLE001  (the database: the next try again)
            next_try = self.clock() + self.every
            safe = self._renewed_at is not None and next_try < self._renewed_at + self.lease
            if self.polling and not safe:
                log.warning(
                    "the poller lease could not be renewed (%s) and may run out before the"
                    " next try; stopping polling until it can be",
                    type(err).__name__,
                )
            elif self._failures.ready():
                log.warning("the poller lease could not be taken (%s)", type(err).__name__)
            return self.polling and safe
        if not held and self.polling:
            log.info("another process took the poller lease; stopping polling")
        self._renewed_at = now if held else None
        return held

    def _start(self) -> None:
        if self._polling is not None and self._polling.done():  # a bug ended it: again
            log.error("polling ended (%s); again", type(self._polling.exception()).__name__)
            self._polling = None
        if self._polling is None:
            log.info("polling Telegram (this process holds the poller lease)")
            self._polling = asyncio.create_task(self.poll(), name="telegram-polling")
            self.changed.set()

    async def _stop(self) -> None:
        polling, self._polling = self._polling, None
        if polling is not None:
            polling.cancel()
            await asyncio.gather(polling, return_exceptions=True)
            self.changed.set()

    async def _release(self) -> None:
        """Free the lease at once, so another process takes over at its next try."""
        if self._renewed_at is None:
            return
        self._renewed_at = None
        try:
            async with self.database.write() as session:
                await cluster.release(session, LEASE_NAME, self.owner)
        except Exception as err:  # noqa: BLE001  (it expires by itself)
            log.warning("could not release the poller lease (%s); it expires", type(err).__name__)
