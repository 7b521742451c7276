"""Dates as users read them: their calendar day, the long form of their language, D-days.

A certificate expiring at 2026-07-01T14:59:59Z expires on 2026-07-01 in
Seoul (23:59:59 KST): days are always counted on the user's calendar.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Final
from zoneinfo import ZoneInfo

from babel.dates import format_date

from handlers.i18n import supported

SEOUL: Final = ZoneInfo("Asia/Seoul")


def local_date(moment: datetime, zone: tzinfo = SEOUL) -> date:
    """The calendar day of `moment` in `zone`."""
    return moment.astimezone(zone).date()


def days_left(expiry: datetime, now: datetime, zone: tzinfo = SEOUL) -> int:
    """Calendar days from today to the expiry day in `zone` (0 on the day, negative after)."""
    return (local_date(expiry, zone) - local_date(now, zone)).days


def d_day(days: int) -> str:
    """`D-30`, `D-DAY`, or `D+3` once past."""
    if days > 0:
        return f"D-{days}"
    if days == 0:
        return "D-DAY"
    return f"D+{-days}"


def long_date(day: date, locale: str) -> str:
    """The locale's long date, from CLDR through Babel: `2026년 7월 1일`, `July 1, 2026`.
    Every language brings its own format; none is written here."""
    return format_date(day, format="long", locale=supported(locale))
