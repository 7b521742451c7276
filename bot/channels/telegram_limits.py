"""How certmate sends to Telegram without being throttled, and retries when it is.

Telegram allows a bot about 30 messages a second overall and about one a
second in one chat, with short bursts tolerated
(https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this).
Sends are paced, not merely retried: every message takes the next free slot
of a per-chat schedule (a reply of up to `CHAT_BURST` messages goes out at
once, a longer stream one a second) and then of the overall schedule (evenly
spaced, no burst), so a reminder run to thousands of users keeps the rate
without a single 429. The schedules live in a `Pacer` (`bot.channels.pacer`):
in this process (`LocalPacer`), or in PostgreSQL (`bot.pacing.DatabasePacer`)
when several processes share one bot, since Telegram's limits are per bot. A
send that wakes too late for its slot (a busy process) books a new one rather
than leave in a bunch with the others it missed. When Telegram
answers 429 anyway, every send waits the `retry_after` it asked for, then
the request is made again; network errors are retried with exponential
backoff. Both are bounded by `max_attempts`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any, Final

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter

from bot.channels.pacer import Clock, LocalPacer, Pacer, Sleep
from bot.metrics import Metrics

CHAT_BURST: Final = 3
CHAT_GUARD: Final = 0.2
"""Seconds added between a chat's messages after its burst: a burst that leaves late
would otherwise still be inside Telegram's second when the next message comes on time.
A chat's long stream goes at one message every 1.2 s instead of 1."""
MARGIN: Final = 0.97
"""The overall schedule runs 3% under the limit: a send leaves a little after its slot
(a busy event loop, a database round trip for a shared slot, the network), and sends
that leave late bunch up; the margin absorbs that, so Telegram never sees more than
its limit in any second."""
LATE: Final = 0.5
"""Overall slots a send may leave after its own before the slot counts as missed and a
new one is booked: a process whose event loop stalled would otherwise send every message
whose slot passed meanwhile at once, and that bunch (with the sends of the other
processes on time) is more than Telegram allows in one second."""
REBOOKS: Final = 3
"""Missed slots after which a send goes anyway (a process stalled that often is
better sending than starving its users)."""
PACED: Final = frozenset(
    {
        "sendmessage",
        "senddocument",
        "sendphoto",
        "editmessagetext",
        "editmessagereplymarkup",
        "copymessage",
        "forwardmessage",
    }
)
"""Endpoints that post into a chat and count against Telegram's limits (lowercase)."""

log = logging.getLogger("certmate.telegram")

OVERALL: Final = "telegram"
"""The pacer key of the bot's overall schedule; a chat's is `telegram:<chat id>`."""


class TelegramRateLimiter(BaseRateLimiter[None]):
    """Paces sends to Telegram's limits; retries 429s and network errors, boundedly."""

    def __init__(
        self,
        *,
        per_second: float = 30,
        chat_per_second: float = 1,
        max_attempts: int = 5,
        backoff: float = 0.5,
        pacer: Pacer | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics if metrics is not None else Metrics()
        self.interval = 1.0 / (per_second * MARGIN)
        self.chat_interval = 1.0 / chat_per_second + CHAT_GUARD
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.pacer: Pacer = pacer or LocalPacer(clock)
        self._clock = clock
        self._sleep = sleep
        self.retried_after = 0
        """How many 429 answers were waited out (visible in tests and benchmarks)."""

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def process_request(  # noqa: PLR0917  (PTB's signature)
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,  # noqa: ARG002  (per-call arguments: none are used)
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        paced = endpoint.lower() in PACED
        chat = str(data.get("chat_id", "")) if paced else ""
        for attempt in range(1, self.max_attempts + 1):
            if paced:
                with self.metrics.telegram_send_queue.track_inprogress():
                    await self._take_slot(chat)
            try:
                answer = await callback(*args, **kwargs)
            except RetryAfter as err:
                if attempt == self.max_attempts:
                    raise
                wait = _seconds(err)
                self.retried_after += 1
                self.metrics.telegram_retry_after.inc()
                log.warning("Telegram asked to wait %.1f s (%s); waiting", wait, endpoint)
                await self.pacer.hold(OVERALL, wait)
                await self._sleep(wait)
            except (BadRequest, Forbidden):
                raise  # Telegram's answer: trying again cannot change it
            except NetworkError as err:
                if attempt == self.max_attempts:
                    raise
                delay = self.backoff * 2 ** (attempt - 1)
                log.warning(
                    "%s failed (%s); retrying in %.1f s", endpoint, type(err).__name__, delay
                )
                await self._sleep(delay)
            else:
                if paced:
                    self.metrics.telegram_sends.inc()
                return answer
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _take_slot(self, chat: str) -> None:
        """Book the chat's slot and wait for it, then the overall one (see `_overall_slot`).
        When the overall queue makes the message leave later than its chat slot, the
        chat's schedule is moved to count from when it really leaves: else the chat's next
        messages, booked from the earlier slot, would follow it at once (a 429 for that
        chat)."""
        key = f"{OVERALL}:{chat}"
        wait = await self.pacer.reserve(key, self.chat_interval, CHAT_BURST)
        if wait:
            await self._sleep(wait)
        for _ in range(REBOOKS):
            wait = await self.pacer.reserve(OVERALL, self.interval, 1)
            slot = self._clock() + wait  # never early: the booking's way back is counted
            if wait > CHAT_GUARD:
                await self.pacer.hold(key, wait + self.chat_interval)
            if (rest := slot - self._clock()) > 0:
                await self._sleep(rest)
            if not wait or self._clock() - slot <= LATE * self.interval:
                return  # on time, or the schedule was idle (no one to bunch with)
            self.metrics.telegram_slots_missed.inc()
        log.warning("a send missed %d pacing slots in a row; sending now", REBOOKS)


def _seconds(err: RetryAfter) -> float:
    """`retry_after` in seconds (a timedelta with PTB_TIMEDELTA set, else a number)."""
    value = err.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
