"""One reminder sweep: plan what fell due into the outbox, then claim, send and mark it.

Planning walks only certificates whose `next_reminder_at` has come (an
index serves that query) and records each slot once: the unique outbox row
per (certificate, kind, threshold) makes a second sweep plan nothing. The
dispatch claims due rows with a lease, builds one message per user covering
all their due certificates, sends it through the user's channel notifier
and marks the rows sent. A crash between send and mark resends once the
lease expires (at least once); nothing claimed is ever lost. `certmate
remind` and the scheduler run exactly this.

Leases are counted from each claim on the sweeper's clock and renewed while
the sweep works, so a long sweep never holds a lease that is already over,
and a crashed sweeper's rows are taken over within one LEASE. A database
failure is retried (it fails only the rows it touched, never the batch), and
`stop()` ends a sweep gracefully: messages being sent finish and are marked,
everything else claimed is released at once for another process.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.metrics import Metrics
from bot.reminders.notifiers import Notifier, NotifierError, UserUnreachable
from handlers.flow import Context
from handlers.messages import Reply
from handlers.reminder_message import Due, compose
from handlers.reminder_plan import (
    Decision,
    Preferences,
    decide,
    is_quiet,
    preferences_for,
    quiet_ends,
    slots,
)
from handlers.services import Clock, Services
from storage import certificates, reminders, users
from storage.certificates import Cursor
from storage.models import Certificate, Channel, Reminder, ReminderStatus, User
from storage.transient import BACKOFF, retry_transient

log = logging.getLogger(__name__)
T = TypeVar("T")

PLAN_BATCH: Final = 500
ANALYZE_EVERY: Final = 10_000
ANALYZE_AFTER: Final = 1_000
"""Statistics are refreshed (PostgreSQL) every ANALYZE_EVERY certificates planned, and at
the end of a sweep that planned at least ANALYZE_AFTER: small sweeps leave it to autovacuum."""
CLAIM_BATCH: Final = 100
DELIVER_AT_ONCE: Final = 8
"""Messages of a claimed batch in flight at once (each to a different user)."""
LEASE: Final = timedelta(seconds=60)
RENEW_EVERY: Final = LEASE / 3
"""Leases are renewed this often (by the sweeper's clock) while it works: two renewals
may fail in a row before another process could take a row over."""
MAX_ATTEMPTS: Final = 5
RETRY_BASE: Final = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One reminder (a certificate at a threshold) sent, or that would be sent."""

    user: str
    channel: str
    certificate: str
    threshold_days: int
    kind: str
    message: str
    text: str


@dataclass(frozen=True, slots=True)
class _Batch:
    claimed: int
    cursor: Cursor | None
    messages: list[_Message]


@dataclass(frozen=True, slots=True)
class _Message:
    user: User
    reply: Reply
    rows: tuple[Due, ...]
    """Every claimed reminder the message delivers (one certificate may have several)."""


class Sweeper:
    """Runs sweeps for one process (`lease_owner` names it in claimed rows)."""

    def __init__(
        self,
        services: Services,
        notifiers: Mapping[Channel, Notifier],
        lease_owner: str,
        *,
        clock: Clock | None = None,
        backoff: Sequence[float] = BACKOFF,
        metrics: Metrics | None = None,
    ) -> None:
        self.services = services
        self.metrics = metrics if metrics is not None else Metrics()
        self.notifiers = notifiers
        self.lease_owner = lease_owner
        self._clock = clock or services.clock
        """Leases are counted on this clock (the wall clock in `run`), whatever `now` a
        sweep is run for."""
        self._backoff = backoff
        self._stopping = False
        self._renewed_at: datetime | None = None

    def stop(self) -> None:
        """End the running sweep (and refuse new ones): no new claims, no new sends;
        what is being sent finishes and is marked, the rest is released at once."""
        self._stopping = True

    async def run(self, now: datetime) -> list[Delivery]:
        """One sweep at `now`: plan, claim, send, mark."""
        if self._stopping:
            return []
        await self.plan(now)
        return await self.dispatch(now)

    async def plan(self, now: datetime) -> int:
        """Plan every certificate whose next slot has come; returns how many were looked at."""
        total, cursor, since_analyze = 0, None, 0
        database = self.services.database
        while True:
            async with database.write() as session:
                planned, cursor, pending = await self._plan(session, now, cursor)
            self.metrics.reminders_planned.inc(pending)  # committed: counted once
            total += planned
            since_analyze += planned
            if since_analyze >= ANALYZE_EVERY or (not planned and since_analyze >= ANALYZE_AFTER):
                await database.analyze("reminders")  # the outbox grew: fresh plans
                since_analyze = 0
            if not planned:
                return total

    async def dispatch(self, now: datetime) -> list[Delivery]:
        """Claim, send and mark every due reminder. The next batch is claimed while the
        current one is being sent, so a paced channel never waits for the database."""
        deliveries: list[Delivery] = []
        self._renewed_at = self._clock()
        heartbeat = asyncio.create_task(self._heartbeat())
        claiming: asyncio.Task[_Batch] | None = asyncio.create_task(self._claim_batch(now, None))
        try:
            while claiming is not None:
                batch = await claiming
                claiming = None
                if not batch.claimed:
                    break
                # Its lease ran from the claim's start; the claim (composing its messages)
                # took a while, and another process sees the rows only now: count again.
                await self._keep_leases(force=True)
                if self._stopping:
                    await self._release(batch.messages)
                    break
                claiming = asyncio.create_task(self._claim_batch(now, batch.cursor))
                deliveries.extend(await self._deliver_all(batch.messages, now))
            return deliveries
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
            if claiming is not None:
                await self._abandon(claiming)

    async def _abandon(self, claiming: asyncio.Task[_Batch]) -> None:
        """A claim made ahead that will not be sent: on a stop, let it land and give it
        back at once; on a failure, cancel it (what it claimed returns when its lease ends)."""
        if not self._stopping:
            claiming.cancel()
        done = await asyncio.gather(claiming, return_exceptions=True)
        if isinstance(done[0], _Batch):
            await self._release(done[0].messages)

    async def _deliver_all(self, messages: Sequence[_Message], now: datetime) -> list[Delivery]:
        """Deliver a batch, a few messages in flight at once: the channel's pacing sets
        the rate, and one message waiting for the database does not hold up the rest."""
        gate = asyncio.Semaphore(DELIVER_AT_ONCE)

        async def one(message: _Message) -> list[Delivery]:
            async with gate:
                if self._stopping:
                    await self._release([message])
                    return []
                await self._keep_leases()
                try:
                    return await self._deliver(message, now)
                except Exception:  # a bug or a lasting outage: this message only
                    log.exception("a reminder message failed; its lease will expire and retry")
                    return []

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(message)) for message in messages]
        return [delivery for task in tasks for delivery in task.result()]

    async def _claim_batch(self, now: datetime, after: Cursor | None) -> _Batch:
        async def claim() -> _Batch:
            async with self.services.database.write() as session:
                return await self._claim(session, now, after)

        return await self._retrying(claim, "claiming reminders")

    async def _retrying(self, operation: Callable[[], Awaitable[T]], what: str) -> T:
        return await retry_transient(operation, what=what, backoff=self._backoff)

    async def _heartbeat(self) -> None:
        """Renew the leases even while every send waits (a long RetryAfter)."""
        while True:
            await asyncio.sleep(RENEW_EVERY.total_seconds())
            await self._keep_leases()

    async def _keep_leases(self, *, force: bool = False) -> None:
        """Renew this sweeper's leases when RENEW_EVERY has passed on its clock (or now,
        with `force`). A failure is only logged: the next beat or send tries again, well
        before a lease ends."""
        now = self._clock()
        if not force and self._renewed_at is not None and now - self._renewed_at < RENEW_EVERY:
            return
        self._renewed_at = now  # first: concurrent sends do not all renew
        try:
            async with self.services.database.write() as session:
                await reminders.renew(session, self.lease_owner, now + LEASE)
        except Exception:
            self._renewed_at = None
            log.warning("renewing reminder leases failed", exc_info=True)

    async def _release(self, messages: Sequence[_Message]) -> None:
        ids = [item.reminder.id or 0 for message in messages for item in message.rows]
        if not ids:
            return

        async def release() -> int:
            async with self.services.database.write() as session:
                return await reminders.release(session, ids, self.lease_owner)

        try:
            released = await self._retrying(release, "releasing reminders")
        except Exception:  # they come back when their lease ends
            log.warning("releasing %d reminder(s) failed", len(ids), exc_info=True)
            return
        log.info("released %d claimed reminder(s) for other processes", released)

    async def preview(self, now: datetime) -> list[Delivery]:
        """What a sweep at `now` would send, with nothing written or sent (`remind
        --dry-run`)."""
        deliveries: list[Delivery] = []
        async with self.services.database.scratch() as session:
            planned, cursor, _ = await self._plan(session, now, None)
            while planned:
                planned, cursor, _ = await self._plan(session, now, cursor)
            batch = await self._claim(session, now, None)
            while batch.claimed:
                for message in batch.messages:
                    deliveries.extend(_deliveries(message, f"dry-run-{secrets.token_hex(4)}"))
                batch = await self._claim(session, now, batch.cursor)
        return deliveries

    # --- planning ---------------------------------------------------------------------

    async def _plan(
        self, session: AsyncSession, now: datetime, after: Cursor | None
    ) -> tuple[int, Cursor | None, int]:
        """Plan a batch of certificates whose next slot has come, after `after`;
        returns how many, where the walk goes on from, and how many reminders it planned
        to send."""
        due = await certificates.due(session, now, PLAN_BATCH, after)
        if not due:
            return 0, after, 0
        last = due[-1]
        cursor: Cursor = (last.next_reminder_at or now, last.id or 0)
        owners = await users.get_many(session, {c.owner_id for c in due})
        planned = await reminders.planned(session, [c.id or 0 for c in due])
        preferences: dict[int, Preferences] = {}
        rows: list[dict[str, object]] = []
        for certificate in due:
            owner = owners[certificate.owner_id]
            mine = planned[certificate.id or 0]
            if not (certificate.reminders_enabled and owner.reminders_enabled):
                certificate.next_reminder_at = None
                if ReminderStatus.PENDING in mine.values():
                    await reminders.cancel_pending(session, certificate.id or 0)
                continue
            if certificate.owner_id not in preferences:
                preferences[certificate.owner_id] = preferences_for(owner, self.services.settings)
            all_slots = slots(certificate.not_after, preferences[certificate.owner_id])
            wanted = {slot.threshold for slot in all_slots}
            unwanted = [
                t for t, s in mine.items() if s is ReminderStatus.PENDING and t not in wanted
            ]
            if unwanted:
                await reminders.cancel_thresholds(session, certificate.id or 0, unwanted)
            decision = decide(all_slots, mine.keys(), now)
            rows.extend(_rows(certificate, decision, now))
            certificate.next_reminder_at = decision.next_at
        await reminders.plan_many(session, rows)
        pending = sum(row["status"] is ReminderStatus.PENDING for row in rows)
        return len(due), cursor, pending

    # --- dispatch ---------------------------------------------------------------------

    async def _claim(self, session: AsyncSession, now: datetime, after: Cursor | None) -> _Batch:
        """Claim due reminders (after `after`) and build one message per user; reminders
        of users in their quiet hours are put back for the morning."""
        claimed = await reminders.claim_due(
            session,
            now=now,
            lease_owner=self.lease_owner,
            lease=LEASE,
            limit=CLAIM_BATCH,
            channels=list(self.notifiers),
            after=after,
            leased_at=self._clock(),
        )
        if not claimed.rows:
            return _Batch(0, after, [])
        by_owner: dict[int, list[Reminder]] = defaultdict(list)
        for row in claimed.rows:
            by_owner[row.owner_id].append(row)
        messages = []
        owners = await users.get_many(session, by_owner)
        for owner_id, rows in by_owner.items():
            owner = owners[owner_id]
            preferences = preferences_for(owner, self.services.settings)
            if is_quiet(now, preferences):
                await self._defer(session, rows, quiet_ends(now, preferences))
                continue
            due = await self._due(session, owner_id, rows)
            if due:
                messages.append(await self._compose(session, owner, due, now))
        return _Batch(len(claimed.rows), claimed.cursor, messages)

    async def _defer(
        self, session: AsyncSession, rows: Sequence[Reminder], until: datetime
    ) -> None:
        for row in rows:
            await reminders.defer(session, row.id or 0, self.lease_owner, until)

    async def _due(
        self, session: AsyncSession, owner_id: int, rows: Sequence[Reminder]
    ) -> tuple[Due, ...]:
        """Pair rows with their certificates; rows of a certificate gone quiet are cancelled."""
        due = []
        for row in rows:
            certificate = await certificates.get(session, owner_id, row.certificate_id)
            if certificate.reminders_enabled:
                due.append(Due(row, certificate))
            else:
                await reminders.cancel_pending(session, row.certificate_id)
        return tuple(due)

    async def _compose(
        self, session: AsyncSession, owner: User, rows: tuple[Due, ...], now: datetime
    ) -> _Message:
        """One message for the user: a line per certificate, the most urgent row speaking."""
        services = self.services
        ctx = Context(services, session, owner, services.catalog.texts(owner.locale), now)
        line: dict[int, Due] = {}
        for item in sorted(rows, key=lambda d: d.reminder.threshold_days, reverse=True):
            line[item.certificate.id or 0] = item
        shown = sorted(line.values(), key=lambda d: d.certificate.not_after)
        return _Message(owner, await compose(ctx, shown), rows)

    async def _deliver(self, message: _Message, now: datetime) -> list[Delivery]:
        notifier = self.notifiers[message.user.channel]
        fingerprints = sorted({item.certificate.fingerprint for item in message.rows})
        failure: NotifierError | None = None
        try:
            message_id = await notifier.send(message.user, message.reply, fingerprints, now)
        except NotifierError as error:
            failure = error
        if failure is not None:
            await self._retrying(lambda: self._failed(message, failure, now), "recording a failure")
            self.metrics.reminders_failed.labels(message.user.channel.value).inc(len(message.rows))
            return []

        async def mark() -> None:
            async with self.services.database.write() as session:
                for item in message.rows:
                    await reminders.mark_sent(
                        session, item.reminder.id or 0, self.lease_owner, now, message_id
                    )

        await self._retrying(mark, "marking a reminder sent")  # sent: never send it again
        self.metrics.reminders_sent.labels(message.user.channel.value).inc(len(message.rows))
        return _deliveries(message, message_id)

    async def _failed(self, message: _Message, error: NotifierError, now: datetime) -> None:
        async with self.services.database.write() as session:
            if isinstance(error, UserUnreachable):
                await users.set_reachable(session, message.user.id or 0, False, now)
            for item in message.rows:
                backoff = RETRY_BASE * 2 ** max(item.reminder.attempts - 1, 0)
                await reminders.mark_failed(
                    session,
                    item.reminder.id or 0,
                    self.lease_owner,
                    error=str(error) or type(error).__name__,
                    retry_at=now + backoff,
                    max_attempts=MAX_ATTEMPTS,
                )


def _rows(certificate: Certificate, decision: Decision, now: datetime) -> list[dict[str, object]]:
    """Outbox rows for a decision: the slot to send pending, the missed ones passed."""
    chosen = [(slot, ReminderStatus.PASSED) for slot in decision.passed]
    if decision.send is not None:
        chosen.append((decision.send, ReminderStatus.PENDING))
    return [
        {
            "certificate_id": certificate.id,
            "owner_id": certificate.owner_id,
            "kind": slot.kind,
            "threshold_days": slot.threshold,
            "due_at": slot.due_at,
            "status": status,
            "attempts": 0,
            "created_at": now,
        }
        for slot, status in chosen
    ]


def _deliveries(message: _Message, message_id: str) -> list[Delivery]:
    return [
        Delivery(
            user=message.user.user_key,
            channel=message.user.channel.value,
            certificate=item.certificate.fingerprint,
            threshold_days=item.reminder.threshold_days,
            kind=item.reminder.kind.value,
            message=message_id,
            text=message.reply.text,
        )
        for item in message.rows
    ]
