"""Durable intake and ordered handling of a channel's updates.

`receive` commits the update (its body sealed) before it returns, so the
webhook answers 200, or the poller confirms the batch, only for updates that
survive a crash. Each update is then handled in the lane of its user: one
user's updates run one at a time and in order, different users concurrently
(up to `concurrency` at once). When handled, the body is dropped. Updates
still pending at a stop or a crash are handled by `replay` at the next start.
Delivery is at-least-once: a crash after the replies went out but before the
update was marked handled replays it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Final

from handlers.services import Clock
from storage import updates
from storage.database import Database
from storage.models import Channel
from storage.vault import Vault

REPLAY_BATCH: Final = 500

Body = dict[str, Any]
Handle = Callable[[Body], Awaitable[None]]
LaneOf = Callable[[Body], str]

log = logging.getLogger("certmate.inbox")


class Inbox:
    """Records updates before acknowledging them; hands them to per-user lanes."""

    def __init__(
        self,
        database: Database,
        vault: Vault,
        channel: Channel,
        *,
        handle: Handle,
        lane_of: LaneOf,
        clock: Clock,
        concurrency: int = 64,
    ) -> None:
        self.database = database
        self.vault = vault
        self.channel = channel
        self._handle = handle
        self._lane_of = lane_of
        self._clock = clock
        self._running = asyncio.Semaphore(concurrency)
        self._lanes: dict[str, deque[tuple[int, Body]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def receive(self, update_id: str, body: Body) -> bool:
        """Record the update durably and queue it; False for a duplicate (dropped)."""
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        async with self.database.write() as session:
            row_id = await updates.record(
                session, self.channel, update_id, self._clock(), vault=self.vault, body=raw
            )
        if row_id is None:
            return False
        self._queue(row_id, body)
        return True

    async def replay(self) -> int:
        """Queue every update recorded but never handled, oldest first; how many."""
        count = 0
        async with self.database.read() as session:
            found = await updates.pending(session, self.vault, self.channel, limit=REPLAY_BATCH)
        while found:
            for item in found:
                self._queue(item.row_id, json.loads(item.body))
            count += len(found)
            if len(found) < REPLAY_BATCH:
                break
            # Rows stay pending until handled: wait for this batch before reading on.
            await self.drain(None)
            async with self.database.read() as session:
                found = await updates.pending(session, self.vault, self.channel, limit=REPLAY_BATCH)
        return count

    async def drain(self, grace: float | None) -> bool:
        """Wait until every queued update is handled. On timeout the lanes are cancelled
        (their updates stay pending, for `replay`); False then. `grace` None: no limit."""
        if not self._tasks:
            return True
        _done, late = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)
        self._lanes.clear()
        return not late

    @property
    def busy(self) -> int:
        """Updates queued or being handled."""
        return sum(len(lane) for lane in self._lanes.values())

    def _queue(self, row_id: int, body: Body) -> None:
        lane = self._lane_of(body)
        queued = self._lanes.get(lane)
        if queued is not None:
            queued.append((row_id, body))
            return
        self._lanes[lane] = deque([(row_id, body)])
        task = asyncio.create_task(self._run_lane(lane), name=f"inbox-{self.channel.value}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_lane(self, lane: str) -> None:
        queued = self._lanes[lane]
        try:
            while queued:
                row_id, body = queued[0]
                async with self._running:
                    await self._handle_one(body)
                    async with self.database.write() as session:
                        await updates.mark_handled(session, row_id, self._clock())
                queued.popleft()
        finally:
            if self._lanes.get(lane) is queued:
                del self._lanes[lane]

    async def _handle_one(self, body: Body) -> None:
        try:
            await self._handle(body)
        except Exception as err:  # noqa: BLE001  (one bad update must not stop the lane)
            # Where and what, never the message: it could carry what the user wrote.
            where = traceback.extract_tb(err.__traceback__)[-1]
            log.warning(
                "a %s update could not be handled: %s at %s:%s",
                self.channel.value,
                type(err).__name__,
                where.filename,
                where.lineno,
            )
