"""Durable intake and ordered handling of a channel's updates, by many processes at once.

`receive` returns only once the update (its body sealed) is committed, so
the webhook answers 200, or the poller confirms the batch, only for updates
that survive a crash. Updates arriving together are committed together: one
writer takes everything that arrived while it wrote the previous batch (a
group commit; each caller still waits for the commit carrying its update).

Each update belongs to the lane of its user. A process handles a lane only
while it holds the lane's lease (storage/lanes.py), taken in the same
transaction that records the update, renewed every `LANE_LEASE / 3` while
the work is alive, and released in the transaction that marks the lane's
last update handled, after checking that no other process recorded one for
it meanwhile (if one did, the holder keeps the lease and handles it too). So
one user's updates run one at a time and in order across every process,
different users concurrently (up to `concurrency` at once in this process).
An update recorded by a process that could not take its lane is handled by
the holder; a crashed holder's lanes are taken over by any process's
`sweep` (every `SWEEP_EVERY` seconds) once their lease has expired, within
`LANE_LEASE`. Handled updates have their bodies dropped, in batches.

Failures: a transient one (database or network, `storage.transient`)
leaves the update pending and is retried with backoff for as long as the
process runs, the lane waiting so the order is kept. Any other error is a
bug: it is counted on the row, retried, and after `updates.MAX_ATTEMPTS`
tries the update is dead (kept sealed for the operator, counted by `certmate
status`) and the lane goes on. `handle` must raise only for failures before
the conversation step committed (a rolled-back step is safely run again);
what fails after it (sending the replies) it logs itself, or a retry would
answer a state that has moved on. Delivery is at-least-once: a crash after
the replies went out but before the update was marked handled, or a holder
stalled beyond its lease, repeats it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import traceback
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any, Final, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.metrics import Metrics
from handlers.services import Clock
from storage import lanes, updates
from storage.database import Database
from storage.models import Channel
from storage.transient import is_transient
from storage.vault import Vault

LANE_LEASE: Final = timedelta(seconds=60)
SWEEP_EVERY: Final = 5.0
"""Seconds between two looks for lanes with pending updates and no live holder."""
SWEEP_LANES: Final = 500
TRANSIENT_BACKOFF: Final = (0.5, 1.0, 2.0, 4.0, 8.0, 10.0)
"""Seconds before retrying after a transient failure; the last repeats for ever."""
BUG_BACKOFF: Final = 0.2
REMEMBER_DONE: Final = 10_000
"""Row ids handled lately, so a stale read never hands this process one again."""

Body = dict[str, Any]
Handle = Callable[[Body], Awaitable[None]]
LaneOf = Callable[[Body], str]
Transient = Callable[[BaseException], bool]
T = TypeVar("T")

log = logging.getLogger("certmate.inbox")


@dataclass(slots=True)
class _Arrival:
    update_id: str
    body: Body
    recorded: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass(slots=True)
class _Lane:
    """A lane this process holds: its updates in hand, in order."""

    queue: deque[tuple[int, Body]] = field(default_factory=deque)
    seen: set[int] = field(default_factory=set)

    def add(self, row_id: int, body: Body) -> None:
        """Queue the update unless already seen, in row order behind the one in hand (an
        update another process recorded earlier may be found after a later one of ours)."""
        if row_id in self.seen:
            return
        self.seen.add(row_id)
        self.queue.append((row_id, body))
        if len(self.queue) > 2 and self.queue[-2][0] > row_id:
            head = self.queue.popleft()
            self.queue = deque([head, *sorted(self.queue, key=lambda item: item[0])])


class Inbox:
    """Records updates before acknowledging them; handles each user's in order, in
    whichever process holds the user's lane."""

    def __init__(
        self,
        database: Database,
        vault: Vault,
        channel: Channel,
        *,
        handle: Handle,
        lane_of: LaneOf,
        clock: Clock,
        owner: str | None = None,
        concurrency: int = 64,
        lease: timedelta = LANE_LEASE,
        sweep_every: float = SWEEP_EVERY,
        transient: Transient = is_transient,
        metrics: Metrics | None = None,
    ) -> None:
        self.database = database
        self._metrics = metrics or Metrics()
        self._label = {"channel": channel.value}
        self.vault = vault
        self.channel = channel
        self.owner = owner or f"inbox:{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._handle = handle
        self._lane_of = lane_of
        self._clock = clock
        self._lease = lease
        self._sweep_every = sweep_every
        self._transient = transient
        self._running = asyncio.Semaphore(concurrency)
        self._lanes: dict[str, _Lane] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._arrivals: list[_Arrival] = []
        self._recorder: asyncio.Task[None] | None = None
        self._handled: list[int] = []
        self._finishing: dict[str, asyncio.Future[list[updates.PendingUpdate]]] = {}
        self._marker: asyncio.Task[None] | None = None
        self._done: deque[int] = deque(maxlen=REMEMBER_DONE)
        self._done_set: set[int] = set()
        self._background: list[asyncio.Task[None]] = []

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Sweep for pending updates now and every `sweep_every` seconds, and keep this
        process's lane leases renewed."""
        self._background = [
            asyncio.create_task(self._sweeping(), name=f"inbox-sweep-{self.channel.value}"),
            asyncio.create_task(self._renewing(), name=f"inbox-renew-{self.channel.value}"),
        ]

    async def stop(self, grace: float) -> bool:
        """Take no more lanes, let the updates in hand finish and be marked within `grace`
        seconds, then release every lane lease at once so other processes take what is
        left; False when some update was cut short (it stays pending)."""
        sweeping = self._background[:1]
        for task in sweeping:
            task.cancel()
        await asyncio.gather(*sweeping, return_exceptions=True)
        finished = await self.drain(grace)
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background = []
        try:
            async with self.database.write() as session:
                await lanes.release_all(session, self.channel, self.owner)
        except Exception as err:  # noqa: BLE001  (the leases expire anyway)
            log.warning("could not release the lanes at stop (%s)", type(err).__name__)
        return finished

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

    async def sweep(self) -> int:
        """Take the lanes with pending updates whose lease is free or expired (a crashed
        or stopped holder, or a race no holder saw) and handle them; how many updates."""
        now = self._clock()
        async with self.database.read() as session:
            waiting = await updates.pending_lanes(session, self.channel, SWEEP_LANES)
            waiting = [lane for lane in waiting if lane not in self._lanes]
            free = (
                await lanes.free(session, self.channel, waiting, self.owner, now) if waiting else []
            )
        if not free:
            return 0
        async with self.database.write() as session:
            held = await lanes.acquire(
                session, self.channel, free, owner=self.owner, now=now, lease=self._lease
            )
            found = await updates.pending_in(session, self.vault, self.channel, held)
            idle = held - found.keys()
            if idle:  # handled meanwhile by their holder
                await lanes.release_idle(session, self.channel, idle, self.owner)
        return sum(self._take(lane, self._bodies(items, {})) for lane, items in found.items())

    async def drain(self, grace: float | None) -> bool:
        """Wait until every queued update is handled and marked so. Past `grace` seconds
        (None: no limit) what is left is cancelled and stays pending (for this process's
        or another's sweep); False then."""
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
        if self._marker is not None and not self._marker.done():
            _done, still = await asyncio.wait({self._marker}, timeout=left())
            late |= still
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        if late:
            self._lanes.clear()
        return not late

    @property
    def busy(self) -> int:
        """Updates queued, being handled, or handled but not yet marked so."""
        marking = 0 if self._marker is None or self._marker.done() else 1
        queued = sum(len(lane.queue) for lane in self._lanes.values())
        return queued + len(self._handled) + len(self._finishing) + marking

    # --- intake ----------------------------------------------------------------------

    async def _record(self) -> None:
        """Commit everything that has arrived, batch after batch, until none is waiting;
        the lanes of the new updates are taken in the same transaction."""
        while self._arrivals:
            batch, self._arrivals = self._arrivals, []
            keys = [self._lane_of(arrival.body)[:64] for arrival in batch]
            try:
                async with self.database.write() as session:
                    now = self._clock()
                    row_ids = [
                        await updates.record(
                            session,
                            self.vault,
                            self.channel,
                            arrival.update_id,
                            _encode(arrival.body),
                            lane=lane,
                            now=now,
                        )
                        for arrival, lane in zip(batch, keys, strict=True)
                    ]
                    new = {lane for lane, row_id in zip(keys, row_ids, strict=True) if row_id}
                    held = await lanes.acquire(
                        session, self.channel, new, owner=self.owner, now=now, lease=self._lease
                    )
                    # Other processes may have recorded updates in these lanes before:
                    # they go first (the lease lock makes them visible here).
                    known = {row_id for row_id in row_ids if row_id is not None}
                    known |= {
                        row
                        for lane in held
                        if lane in self._lanes
                        for row in self._lanes[lane].seen
                    }
                    waiting = await updates.pending_in(
                        session, self.vault, self.channel, held, known=known
                    )
            except Exception as err:  # noqa: BLE001  (each waiting caller gets the error)
                for arrival in batch:
                    if not arrival.recorded.done():
                        arrival.recorded.set_exception(err)
                continue
            bodies = {
                row_id: arrival.body
                for arrival, row_id in zip(batch, row_ids, strict=True)
                if row_id is not None
            }
            self._metrics.updates_received.labels(**self._label).inc(len(bodies))
            for lane in dict.fromkeys(keys):
                if lane not in held:
                    continue  # its holder handles it when it has finished what it has
                self._take(lane, self._bodies(waiting.get(lane, []), bodies))
            for arrival, row_id in zip(batch, row_ids, strict=True):
                if not arrival.recorded.done():  # the caller may have gone (a closed request)
                    arrival.recorded.set_result(row_id is not None)

    def _bodies(
        self, found: Iterable[updates.PendingUpdate], bodies: dict[int, Body]
    ) -> list[tuple[int, Body]]:
        """The updates found pending, with their bodies: those in hand already come from
        `bodies` or the lane (skipped there), the others opened from their rows."""
        items = []
        for item in found:
            if item.row_id in bodies:
                items.append((item.row_id, bodies[item.row_id]))
            elif item.body:
                items.append((item.row_id, json.loads(item.body)))
        return items

    def _take(self, lane_key: str, items: Iterable[tuple[int, Body]]) -> int:
        """Queue `items` on a lane this process holds (starting its task if needed)."""
        lane = self._lanes.get(lane_key)
        started = lane is None
        if lane is None:
            lane = self._lanes[lane_key] = _Lane()
        before = len(lane.queue)
        for row_id, body in items:
            if row_id not in self._done_set:
                lane.add(row_id, body)
        if started:
            task = asyncio.create_task(
                self._run_lane(lane_key, lane), name=f"inbox-{self.channel.value}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(lane.queue) - before

    # --- a lane ----------------------------------------------------------------------

    async def _run_lane(self, key: str, lane: _Lane) -> None:
        try:
            while True:
                while lane.queue:
                    row_id, body = lane.queue[0]
                    if row_id not in self._done_set:
                        handled = await self._handle_one(row_id, body)
                        self._remember(row_id)
                        if handled:
                            self._handled.append(row_id)
                            self._wake_marker()
                    lane.queue.popleft()
                # Nothing in hand: mark, and release the lease unless others recorded more.
                finished = asyncio.get_running_loop().create_future()
                self._finishing[key] = finished
                self._wake_marker()
                for row_id, body in self._bodies(await finished, {}):
                    if row_id not in self._done_set:
                        lane.add(row_id, body)
                if not lane.queue:
                    return
        finally:
            if self._lanes.get(key) is lane:
                del self._lanes[key]

    def _remember(self, row_id: int) -> None:
        if len(self._done) == self._done.maxlen:
            self._done_set.discard(self._done[0])
        self._done.append(row_id)
        self._done_set.add(row_id)

    async def _handle_one(self, row_id: int, body: Body) -> bool:
        """Handle the update, retrying transient failures for as long as it takes and
        bugs up to `MAX_ATTEMPTS` tries; True when handled, False when given up (dead)."""
        waits = 0
        while True:
            try:
                async with self._running:
                    await self._handle(body)
            except Exception as err:  # noqa: BLE001  (one bad update must not stop the lane)
                where = _where(err)
                if self._transient(err):
                    delay = TRANSIENT_BACKOFF[min(waits, len(TRANSIENT_BACKOFF) - 1)]
                    waits += 1
                    log.warning(
                        "a %s update failed for now (%s); retrying in %.1f s",
                        self.channel.value,
                        where,
                        delay,
                    )
                    self._metrics.updates_retried.labels(**self._label).inc()
                    await asyncio.sleep(delay)
                    continue
                dead = await self._write(
                    partial(updates.failed, row_id=row_id, error=where, now=self._clock())
                )
                if dead:
                    self._metrics.updates_dead.labels(**self._label).inc()
                    log.warning(
                        "a %s update could not be handled (%s): given up after %d tries,"
                        " kept for the operator",
                        self.channel.value,
                        where,
                        updates.MAX_ATTEMPTS,
                    )
                    return False
                log.warning("a %s update failed (%s); trying again", self.channel.value, where)
                self._metrics.updates_retried.labels(**self._label).inc()
                await asyncio.sleep(BUG_BACKOFF)
                continue
            self._metrics.updates_handled.labels(**self._label).inc()
            return True

    async def _write(self, step: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """`step` in a write transaction, tried again after transient failures."""
        waits = 0
        while True:
            try:
                async with self.database.write() as session:
                    return await step(session)
            except Exception as err:
                if not is_transient(err):
                    raise
                delay = TRANSIENT_BACKOFF[min(waits, len(TRANSIENT_BACKOFF) - 1)]
                waits += 1
                await asyncio.sleep(delay)

    # --- marking and releasing -------------------------------------------------------

    def _wake_marker(self) -> None:
        if self._marker is None or self._marker.done():
            self._marker = asyncio.create_task(self._mark(), name="inbox-mark")

    async def _mark(self) -> None:
        """Drop the bodies of handled updates and settle finishing lanes, batch after
        batch, one transaction each: a finishing lane's lease is released unless pending
        updates (recorded by other processes) wait in it; those go back to its task. A
        crash before a batch commits repeats those updates (at-least-once); a failed
        batch is retried."""
        waits = 0
        while self._handled or self._finishing:
            batch, self._handled = self._handled, []
            finishing, self._finishing = self._finishing, {}
            try:
                async with self.database.write() as session:
                    if batch:
                        await updates.mark_handled(session, batch, self._clock())
                    found: dict[str, list[updates.PendingUpdate]] = {}
                    if finishing:
                        await lanes.lock(session, self.channel, finishing)
                        known = {
                            row_id
                            for key in finishing
                            if (lane := self._lanes.get(key)) is not None
                            for row_id in lane.seen
                        }
                        found = await updates.pending_in(
                            session, self.vault, self.channel, finishing, known=known
                        )
                        idle = [key for key in finishing if not found.get(key)]
                        if idle:
                            await lanes.release_idle(session, self.channel, idle, self.owner)
            except Exception as err:  # noqa: BLE001
                delay = TRANSIENT_BACKOFF[min(waits, len(TRANSIENT_BACKOFF) - 1)]
                waits += 1
                log.warning(
                    "could not mark updates handled (%s); retrying in %.1f s",
                    type(err).__name__,
                    delay,
                )
                self._handled[:0] = batch
                self._finishing = finishing | self._finishing
                await asyncio.sleep(delay)
                continue
            waits = 0
            for key, future in finishing.items():
                if not future.done():
                    future.set_result(found.get(key, []))

    # --- background ------------------------------------------------------------------

    async def _sweeping(self) -> None:
        while True:
            try:
                taken = await self.sweep()
            except Exception as err:  # noqa: BLE001  (the next sweep tries again)
                log.warning("the %s inbox sweep failed (%s)", self.channel.value, _where(err))
            else:
                if taken:
                    log.info("took over %d pending %s update(s)", taken, self.channel.value)
            await asyncio.sleep(self._sweep_every)

    async def _renewing(self) -> None:
        """Renew the leases of the lanes in hand every third of a lease."""
        every = self._lease.total_seconds() / 3
        while True:
            await asyncio.sleep(every)
            held = sorted(self._lanes)
            try:
                for start in range(0, len(held), 500):
                    async with self.database.write() as session:
                        await lanes.renew(
                            session,
                            self.channel,
                            held[start : start + 500],
                            owner=self.owner,
                            now=self._clock(),
                            lease=self._lease,
                        )
            except Exception as err:  # noqa: BLE001  (a third of the lease is left)
                log.warning("could not renew the %s lanes (%s)", self.channel.value, _where(err))


def _where(err: BaseException) -> str:
    """The error's type and where it was raised, never its message: it could carry what
    the user wrote."""
    frames = traceback.extract_tb(err.__traceback__)
    if not frames:
        return type(err).__name__
    where = frames[-1]
    return f"{type(err).__name__} at {Path(where.filename).name}:{where.lineno}"


def _encode(body: Body) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
