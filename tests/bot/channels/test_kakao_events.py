"""KakaoEventNotifier against a local fake of Kakao's Event API, over real HTTP.

The notifier's real aiohttp requests go to tests/fakes/kakao_events.py, so the URL,
headers and JSON it builds, and its reading of statuses, timeouts and refused
connections, are all exercised as they would be against bot-api.kakao.com.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from bot.channels.kakao_events import KakaoEventNotifier
from bot.channels.kakao_render import MAX_TEXT as TEXT_LIMIT
from bot.channels.kakao_render import truncate
from bot.reminders.notifiers import NotifierError, UserUnreachable
from handlers.messages import Choice, Reply
from storage.models import Channel, User
from tests.fakes.kakao_events import API_KEY, BOT_ID, FakeKakaoEventApi

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
BOT_USER_KEY = "a19b8cd3404d56ff71890edcb9b0be8b6466fd0c6bae2c9b177f3fa12cf21dd9ae"
TEXT = "홍길동님의 공동인증서가 30일 뒤(2025-03-31) 만료됩니다.\n갱신 방법을 안내해 드릴까요?"
REMINDER = Reply(TEXT, (Choice("갱신 안내", "renew:1"), Choice("나중에", "snooze:1")))


def kakao_user(user_key: str = BOT_USER_KEY) -> User:
    return User(id=7, channel=Channel.KAKAO, user_key=user_key, created_at=NOW, updated_at=NOW)


@pytest.fixture
async def api() -> AsyncIterator[FakeKakaoEventApi]:
    async with FakeKakaoEventApi() as fake:
        yield fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def notifier_for(
    api: FakeKakaoEventApi,
    session: aiohttp.ClientSession,
    *,
    api_key: str = API_KEY,
    bot_id: str = BOT_ID,
    timeout: float = 5.0,
) -> KakaoEventNotifier:
    return KakaoEventNotifier(
        session, api_key=api_key, bot_id=bot_id, base_url=api.url, timeout=timeout
    )


@pytest.fixture
def notifier(api: FakeKakaoEventApi, session: aiohttp.ClientSession) -> KakaoEventNotifier:
    return notifier_for(api, session)


async def test_reminder_is_delivered(api: FakeKakaoEventApi, notifier: KakaoEventNotifier) -> None:
    """A reminder is one POST to /v2/bots/{botId}/talk with the KakaoAK key, the event
    name, the text in the event data and the user as a botUserKey; the task id is the
    message id."""
    message_id = await notifier.send(kakao_user(), REMINDER, ["fp1"], NOW)

    [request] = api.requests
    assert request["method"] == "POST"
    assert request["path"] == f"/v2/bots/{BOT_ID}/talk"
    assert request["authorization"] == f"KakaoAK {API_KEY}"
    assert request["content_type"] == "application/json"
    assert request["json"] == {
        "event": {"name": "certmate_reminder", "data": {"text": TEXT}},
        "user": [{"type": "botUserKey", "id": BOT_USER_KEY}],
    }
    assert request["status"] == 200
    assert message_id == request["answer"]["taskId"]


async def test_event_name_and_dev_channel_bot_id(
    session: aiohttp.ClientSession,
) -> None:
    """A configured event name is sent as is, and a dev channel's bot id (ending in "!")
    reaches the path unescaped, as Kakao expects for dev channels."""
    async with FakeKakaoEventApi(bot_id=f"{BOT_ID}!") as api:
        notifier = KakaoEventNotifier(
            session,
            api_key=API_KEY,
            bot_id=f"{BOT_ID}!",
            event_name="expiry",
            base_url=api.url,
        )
        await notifier.send(kakao_user(), REMINDER, [], NOW)

    [request] = api.requests
    assert request["path"] == f"/v2/bots/{BOT_ID}!/talk"
    assert request["json"]["event"]["name"] == "expiry"


async def test_long_text_is_cut_at_a_line_end(
    api: FakeKakaoEventApi, notifier: KakaoEventNotifier
) -> None:
    """Text over Kakao's 1000-character bubble is cut at the last line end that fits,
    with "…" on its own line, so the block never overflows."""
    lines = [f"{index:02d}. 공동인증서 만료 안내 문장입니다 — 계속" for index in range(60)]
    await notifier.send(kakao_user(), Reply("\n".join(lines)), [], NOW)

    sent = api.requests[0]["json"]["event"]["data"]["text"]
    assert len(sent) <= TEXT_LIMIT
    body, ellipsis = sent.rsplit("\n", 1)
    assert ellipsis == "…"
    assert body.split("\n") == lines[: len(body.split("\n"))]
    assert len(body) + len("\n") + len(lines[len(body.split("\n"))]) + len("\n…") > TEXT_LIMIT


def test_truncate_counts_utf16_and_cuts_mid_line_only_when_it_must() -> None:
    """Short text is untouched; characters outside the BMP count twice, as Kakao's Java
    side counts them; a single over-long line is cut mid-line with "…"."""
    assert truncate(TEXT) == TEXT
    assert truncate("가" * TEXT_LIMIT) == "가" * TEXT_LIMIT

    cut = truncate("가" * (TEXT_LIMIT + 5))
    assert cut == "가" * (TEXT_LIMIT - 1) + "…"

    emoji = truncate("🔐" * TEXT_LIMIT)
    assert emoji.endswith("…")
    assert len(emoji.encode("utf-16-le")) // 2 <= TEXT_LIMIT


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_server_errors_and_rate_limits_are_retried(
    api: FakeKakaoEventApi, notifier: KakaoEventNotifier, status: int
) -> None:
    """5xx and 429 raise NotifierError (retried later), never UserUnreachable."""
    api.answer_next(status)

    with pytest.raises(NotifierError) as raised:
        await notifier.send(kakao_user(), REMINDER, [], NOW)

    assert not isinstance(raised.value, UserUnreachable)
    assert api.requests[0]["status"] == status


async def test_refused_key_is_a_retryable_error_logged_once_without_the_key(
    api: FakeKakaoEventApi,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A wrong key answers 401: NotifierError, one ERROR log for a run of refusals (not
    one per user), logged again only after a success; neither the key nor the
    message text appears in any log line or exception."""
    caplog.set_level(logging.DEBUG)
    wrong_key = "wrong-secret-rest-api-key-123456"
    notifier = notifier_for(api, session, api_key=wrong_key)

    errors: list[NotifierError] = []
    for _ in range(3):
        with pytest.raises(NotifierError) as raised:
            await notifier.send(kakao_user(), REMINDER, [], NOW)
        errors.append(raised.value)
    api.answer_next(200, {"taskId": "t-1", "status": "SUCCESS"})
    await notifier.send(kakao_user(), REMINDER, [], NOW)
    with pytest.raises(NotifierError):
        await notifier.send(kakao_user(), REMINDER, [], NOW)

    assert [request["status"] for request in api.requests] == [401, 401, 401, 200, 401]
    error_logs = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(error_logs) == 2
    assert not any(isinstance(error, UserUnreachable) for error in errors)
    for secret in (wrong_key, TEXT.splitlines()[0]):
        assert secret not in caplog.text
        for error in errors:
            assert secret not in str(error)
            assert secret not in repr(error.__cause__)
    assert wrong_key not in repr(notifier)


async def test_auth_error_in_the_body_is_a_key_problem(
    api: FakeKakaoEventApi, notifier: KakaoEventNotifier, caplog: pytest.LogCaptureFixture
) -> None:
    """Kakao's REST error body for a bad app key ({"code": -401}) counts as a refused
    key even under another HTTP status."""
    api.answer_next(400, {"code": -401, "msg": "wrong appKey"})

    with pytest.raises(NotifierError, match="refused the key"):
        await notifier.send(kakao_user(), REMINDER, [], NOW)

    assert any(record.levelno == logging.ERROR for record in caplog.records)


async def test_fail_for_the_user_means_unreachable(
    api: FakeKakaoEventApi, notifier: KakaoEventNotifier
) -> None:
    """An answer with status FAIL (the request's one user is unknown or blocked) raises
    UserUnreachable, so the scheduler stops trying that user."""
    api.fail_user(BOT_USER_KEY)

    with pytest.raises(UserUnreachable):
        await notifier.send(kakao_user(), REMINDER, [], NOW)

    assert api.requests[0]["answer"]["status"] == "FAIL"


@pytest.mark.parametrize(
    "answer",
    [
        {"taskId": "t-2", "status": "ERROR", "message": "internal"},
        {"status": "SUCCESS"},
        {"taskId": "", "status": "SUCCESS"},
        {"code": -500, "msg": "odd"},
    ],
)
async def test_unexpected_answers_are_retryable(
    api: FakeKakaoEventApi, notifier: KakaoEventNotifier, answer: dict[str, object]
) -> None:
    """ERROR, or an answer without a task id, is a NotifierError, not a success and not
    a reason to give up on the user."""
    api.answer_next(200, answer)

    with pytest.raises(NotifierError) as raised:
        await notifier.send(kakao_user(), REMINDER, [], NOW)

    assert not isinstance(raised.value, UserUnreachable)


async def test_bad_request_is_retryable(
    api: FakeKakaoEventApi, session: aiohttp.ClientSession
) -> None:
    """A 4xx other than 401/403/429 (here: an unknown bot id, 404) is a NotifierError."""
    notifier = notifier_for(api, session, bot_id="another-bot")

    with pytest.raises(NotifierError, match="404"):
        await notifier.send(kakao_user(), REMINDER, [], NOW)


async def test_timeout_is_retryable(api: FakeKakaoEventApi, session: aiohttp.ClientSession) -> None:
    """A server slower than the timeout raises NotifierError once the timeout passes,
    without waiting for the answer."""
    notifier = notifier_for(api, session, timeout=0.2)
    api.delay_next(5.0)

    started = time.monotonic()
    with pytest.raises(NotifierError, match="timed out"):
        await notifier.send(kakao_user(), REMINDER, [], NOW)

    assert time.monotonic() - started < 2.0


async def test_unreachable_server_is_retryable(session: aiohttp.ClientSession) -> None:
    """A refused connection (the API is down) raises NotifierError."""
    api = FakeKakaoEventApi()
    base_url = await api.start()
    await api.stop()
    notifier = KakaoEventNotifier(session, api_key=API_KEY, bot_id=BOT_ID, base_url=base_url)

    with pytest.raises(NotifierError, match="unreachable"):
        await notifier.send(kakao_user(), REMINDER, [], NOW)


async def test_settings_are_required(session: aiohttp.ClientSession) -> None:
    """An empty key, bot id or event name is a configuration error at construction."""
    with pytest.raises(ValueError, match="key"):
        KakaoEventNotifier(session, api_key="", bot_id=BOT_ID)
    with pytest.raises(ValueError, match="bot id"):
        KakaoEventNotifier(session, api_key=API_KEY, bot_id="")
