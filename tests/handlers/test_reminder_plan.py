"""Reminder planning: pure functions of expiry, settings and a clock the tests choose."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from handlers.dates import SEOUL
from handlers.reminder_plan import (
    Preferences,
    decide,
    is_quiet,
    quiet_ends,
    slots,
    snooze_slot,
)
from storage.models import ReminderKind

EXPIRY = datetime(2026, 7, 1, 14, 59, 59, tzinfo=UTC)  # 2026-07-01 23:59:59 KST
KST = Preferences((30, 14, 7, 1), SEOUL, time(21, 0), time(9, 0))


def kst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SEOUL)


def test_slots_are_thresholds_then_expiry_day_then_the_day_after() -> None:
    """30, 14, 7, 1 days before, the expiry day (0) and the day after (-1, expired)."""
    found = [(s.threshold, s.kind, s.due_at.astimezone(SEOUL)) for s in slots(EXPIRY, KST)]
    assert found == [
        (30, ReminderKind.EXPIRY, kst(2026, 6, 1, 9, 0)),
        (14, ReminderKind.EXPIRY, kst(2026, 6, 17, 9, 0)),
        (7, ReminderKind.EXPIRY, kst(2026, 6, 24, 9, 0)),
        (1, ReminderKind.EXPIRY, kst(2026, 6, 30, 9, 0)),
        (0, ReminderKind.EXPIRY, kst(2026, 7, 1, 9, 0)),
        (-1, ReminderKind.EXPIRED, kst(2026, 7, 2, 9, 0)),
    ]


def test_expiry_at_1459_utc_counts_on_the_seoul_day() -> None:
    """A certificate ending 14:59:59 UTC ends on that Seoul day, not the UTC one."""
    expiry_day_slot = next(s for s in slots(EXPIRY, KST) if s.threshold == 0)
    assert expiry_day_slot.due_at.astimezone(SEOUL).date().isoformat() == "2026-07-01"
    one_second_later = datetime(2026, 7, 1, 15, 0, 0, tzinfo=UTC)  # 2026-07-02 00:00 KST
    slot = next(s for s in slots(one_second_later, KST) if s.threshold == 0)
    assert slot.due_at.astimezone(SEOUL).date().isoformat() == "2026-07-02"


def test_leap_day_expiry() -> None:
    """Thirty days before 2028-02-29 is 2028-01-30; the day after is 2028-03-01."""
    expiry = datetime(2028, 2, 29, 14, 59, 59, tzinfo=UTC)
    days = {s.threshold: s.due_at.astimezone(SEOUL).date().isoformat() for s in slots(expiry, KST)}
    assert days[30] == "2028-01-30"
    assert days[-1] == "2028-03-01"


def test_no_quiet_hours_sends_at_nine() -> None:
    """Without quiet hours reminders still go out at a decent hour, 09:00."""
    preferences = Preferences((30,), SEOUL, time(0, 0), time(0, 0))
    assert slots(EXPIRY, preferences)[0].due_at.astimezone(SEOUL).time() == time(9, 0)
    assert not is_quiet(kst(2026, 6, 1, 3, 0), preferences)


def test_custom_thresholds_and_duplicates() -> None:
    """Custom days are used as given (no 0/-1 duplicates, no negatives)."""
    preferences = Preferences((10, 3, 0, -5), SEOUL, time(22, 0), time(8, 0))
    assert [s.threshold for s in slots(EXPIRY, preferences)] == [10, 3, 0, -1]
    assert slots(EXPIRY, preferences)[0].due_at.astimezone(SEOUL).time() == time(8, 0)


def test_another_time_zone_counts_on_its_own_calendar() -> None:
    """In Los Angeles the same certificate expires on July 1 local, reminded at 09:00 PDT."""
    la = ZoneInfo("America/Los_Angeles")
    preferences = Preferences((30,), la, time(21, 0), time(9, 0))
    first = slots(EXPIRY, preferences)[0]
    assert first.due_at.astimezone(la) == datetime(2026, 6, 1, 9, 0, tzinfo=la)


def test_decide_sends_the_due_slot_and_names_the_next() -> None:
    """At D-30 09:05 the 30-day slot is sent; the next is the 14-day one."""
    decision = decide(slots(EXPIRY, KST), set(), kst(2026, 6, 1, 9, 5))
    assert decision.send is not None
    assert decision.send.threshold == 30
    assert decision.passed == ()
    assert decision.next_at == kst(2026, 6, 17, 9, 0)


def test_decide_is_idempotent_with_what_is_planned() -> None:
    """Once planned, a slot is never decided again: a second sweep plans nothing."""
    all_slots = slots(EXPIRY, KST)
    now = kst(2026, 6, 1, 9, 5)
    assert decide(all_slots, {30}, now).send is None


def test_catch_up_sends_only_the_most_urgent_missed_slot() -> None:
    """Down since May; at D-5 the 7-day slot is sent and the 30- and 14-day ones passed."""
    decision = decide(slots(EXPIRY, KST), set(), kst(2026, 6, 26, 12, 0))
    assert decision.send is not None
    assert decision.send.threshold == 7
    assert sorted(s.threshold for s in decision.passed) == [14, 30]
    assert decision.next_at == kst(2026, 6, 30, 9, 0)


def test_after_everything_nothing_is_left() -> None:
    """Long after expiry: the 'expired' notice is the one sent, and nothing comes next."""
    decision = decide(slots(EXPIRY, KST), set(), kst(2026, 8, 1))
    assert decision.send is not None
    assert decision.send.kind is ReminderKind.EXPIRED
    assert decision.next_at is None


@pytest.mark.parametrize(
    ("moment", "quiet"),
    [
        (kst(2026, 6, 1, 20, 59), False),
        (kst(2026, 6, 1, 21, 0), True),
        (kst(2026, 6, 1, 23, 30), True),
        (kst(2026, 6, 2, 0, 0), True),
        (kst(2026, 6, 2, 8, 59), True),
        (kst(2026, 6, 2, 9, 0), False),
    ],
)
def test_quiet_hours_across_midnight(moment: datetime, quiet: bool) -> None:
    """21:00-09:00 covers the late evening and the early morning, not 09:00 itself."""
    assert is_quiet(moment, KST) is quiet


def test_quiet_hours_within_a_day() -> None:
    """A window that does not cross midnight (13:00-14:00) is quiet only inside it."""
    preferences = Preferences((30,), SEOUL, time(13, 0), time(14, 0))
    assert is_quiet(kst(2026, 6, 1, 13, 30), preferences)
    assert not is_quiet(kst(2026, 6, 1, 14, 0), preferences)
    assert not is_quiet(kst(2026, 6, 1, 2, 0), preferences)


def test_quiet_ends_next_morning_or_same_morning() -> None:
    """At 22:00 the window ends at 09:00 next day; at 03:00 it ends at 09:00 that day."""
    assert quiet_ends(kst(2026, 6, 1, 22, 0), KST) == kst(2026, 6, 2, 9, 0)
    assert quiet_ends(kst(2026, 6, 2, 3, 0), KST) == kst(2026, 6, 2, 9, 0)
    assert quiet_ends(kst(2026, 6, 2, 10, 0), KST) == kst(2026, 6, 2, 10, 0)


def test_snooze_is_its_own_kind_labelled_by_days_left() -> None:
    """Snoozing 3 days at D-30 plans a snoozed reminder on D-27 at 09:00."""
    slot = snooze_slot(EXPIRY, kst(2026, 6, 1, 9, 30), 3, KST)
    assert (slot.kind, slot.threshold) == (ReminderKind.SNOOZED, 27)
    assert slot.due_at == kst(2026, 6, 4, 9, 0)
