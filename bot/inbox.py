"""Durable intake and ordered handling of a channel's updates.

`receive` returns only once the update (its body sealed) is committed, so
the webhook answers 200, or the poller confirms the batch, only for updates
that survive a crash. Updates arriving together are committed together: one
writer takes everything that arrived while it wrote the previous batch (a
group commit; each caller still waits for the commit carrying its update).
Each update is then handled in the lane of its user: one user's updates run
one at a time and in order, different users concurrently (up to
`concurrency` at once). Handled updates have their bodies dropped, again in
batches. Updates still pending at a stop or a crash are handled by `replay`
at the next start. Delivery is at-least-once: a crash after the replies went
out but before the update was marked handled replays it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
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


@dataclass(slots=True)
class _Arrival:
    update_id: str
    body: Body
    recorded: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


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
        self._arrivals: list[_Arrival] = []
        self._recorder: asyncio.Task[None] | None = None
        self._handled: list[int] = []
        self._marker: asyncio.Task[None] | None = None

    async def receive(self, update_id: str, body: Body) -> bool:
        """Record the update durably and queue it; False for a duplicate (dropped)."""
        [recorded] = await self.receive_many([(update_id, body)])
        return recorded

    async def receive_many(self, items: Sequence[tuple[str, Body]]) -> list[bool]:
        """Record updates durably (in one commit with whatever else is arriving) and
        queue them in order; for each, False when it was a duplicate."""
        arrivals = [_Arrival(update_id, body) for update_id, body in items]
        self._arrivals.extend(arrivals)
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record(), name="inbox-record")
        return list(await asyncio.gather(*(a.recorded for a in arrivals)))

    async def replay(self) -> int:
        """Queue every update recorded but never handled, oldest first; how many."""
        count = 0
        while True:
            async with self.database.read() as session:
                found = await updates.pending(session, self.vault, self.channel, limit=REPLAY_BATCH)
            for item in found:
                self._queue(item.row_id, json.loads(item.body))
            count += len(found)
            if len(found) < REPLAY_BATCH:
                return count
            # Rows stay pending until handled: finish this batch before reading on.
            await self.drain(None)

    async def drain(self, grace: float | None) -> bool:
        """Wait until every queued update is handled and marked so. Past `grace` seconds
        (None: no limit) what is left is cancelled and stays pending, for `replay`;
        False then."""
        loop = asyncio.get_running_loop()
        deadline = None if grace is None else loop.time() + grace

        def left() -> float | None:
            return None if deadline is None else max(deadline - loop.time(), 0.1)

        late: set[asyncio.Task[None]] = set()
        if self._recorder is not None and not self._recorder.done():
            # Updates being committed now are acknowledged: queue them before waiting.
            _done, late = await asyncio.wait({self._recorder}, timeout=left())
        if self._tasks:
            _done, still = await asyncio.wait(set(self._tasks), timeout=left())
            late |= still
            self._lanes.clear()
        if self._marker is not None and not self._marker.done():
            _done, still = await asyncio.wait({self._marker}, timeout=left())
            late |= still
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        return not late

    @property
    def busy(self) -> int:
        """Updates queued, being handled, or handled but not yet marked so."""
        marking = 0 if self._marker is None or self._marker.done() else 1
        return sum(len(lane) for lane in self._lanes.values()) + len(self._handled) + marking

    async def _record(self) -> None:
        """Commit everything that has arrived, batch after batch, until none is waiting."""
        while self._arrivals:
            batch, self._arrivals = self._arrivals, []
            try:
                async with self.database.write() as session:
                    row_ids = [
                        await updates.record(
                            session,
                            self.vault,
                            self.channel,
                            arrival.update_id,
                            _encode(arrival.body),
                            now=self._clock(),
                        )
                        for arrival in batch
                    ]
            except Exception as err:  # noqa: BLE001  (each waiting caller gets the error)
                for arrival in batch:
                    if not arrival.recorded.done():
                        arrival.recorded.set_exception(err)
                continue
            for arrival, row_id in zip(batch, row_ids, strict=True):
                if row_id is not None:
                    self._queue(row_id, arrival.body)
                if not arrival.recorded.done():  # the caller may have gone (a closed request)
                    arrival.recorded.set_result(row_id is not None)

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
                queued.popleft()
                self._mark_handled(row_id)
        finally:
            if self._lanes.get(lane) is queued:
                del self._lanes[lane]

    def _mark_handled(self, row_id: int) -> None:
        self._handled.append(row_id)
        if self._marker is None or self._marker.done():
            self._marker = asyncio.create_task(self._mark(), name="inbox-mark")

    async def _mark(self) -> None:
        """Drop the bodies of handled updates, batch after batch. A crash before a batch
        commits replays those updates (at-least-once); a failed batch is retried."""
        while self._handled:
            batch, self._handled = self._handled, []
            try:
                async with self.database.write() as session:
                    await updates.mark_handled(session, batch, self._clock())
            except Exception as err:  # noqa: BLE001
                log.warning("could not mark updates handled (%s); retrying", type(err).__name__)
                self._handled[:0] = batch
                await asyncio.sleep(1)

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


def _encode(body: Body) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
