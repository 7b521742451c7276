"""Send schedules: how a sender keeps a server's rate limit, in one process or many.

Each limit is a key of a `Pacer`, one GCRA schedule per key: a sender books the
next slot and sleeps until it. Telegram's sender (`telegram_limits`) and the Kakao
Event API notifier (`kakao_events`) pace through the same port; `LocalPacer` keeps
the schedules in this process, `bot.pacing.DatabasePacer` in PostgreSQL when several
processes send for one bot.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any, Final, Protocol

_FORGET_OVER: Final = 10_000
"""Schedules kept in memory before idle ones are forgotten (one per Telegram chat)."""

Clock = Callable[[], float]
Sleep = Callable[[float], Coroutine[Any, Any, None]]


class Schedule:
    """One rate limit as a schedule of slots (GCRA): `reserve` books the next slot and
    says how long to wait for it. Booking is immediate, so concurrent senders queue in
    order instead of racing for the same slot."""

    def __init__(self, per_second: float, burst: int = 1) -> None:
        self.interval = 1.0 / per_second
        self.tolerance = (burst - 1) * self.interval
        self._next = 0.0

    def reserve(self, now: float) -> float:
        """Book a slot; the seconds to wait before using it."""
        start = max(self._next, now)
        self._next = start + self.interval
        return max(0.0, start - self.tolerance - now)

    def hold(self, until: float) -> None:
        """No slot before `until` (the server asked to wait)."""
        self._next = max(self._next, until)

    def idle(self, now: float) -> bool:
        return self._next <= now


class Pacer(Protocol):
    """Where the send schedules live: each key is one GCRA schedule."""

    async def reserve(self, key: str, interval: float, burst: int) -> float:
        """Book the next slot of `key` (one per `interval` s, `burst` at once); the
        seconds to wait before using it."""
        ...

    async def hold(self, key: str, seconds: float) -> None:
        """Move the next slot of `key` to at least `seconds` from now: the server asked
        to wait, or a message leaves that late. (A schedule with a burst still lets its
        burst go just before that slot, as after any slot.)"""
        ...


class LocalPacer:
    """Schedules in this process's memory: enough when one process sends for the bot."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._schedules: dict[str, Schedule] = {}

    async def reserve(self, key: str, interval: float, burst: int) -> float:
        return self.reserve_now(key, interval, burst)

    def reserve_now(self, key: str, interval: float, burst: int) -> float:
        """`reserve`, without awaiting (a fallback for the database pacer)."""
        now = self._clock()
        schedule = self._schedules.get(key)
        if schedule is None:
            if len(self._schedules) > _FORGET_OVER:
                self._schedules = {k: v for k, v in self._schedules.items() if not v.idle(now)}
            schedule = self._schedules[key] = Schedule(1 / interval, burst)
        return schedule.reserve(now)

    async def hold(self, key: str, seconds: float) -> None:
        self.hold_now(key, seconds)

    def hold_now(self, key: str, seconds: float) -> None:
        schedule = self._schedules.get(key)
        if schedule is not None:
            schedule.hold(self._clock() + seconds)
