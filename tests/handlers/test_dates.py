"""Dates on the user's calendar: D-day counts and the Korean form."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from handlers.dates import SEOUL, d_day, days_left, local_date, long_date

EXPIRY = datetime(2026, 7, 1, 14, 59, 59, tzinfo=UTC)  # 2026-07-01 23:59:59 KST


def test_expiry_at_1459_utc_is_the_same_day_in_seoul() -> None:
    """NPKI certificates end at 23:59:59 KST: the expiry day is that Seoul date."""
    assert local_date(EXPIRY) == date(2026, 7, 1)
    assert local_date(EXPIRY, ZoneInfo("UTC")) == date(2026, 7, 1)
    assert local_date(datetime(2026, 7, 1, 15, 0, tzinfo=UTC)) == date(2026, 7, 2)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 6, 1, 0, 0, tzinfo=SEOUL), 30),
        (datetime(2026, 5, 31, 23, 59, tzinfo=SEOUL), 31),
        (datetime(2026, 6, 30, 15, 0, tzinfo=UTC), 0),  # 2026-07-01 00:00 KST
        (datetime(2026, 7, 1, 23, 59, 59, tzinfo=SEOUL), 0),
        (datetime(2026, 7, 2, 0, 0, tzinfo=SEOUL), -1),
    ],
)
def test_days_left_counts_calendar_days_in_seoul(now: datetime, expected: int) -> None:
    """Days are counted between Seoul calendar dates, not 24-hour spans."""
    assert days_left(EXPIRY, now) == expected


def test_days_left_in_another_zone() -> None:
    """A user in Los Angeles counts on their own calendar."""
    la = ZoneInfo("America/Los_Angeles")
    assert days_left(EXPIRY, datetime(2026, 7, 1, 8, 0, tzinfo=la), la) == 0


@pytest.mark.parametrize(("days", "text"), [(30, "D-30"), (1, "D-1"), (0, "D-DAY"), (-3, "D+3")])
def test_d_day_notation(days: int, text: str) -> None:
    """D-N before, D-DAY on the day, D+N after."""
    assert d_day(days) == text


@pytest.mark.parametrize(
    ("day", "locale", "text"),
    [
        (date(2026, 7, 1), "ko", "2026년 7월 1일"),
        (date(2026, 12, 31), "ko", "2026년 12월 31일"),
        (date(2026, 7, 1), "en", "July 1, 2026"),
        (date(2027, 1, 9), "en", "January 9, 2027"),
    ],
)
def test_long_date(day: date, locale: str, text: str) -> None:
    """The long date of each language: Korean without zero padding, English spelled out."""
    assert long_date(day, locale) == text
