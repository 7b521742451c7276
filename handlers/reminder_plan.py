"""When to remind: pure functions of a certificate's expiry, the user's settings and `now`.

Every reminder has a slot: a number of days before expiry on the user's
calendar (their thresholds, then 0 for the expiry day and -1 for the day
after, "expired: now needs a new issuance"), sent on that day when the
user's quiet hours end (09:00 when they have none). A sweep plans each slot
at most once; after downtime only the most urgent missed slot is sent and
the older ones are recorded as passed, so nobody gets a burst of stale
reminders.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from handlers.dates import SEOUL
from handlers.services import AssistantSettings
from storage.models import ReminderKind, User

EXPIRY_DAY: Final = 0
EXPIRED: Final = -1
DEFAULT_SEND_TIME: Final = time(9, 0)


@dataclass(frozen=True, slots=True)
class Preferences:
    """A user's reminder settings, resolved against the configured defaults."""

    thresholds: tuple[int, ...]
    zone: ZoneInfo
    quiet_start: time
    quiet_end: time

    @property
    def has_quiet_hours(self) -> bool:
        return self.quiet_start != self.quiet_end

    @property
    def send_time(self) -> time:
        """The time of day reminders go out: when quiet hours end."""
        return self.quiet_end if self.has_quiet_hours else DEFAULT_SEND_TIME


@dataclass(frozen=True, slots=True)
class Slot:
    threshold: int
    """Days before the expiry day (0: the expiry day, -1: the day after)."""
    kind: ReminderKind
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Decision:
    """What a sweep does for one certificate."""

    send: Slot | None
    passed: tuple[Slot, ...]
    next_at: datetime | None
    """When the next unplanned slot falls due (None: nothing left to plan)."""


def preferences_for(user: User, settings: AssistantSettings) -> Preferences:
    """The user's settings, with the configured defaults where they chose nothing."""
    try:
        zone = ZoneInfo(user.timezone)
    except (ValueError, KeyError):
        zone = SEOUL
    return Preferences(
        thresholds=tuple(user.reminder_thresholds or settings.reminder_thresholds),
        zone=zone,
        quiet_start=time.fromisoformat(user.quiet_start or settings.quiet_start),
        quiet_end=time.fromisoformat(user.quiet_end or settings.quiet_end),
    )


def expiry_day(not_after: datetime, zone: ZoneInfo) -> date:
    return not_after.astimezone(zone).date()


def slots(not_after: datetime, preferences: Preferences) -> list[Slot]:
    """Every reminder slot of a certificate, soonest first."""
    day = expiry_day(not_after, preferences.zone)
    thresholds = sorted({t for t in preferences.thresholds if t > 0} | {EXPIRY_DAY, EXPIRED})
    result = []
    for threshold in sorted(thresholds, reverse=True):
        on = day - timedelta(days=threshold)
        kind = ReminderKind.EXPIRED if threshold == EXPIRED else ReminderKind.EXPIRY
        result.append(Slot(threshold, kind, _at(on, preferences)))
    return result


def decide(all_slots: Sequence[Slot], planned: Collection[int], now: datetime) -> Decision:
    """Which slot to send now (the most urgent unplanned due one), which passed, and when next."""
    due = [slot for slot in all_slots if slot.due_at <= now and slot.threshold not in planned]
    later = [
        slot.due_at for slot in all_slots if slot.due_at > now and slot.threshold not in planned
    ]
    if not due:
        return Decision(None, (), min(later, default=None))
    most_urgent = min(due, key=lambda slot: slot.threshold)
    passed = tuple(slot for slot in due if slot is not most_urgent)
    return Decision(most_urgent, passed, min(later, default=None))


def is_quiet(moment: datetime, preferences: Preferences) -> bool:
    """Whether `moment` falls in the user's quiet hours (which may cross midnight)."""
    if not preferences.has_quiet_hours:
        return False
    local = moment.astimezone(preferences.zone).time()
    start, end = preferences.quiet_start, preferences.quiet_end
    return start <= local < end if start < end else local >= start or local < end


def quiet_ends(moment: datetime, preferences: Preferences) -> datetime:
    """The first moment at or after `moment` outside quiet hours."""
    if not is_quiet(moment, preferences):
        return moment
    local = moment.astimezone(preferences.zone)
    end = _at(local.date(), preferences, preferences.quiet_end)
    return (
        end
        if end > moment
        else _at(local.date() + timedelta(days=1), preferences, preferences.quiet_end)
    )


def snooze_slot(not_after: datetime, now: datetime, days: int, preferences: Preferences) -> Slot:
    """A snoozed reminder `days` later, on that day's sending time, labelled by days left then."""
    on = now.astimezone(preferences.zone).date() + timedelta(days=days)
    left = (expiry_day(not_after, preferences.zone) - on).days
    return Slot(left, ReminderKind.SNOOZED, _at(on, preferences))


def _at(day: date, preferences: Preferences, at: time | None = None) -> datetime:
    local = datetime.combine(day, at or preferences.send_time, tzinfo=preferences.zone)
    return local.astimezone(ZoneInfo("UTC"))
