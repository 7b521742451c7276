"""The reminder sweep over the outbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import sqlalchemy as sa

from bot.reminders.notifiers import NotifierError, UserUnreachable
from bot.reminders.sweep import MAX_ATTEMPTS, Sweeper
from handlers.dates import SEOUL
from storage import certificates, notices, reminders, users
from storage.database import Database
from storage.models import (
    Certificate,
    Channel,
    Notice,
    Reminder,
    ReminderKind,
    ReminderStatus,
    User,
)
from tests.bot.reminders.conftest import Recorder, seed, services_for


def kst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SEOUL)


async def _statuses(database: Database) -> dict[ReminderStatus, int]:
    async with database.read() as session:
        return await reminders.count_by_status(session)


async def test_d30_reminder_goes_out_once(
    database: Database, sweeper: Sweeper, recorder: Recorder
) -> None:
    """At D-30 09:05 one reminder is sent; the same sweep again sends and plans nothing."""
    await seed(database, 1)
    assert await sweeper.run(kst(2026, 6, 1, 8, 0)) == []
    first = await sweeper.run(kst(2026, 6, 1, 9, 5))
    assert [(d.threshold_days, d.kind) for d in first] == [(30, "expiry")]
    assert "지금 갱신할 수 있어요" in first[0].text
    assert "D-30" in first[0].text
    assert await sweeper.run(kst(2026, 6, 1, 9, 5)) == []
    assert await sweeper.run(kst(2026, 6, 1, 9, 15)) == []
    assert len(recorder.sent) == 1
    assert await _statuses(database) == {ReminderStatus.SENT: 1}


async def test_catch_up_sends_only_the_most_urgent(database: Database, sweeper: Sweeper) -> None:
    """After downtime (first sweep at D-5) only the 7-day reminder goes out; 30 and 14 pass."""
    await seed(database, 1)
    sent = await sweeper.run(kst(2026, 6, 26, 12, 0))
    assert [d.threshold_days for d in sent] == [7]
    assert await _statuses(database) == {ReminderStatus.SENT: 1, ReminderStatus.PASSED: 2}
    assert "D-5" in sent[0].text


async def test_one_message_per_user_covers_every_due_certificate(
    database: Database, sweeper: Sweeper, recorder: Recorder
) -> None:
    """A user with three certificates due gets one message listing all three."""
    await seed(database, 1, per_user=3)
    sent = await sweeper.run(kst(2026, 6, 1, 9, 5))
    assert len(sent) == 3
    assert len({d.message for d in sent}) == 1
    assert len({d.text for d in sent}) == 1
    assert len(recorder.sent) == 1
    assert all(f"홀더1{j:02d}" in sent[0].text for j in range(3))


async def test_quiet_hours_hold_reminders_until_morning(
    database: Database, sweeper: Sweeper
) -> None:
    """Back up at 22:00 on D-30: nothing is sent until the quiet hours end at 09:00."""
    await seed(database, 1)
    assert await sweeper.run(kst(2026, 6, 1, 22, 0)) == []
    assert await sweeper.run(kst(2026, 6, 2, 8, 59)) == []
    sent = await sweeper.run(kst(2026, 6, 2, 9, 0))
    assert [d.threshold_days for d in sent] == [30]


async def test_unreachable_users_are_skipped_until_they_write(
    database: Database, sweeper: Sweeper
) -> None:
    """A user who blocked the bot gets nothing; once they write again, the reminder goes."""
    await seed(database, 1)
    async with database.write() as session:
        await users.set_reachable(session, 1, False, kst(2026, 5, 2))
    assert await sweeper.run(kst(2026, 6, 1, 9, 5)) == []
    async with database.write() as session:
        await users.get_or_create(session, Channel.TELEGRAM, "u1", kst(2026, 6, 1, 10))
    assert [d.threshold_days for d in await sweeper.run(kst(2026, 6, 1, 10, 5))] == [30]


async def test_a_blocked_bot_marks_the_user_unreachable(
    database: Database, sweeper: Sweeper, recorder: Recorder
) -> None:
    """The notifier says the user blocked the bot: they are marked unreachable."""
    await seed(database, 1)
    recorder.fail_with = UserUnreachable("403 Forbidden")
    assert await sweeper.run(kst(2026, 6, 1, 9, 5)) == []
    async with database.read() as session:
        assert not (await users.get(session, 1)).reachable


async def test_failures_retry_with_backoff_then_give_up(
    database: Database, sweeper: Sweeper, recorder: Recorder
) -> None:
    """A failing channel is retried later, with growing waits; after the last try it fails."""
    await seed(database, 1)
    recorder.fail_with = NotifierError("502 Bad Gateway")
    moment = kst(2026, 6, 1, 9, 5)
    for _attempt in range(MAX_ATTEMPTS):
        assert await sweeper.run(moment) == []
        assert await sweeper.run(moment) == []  # not due again yet: backoff
        moment += timedelta(hours=2)
    statuses = await _statuses(database)
    assert statuses == {ReminderStatus.FAILED: 1}
    async with database.read() as session:
        row = await session.scalar(sa.select(Reminder))
    assert row is not None
    assert row.last_error == "502 Bad Gateway"


async def test_reminders_off_plans_nothing_and_on_again_resumes(
    database: Database, sweeper: Sweeper
) -> None:
    """Off for the certificate: nothing is planned. Back on: the next slot is planned."""
    await seed(database, 1)
    async with database.write() as session:
        row = await certificates.get(session, 1, 100)
        row.reminders_enabled = False
    assert await sweeper.run(kst(2026, 6, 1, 9, 5)) == []
    async with database.write() as session:
        row = await certificates.get(session, 1, 100)
        row.reminders_enabled = True
        await certificates.replan(session, 1, kst(2026, 6, 2))
    assert [d.threshold_days for d in await sweeper.run(kst(2026, 6, 2, 9, 5))] == [30]


async def test_renewal_cancels_pending_reminders_at_once(
    database: Database, sweeper: Sweeper
) -> None:
    """A reminder planned but not yet sent (quiet hours) is cancelled by the renewal."""
    await seed(database, 1, per_user=2)
    await sweeper.run(kst(2026, 6, 1, 22, 0))  # planned, held for the morning
    async with database.write() as session:
        await certificates.replace(session, 1, 100, 101, kst(2026, 6, 1, 23))
    sent = await sweeper.run(kst(2026, 6, 2, 9, 0))
    assert [d.certificate for d in sent] == [f"{101:064x}"]
    assert (await _statuses(database))[ReminderStatus.CANCELLED] == 1


async def test_snooze_plans_a_reminder_without_using_a_threshold(
    database: Database, sweeper: Sweeper
) -> None:
    """A snoozed reminder arrives N days later, and the 14-day one still comes."""
    await seed(database, 1)
    await sweeper.run(kst(2026, 6, 1, 9, 5))
    async with database.write() as session:
        await reminders.plan(
            session, certificate_id=100, owner_id=1, kind=ReminderKind.SNOOZED,
            threshold_days=27, due_at=kst(2026, 6, 4, 9, 0), now=kst(2026, 6, 1, 9, 6),
        )  # fmt: skip
    assert [d.kind for d in await sweeper.run(kst(2026, 6, 4, 9, 1))] == ["snoozed"]
    assert [d.threshold_days for d in await sweeper.run(kst(2026, 6, 17, 9, 1))] == [14]


async def test_dry_run_writes_and_sends_nothing(
    database: Database, sweeper: Sweeper, recorder: Recorder
) -> None:
    """--dry-run shows what would go out; the real sweep after it still sends it."""
    await seed(database, 1)
    would = await sweeper.preview(kst(2026, 6, 1, 9, 5))
    assert [d.threshold_days for d in would] == [30]
    assert recorder.sent == []
    assert await _statuses(database) == {}
    assert [d.threshold_days for d in await sweeper.run(kst(2026, 6, 1, 9, 5))] == [30]


async def test_console_users_get_a_notice_for_their_next_message(
    database: Database, sweeper: Sweeper
) -> None:
    """Console reminders are recorded as notices, taken once at the user's next message."""
    await seed(database, 1, channel=Channel.CONSOLE)
    sent = await sweeper.run(kst(2026, 6, 1, 9, 5))
    assert [d.channel for d in sent] == ["console"]
    async with database.write() as session:
        shown = await notices.take(session, 1, kst(2026, 6, 1, 10))
        assert [n.text for n in shown] == [sent[0].text]
        assert shown[0].certificates == [f"{100:064x}"]
    async with database.write() as session:
        assert await notices.take(session, 1, kst(2026, 6, 1, 11)) == []


async def test_reminders_carry_no_secret_and_only_the_holder(
    database: Database, sweeper: Sweeper
) -> None:
    """The text names the holder, never the subject or anything from the certificate files."""
    await seed(database, 1)
    (delivery,) = await sweeper.run(kst(2026, 6, 1, 9, 5))
    assert "홀더100" in delivery.text
    assert "cn=" not in delivery.text


async def test_two_sweepers_at_once_never_send_twice(database: Database) -> None:
    """Two sweepers (separate leases) racing over 300 due reminders deliver each once."""
    await seed(database, 300)
    first, second = Recorder(), Recorder()
    services = services_for(database)
    sweepers = [
        Sweeper(services, {Channel.TELEGRAM: first}, "a"),
        Sweeper(services, {Channel.TELEGRAM: second}, "b"),
    ]
    now = kst(2026, 6, 1, 9, 5)
    await asyncio.gather(*(s.run(now) for s in sweepers))
    delivered = [c for r in (first, second) for _u, _t, cs in r.sent for c in cs]
    assert len(delivered) == len(set(delivered)) == 300
    assert await _statuses(database) == {ReminderStatus.SENT: 300}


async def test_due_certificates_are_found_by_index_not_by_scanning(database: Database) -> None:
    """After planning, no certificate is due again until its next slot."""
    await seed(database, 5)
    services = services_for(database)
    await Sweeper(services, {Channel.TELEGRAM: Recorder()}, "x").run(kst(2026, 6, 1, 9, 5))
    async with database.read() as session:
        due_now = await certificates.due(session, kst(2026, 6, 1, 9, 5), 100)
        next_at = {c.next_reminder_at for c in (await session.scalars(sa.select(Certificate)))}
    assert due_now == []
    assert next_at == {kst(2026, 6, 17, 9, 0)}


async def test_notices_and_users_cascade(database: Database, sweeper: Sweeper) -> None:
    """Deleting a console user deletes their pending notices."""
    await seed(database, 1, channel=Channel.CONSOLE)
    await sweeper.run(kst(2026, 6, 1, 9, 5))
    async with database.write() as session:
        await users.delete(session, 1)
    async with database.read() as session:
        assert (await session.scalars(sa.select(Notice))).all() == []
        assert (await session.scalars(sa.select(User))).all() == []


async def test_the_d1_reminder_is_urgent_and_says_what_to_do_today(
    database: Database, sweeper: Sweeper
) -> None:
    """At D-1 the message says renew today (after the expiry day only a new certificate
    with an identity check at the bank), not "do it soon" (issue 14 item 8)."""
    await seed(database, 1)
    (sent,) = await sweeper.run(kst(2026, 6, 30, 9, 5))
    assert sent.threshold_days == 1
    assert "내일이 만료일이에요. 오늘 갱신해 주세요." in sent.text
    assert "미리 해 두세요" not in sent.text
