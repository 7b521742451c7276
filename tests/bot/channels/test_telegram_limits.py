"""The Telegram sender's pacing and retries, on a fake clock (no real waiting) but for a
stalled event loop, which takes real time."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Coroutine
from datetime import timedelta
from time import monotonic
from time import sleep as block_the_loop
from typing import Any

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.channels.pacer import Schedule
from bot.channels.telegram_limits import (
    CHAT_BURST,
    CHAT_GUARD,
    MARGIN,
    OVERALL,
    TelegramRateLimiter,
)
from bot.metrics import Metrics


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _limiter(time: FakeTime, **kwargs: Any) -> TelegramRateLimiter:
    return TelegramRateLimiter(clock=time, sleep=time.sleep, **kwargs)


async def _send(limiter: TelegramRateLimiter, time: FakeTime, chat: int, sent: list[float]) -> None:
    async def call() -> bool:
        sent.append(time.now)
        return True

    await limiter.process_request(call, (), {}, "sendMessage", {"chat_id": chat}, None)


def test_a_schedule_spaces_slots_after_its_burst() -> None:
    schedule = Schedule(per_second=2, burst=3)
    assert [schedule.reserve(0.0) for _ in range(5)] == [0.0, 0.0, 0.0, 0.5, 1.0]


async def test_sends_to_many_chats_keep_the_overall_rate() -> None:
    """300 messages to 300 chats at 30/s: evenly spaced a little under the limit (its
    margin), about ten seconds, never faster."""
    time = FakeTime()
    limiter = _limiter(time, per_second=30)
    sent: list[float] = []
    for chat in range(300):
        await _send(limiter, time, chat, sent)
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert min(gaps) == pytest.approx(1 / (30 * MARGIN))
    assert sent[-1] == pytest.approx(299 / (30 * MARGIN))


async def test_one_chat_gets_a_burst_then_one_a_second_and_its_guard() -> None:
    time = FakeTime()
    limiter = _limiter(time, per_second=30, chat_per_second=1)
    sent: list[float] = []
    for _ in range(CHAT_BURST + 3):
        await _send(limiter, time, 7, sent)
    assert sent[CHAT_BURST - 1] < 0.1  # the burst goes at once (overall spacing only)
    assert sent[-1] - sent[CHAT_BURST - 1] == pytest.approx(3 * (1 + CHAT_GUARD), abs=0.1)


def _within_telegrams_chat_limit(sent: list[float]) -> bool:
    """The fake Bot API's per-chat rule at 1/s: at most 3 sends in any 0.95 s and
    3 + 3 in any 3 s."""
    return all(
        sum(t <= s < t + 0.95 for s in sent) <= CHAT_BURST
        and sum(t <= s < t + 3 for s in sent) <= CHAT_BURST + 3
        for t in sent
    )


async def test_a_chat_behind_a_long_overall_queue_keeps_its_own_pace() -> None:
    """Other processes have booked the next two seconds of the overall schedule (a
    reminder run) when a chat's six messages come: the first leaves after that queue, and
    the chat's next ones count from when it left, not from its earlier chat slot (they
    used to follow it at once, four and more in one second: a 429)."""
    time = FakeTime()
    limiter = _limiter(time, per_second=30, chat_per_second=1)
    for _ in range(60):
        await limiter.pacer.reserve(OVERALL, limiter.interval, 1)
    sent: list[float] = []
    for _ in range(6):
        await _send(limiter, time, 7, sent)
    assert sent[0] == pytest.approx(60 / (30 * MARGIN))
    assert _within_telegrams_chat_limit(sent), sent


async def test_a_stalled_event_loop_does_not_send_its_missed_slots_at_once() -> None:
    """Real time: 70 sends to 70 chats at 30/s queue for about two and a half seconds,
    and the event loop stalls for 0.4 s in the middle (a busy process). The sends whose
    slots passed meanwhile book new ones instead of leaving together, so no 0.95 s
    holds more than Telegram's 30 (the fake Bot API's rule); they used to leave in one
    bunch of a dozen."""
    limiter = TelegramRateLimiter(per_second=30)
    sent: list[float] = []

    async def send(chat: int) -> None:
        async def call() -> bool:
            sent.append(monotonic())
            return True

        await limiter.process_request(call, (), {}, "sendMessage", {"chat_id": chat}, None)

    async def stall() -> None:
        await asyncio.sleep(1.0)
        block_the_loop(0.4)  # noqa: ASYNC251  (the stall is the point)

    await asyncio.gather(stall(), *(send(chat) for chat in range(70)))
    assert len(sent) == 70
    assert max(sum(t <= s < t + 0.95 for s in sent) for t in sent) <= 30, sent
    missed = limiter.metrics.registry.get_sample_value("certmate_telegram_slots_missed_total")
    assert missed, "no slot was missed: the stall did not test anything"


async def test_retry_after_is_waited_and_the_request_made_again() -> None:
    time = FakeTime()
    limiter = _limiter(time)
    answers: list[Exception | bool] = [RetryAfter(timedelta(seconds=7)), True]
    made_at: list[float] = []

    async def call() -> bool:
        made_at.append(time.now)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert await limiter.process_request(call, (), {}, "sendMessage", {"chat_id": 1}, None)
    assert made_at == [0.0, 7.0]
    assert limiter.retried_after == 1


async def test_network_errors_back_off_and_give_up_after_max_attempts() -> None:
    time = FakeTime()
    limiter = _limiter(time, max_attempts=4, backoff=0.5)
    calls = 0

    async def call() -> bool:
        nonlocal calls
        calls += 1
        raise TimedOut

    with pytest.raises(NetworkError):
        await limiter.process_request(call, (), {}, "getFile", {}, None)
    assert calls == 4
    assert time.slept == [0.5, 1.0, 2.0]


@pytest.mark.parametrize("error", [BadRequest("chat not found"), Forbidden("blocked")])
async def test_telegrams_refusals_are_not_retried(error: Exception) -> None:
    time = FakeTime()
    limiter = _limiter(time)
    calls = 0

    async def call() -> bool:
        nonlocal calls
        calls += 1
        raise error

    with pytest.raises(type(error)):
        await limiter.process_request(call, (), {}, "sendMessage", {"chat_id": 1}, None)
    assert calls == 1


async def test_metrics_count_sends_429s_and_the_sends_waiting_for_a_slot() -> None:
    """Sends past a chat's burst wait for their slot (the queue gauge shows them while
    they do, and is 0 after); a 429 waited out is counted once, its message sent once."""
    time = FakeTime()
    metrics = Metrics()
    waiting: list[float | None] = []

    async def sleep(seconds: float) -> None:
        waiting.append(metrics.registry.get_sample_value("certmate_telegram_send_queue"))
        await time.sleep(seconds)

    limiter = TelegramRateLimiter(clock=time, sleep=sleep, metrics=metrics)
    sent: list[float] = []
    for _ in range(CHAT_BURST + 2):
        await _send(limiter, time, 7, sent)
    answers: list[Exception | bool] = [RetryAfter(timedelta(seconds=3)), True]

    async def call() -> bool:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert await limiter.process_request(call, (), {}, "sendMessage", {"chat_id": 8}, None)
    assert await limiter.process_request(call_of(True), (), {}, "getMe", {}, None)

    def value(name: str) -> float | None:
        return metrics.registry.get_sample_value(name)

    assert value("certmate_telegram_sends_total") == CHAT_BURST + 3  # getMe is not a send
    assert value("certmate_telegram_retry_after_total") == 1
    assert value("certmate_telegram_send_queue") == 0
    assert 1.0 in waiting  # a send waited for its pacing slot, and was counted as waiting


def call_of(answer: bool) -> Callable[[], Coroutine[Any, Any, bool]]:
    async def call() -> bool:
        return answer

    return call
