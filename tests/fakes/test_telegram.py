"""The fake Bot API against the real python-telegram-bot client, so bot tests can trust it.

Every test drives an unchanged ``telegram.Bot`` over HTTP: if PTB's encoding, URL building or
error mapping ever disagreed with the fake, these tests (not the bot's) would say so.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

from tests.fakes.telegram import TOKEN, FakeBotApi

USER = 4242
KOREAN = "공동인증서 만료까지 30일 남았습니다 🔐"
WEBHOOK_SECRET = "s3cret_-X"  # noqa: S105 - a made-up value the fake only compares
BASE64_SECRET = "a+b/c="  # noqa: S105 - characters Telegram refuses in a secret_token


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns inside RetryAfter() itself unless opted in; warnings are errors here."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as fake:
        yield fake


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[telegram.Bot]:
    async with telegram.Bot(
        TOKEN, base_url=api.base_url, base_file_url=api.base_file_url
    ) as real_bot:
        yield real_bot


async def test_get_me(api: FakeBotApi, bot: telegram.Bot) -> None:
    me = await bot.get_me()

    assert me.is_bot
    assert me.username == "certmate_test_bot"
    assert me.id == 123456
    assert me.can_join_groups
    assert bot.base_url == f"{api.base_url}{TOKEN}"
    assert [call.status for call in api.calls_of("getMe")] == [200, 200]  # initialize + ours


async def test_wrong_token_is_rejected(api: FakeBotApi) -> None:
    wrong = telegram.Bot("999:wrong", base_url=api.base_url, base_file_url=api.base_file_url)
    with pytest.raises(telegram.error.InvalidToken):
        await wrong.initialize()
    await wrong.shutdown()
    assert api.calls[-1].status == 401


async def test_long_poll_returns_an_update_queued_during_the_wait(
    api: FakeBotApi, bot: telegram.Bot
) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await api.wait_for(lambda: any(c.status == 0 for c in api.calls_of("getUpdates")))
    api.queue(api.text_update(USER, "/start@certmate_test_bot 안녕하세요"))

    updates = await poll
    assert time.monotonic() - started < 2
    assert len(updates) == 1
    message = updates[0].message
    assert message is not None
    assert message.text == "/start@certmate_test_bot 안녕하세요"
    assert message.chat.id == USER
    assert message.from_user is not None
    assert message.from_user.first_name == "홍길동"
    assert message.parse_entity(message.entities[0]) == "/start@certmate_test_bot"
    assert updates[0].update_id == 1
    assert api.calls_of("getUpdates")[0].params["timeout"] == 5


async def test_offset_confirms_updates(api: FakeBotApi, bot: telegram.Bot) -> None:
    api.queue(api.text_update(USER, "하나"))
    api.queue(api.text_update(USER, "둘"))

    first = await bot.get_updates(limit=1)
    again = await bot.get_updates()  # nothing confirmed yet: delivered again
    assert [u.update_id for u in first] == [1]
    assert [u.update_id for u in again] == [1, 2]
    assert [u.message.message_id for u in again if u.message] == [1, 2]

    rest = await bot.get_updates(offset=2)
    assert [u.update_id for u in rest] == [2]
    assert await bot.get_updates(offset=3, timeout=0) == ()
    assert api.pending_updates == []


async def test_a_second_instance_polling_ends_the_first_with_conflict(
    api: FakeBotApi, bot: telegram.Bot
) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await api.wait_for(lambda: len(api.calls_of("getUpdates")) == 1)
    async with telegram.Bot(
        TOKEN, base_url=api.base_url, base_file_url=api.base_file_url
    ) as second:
        assert await second.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates"):
        await first


async def test_send_message_with_inline_keyboard(api: FakeBotApi, bot: telegram.Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("갱신하기", callback_data="renew:7")]])
    sent = await bot.send_message(USER, KOREAN, reply_markup=keyboard)

    assert sent.text == KOREAN
    assert sent.message_id == 1
    assert sent.chat.id == USER
    assert sent.from_user is not None
    assert sent.from_user.is_bot
    assert sent.reply_markup == keyboard
    params = api.calls_of("sendMessage")[0].params
    assert params["chat_id"] == USER
    assert params["text"] == KOREAN
    assert params["reply_markup"] == {
        "inline_keyboard": [[{"text": "갱신하기", "callback_data": "renew:7"}]]
    }
    assert api.sent_messages(USER) == [params]


async def test_numeric_looking_text_stays_a_string(api: FakeBotApi, bot: telegram.Bot) -> None:
    await bot.send_message(USER, "123456")
    assert api.sent_messages(USER)[0]["text"] == "123456"


async def test_message_text_limits(api: FakeBotApi, bot: telegram.Bot) -> None:
    # PTB drops "Bad Request: " and capitalizes the rest, hence (?i) on BadRequest matches.
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(USER, "가" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(USER, "😀" * 2049)  # 4098 UTF-16 code units
    await bot.send_message(USER, "😀" * 2048)
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="가" * 22)]])
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "키보드", reply_markup=too_long)
    assert len(api.sent_messages(USER)) == 1


async def test_edit_message_text(api: FakeBotApi, bot: telegram.Bot) -> None:
    sent = await bot.send_message(USER, "처음")
    edited = await bot.edit_message_text("바뀜", chat_id=USER, message_id=sent.message_id)

    assert isinstance(edited, telegram.Message)
    assert edited.text == "바뀜"
    assert edited.edit_date is not None
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("바뀜", chat_id=USER, message_id=sent.message_id)
    assert [m["text"] for m in api.sent_messages(USER)] == ["처음", "바뀜"]


async def test_send_document(api: FakeBotApi, bot: telegram.Bot) -> None:
    data = bytes(range(256)) * 40
    sent = await bot.send_document(USER, data, filename="signCert.der", caption="인증서")

    assert sent.document is not None
    assert sent.document.file_name == "signCert.der"
    assert sent.document.file_size == len(data)
    assert sent.caption == "인증서"
    assert api.sent_documents(USER) == [("signCert.der", data)]
    call = api.calls_of("sendDocument")[0]
    assert call.files == {"document": ("signCert.der", data)}
    assert call.params["chat_id"] == USER


async def test_korean_file_name_round_trips(api: FakeBotApi, bot: telegram.Bot) -> None:
    await bot.send_document(USER, b"\x30\x82", filename="홍길동_인증서.zip")
    assert api.sent_documents(USER) == [("홍길동_인증서.zip", b"\x30\x82")]


async def test_get_file_and_download(api: FakeBotApi, bot: telegram.Bot) -> None:
    data = b"\x30\x82\x01\x0a" + bytes(1000)
    update = Update.de_json(api.document_update(USER, "signPri.key", data), bot)
    assert update is not None
    assert update.message is not None
    document = update.message.document
    assert document is not None
    assert document.file_name == "signPri.key"
    assert document.file_size == len(data)

    file = await bot.get_file(document.file_id)
    assert file.file_size == len(data)
    assert file.file_path == f"{api.base_file_url}{TOKEN}/documents/file_1.key"
    assert await file.download_as_bytearray() == bytearray(data)
    assert api.downloads == ["documents/file_1.key"]


async def test_declared_size_is_advertised_and_checked(api: FakeBotApi, bot: telegram.Bot) -> None:
    raw = api.document_update(USER, "big.pfx", b"tiny", declared_size=25 * 1024 * 1024)
    assert raw["message"]["document"]["file_size"] == 25 * 1024 * 1024
    with pytest.raises(BadRequest, match=r"(?i)file is too big"):
        await bot.get_file(raw["message"]["document"]["file_id"])


async def test_delete_message(api: FakeBotApi, bot: telegram.Bot) -> None:
    sent = await bot.send_message(USER, "비밀번호를 보내 주세요")
    assert await bot.delete_message(USER, sent.message_id)
    assert api.deleted == [(USER, sent.message_id)]
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(USER, sent.message_id)

    api.refuse_delete(USER)
    with pytest.raises(BadRequest, match=r"(?i)message can't be deleted"):
        await bot.delete_message(USER, 99)


async def test_answer_callback_query(api: FakeBotApi, bot: telegram.Bot) -> None:
    typed = api.text_update(USER, "/delete")  # message 1 is the user's
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("예", callback_data="yes")]])
    sent = await bot.send_message(USER, "삭제할까요?", reply_markup=keyboard)
    assert sent.message_id == typed["message"]["message_id"] + 1
    raw = api.callback_update(USER, "yes")  # defaults to the bot's latest message
    assert raw["callback_query"]["message"]["message_id"] == sent.message_id
    update = Update.de_json(raw, bot)
    assert update is not None
    query = update.callback_query
    assert query is not None
    assert query.data == "yes"
    assert isinstance(query.message, telegram.Message)
    assert query.message.text == "삭제할까요?"
    assert query.message.reply_markup == keyboard

    assert await query.answer("완료")
    assert api.answered_callbacks == [query.id]
    assert api.calls_of("answerCallbackQuery")[0].params["text"] == "완료"


async def test_set_my_commands(api: FakeBotApi, bot: telegram.Bot) -> None:
    assert await bot.set_my_commands(
        [("start", "시작"), ("certs", "내 인증서")], language_code="ko"
    )
    assert await bot.set_my_commands([("start", "Start")])

    assert api.commands == {
        "ko": [
            {"command": "start", "description": "시작"},
            {"command": "certs", "description": "내 인증서"},
        ],
        None: [{"command": "start", "description": "Start"}],
    }
    assert [c.command for c in await bot.get_my_commands(language_code="ko")] == [
        "start",
        "certs",
    ]
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Start-Now", "x")])


async def test_webhook_blocks_get_updates(api: FakeBotApi, bot: telegram.Bot) -> None:
    api.queue(api.text_update(USER, "안녕"))
    assert await bot.set_webhook("https://certmate.example/tg", secret_token=WEBHOOK_SECRET)
    webhook = api.webhook
    assert webhook is not None
    assert webhook["url"] == "https://certmate.example/tg"
    assert webhook["secret_token"] == WEBHOOK_SECRET
    info = await bot.get_webhook_info()
    assert info.url == "https://certmate.example/tg"
    assert info.pending_update_count == 1

    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    assert api.calls_of("getUpdates")[-1].status == 409

    assert await bot.delete_webhook(drop_pending_updates=True)
    assert api.webhook is None
    assert await bot.get_updates() == ()
    with pytest.raises(BadRequest, match=r"(?i)HTTPS URL"):
        await bot.set_webhook("http://certmate.example/tg")
    with pytest.raises(BadRequest, match=r"(?i)secret token"):
        await bot.set_webhook("https://certmate.example/tg", secret_token=BASE64_SECRET)


async def test_fail_next_429(api: FakeBotApi, bot: telegram.Bot) -> None:
    api.fail_next("sendMessage")

    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(USER, "첫 번째")
    assert raised.value.retry_after == timedelta(seconds=1)
    assert api.responses_429 == 1
    assert api.sent_messages(USER) == []

    await bot.send_message(USER, "두 번째")
    assert [m["text"] for m in api.sent_messages(USER)] == ["두 번째"]
    assert [c.status for c in api.calls_of("sendMessage")] == [429, 200]


async def test_fail_next_other_statuses(api: FakeBotApi, bot: telegram.Bot) -> None:
    api.fail_next("SENDMESSAGE", status=500, times=2)
    api.fail_next("sendMessage", status=400, description="Bad Request: chat not found")
    for _ in range(2):
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(USER, "x")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(USER, "x")
    await bot.send_message(USER, "x")
    assert api.responses_429 == 0


async def test_block_chat(api: FakeBotApi, bot: telegram.Bot) -> None:
    await bot.send_message(USER, "안녕하세요")
    api.block_chat(USER)

    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER, "만료 알림")
    with pytest.raises(Forbidden):
        await bot.send_document(USER, b"x", filename="a.der")
    assert len(api.sent_messages(USER)) == 1
    await bot.send_message(USER + 1, "다른 사용자")  # other chats are unaffected


async def test_delay(api: FakeBotApi, bot: telegram.Bot) -> None:
    api.delay("getMe", 0.2)
    started = time.monotonic()
    await bot.get_me()
    assert time.monotonic() - started >= 0.2
    api.delay("getMe", 0)
    started = time.monotonic()
    await bot.get_me()
    assert time.monotonic() - started < 0.2


async def test_overall_rate_refuses_a_burst() -> None:
    async with (
        FakeBotApi(overall_per_second=4) as api,
        telegram.Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url) as bot,
    ):
        results = [
            await _try_send(bot, chat_id) for chat_id in range(1, 7)
        ]  # six different chats, back to back
        assert results == ["ok"] * 4 + ["429"] * 2
        assert api.responses_429 == 2
        assert [c.status for c in api.calls_of("sendMessage")] == [200] * 4 + [429] * 2
        assert sum(len(api.sent_messages(chat_id)) for chat_id in range(1, 7)) == 4


async def test_overall_rate_accepts_spaced_sends() -> None:
    async with (
        FakeBotApi(overall_per_second=4) as api,
        telegram.Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url) as bot,
    ):
        for chat_id in range(1, 6):
            await bot.send_message(chat_id, "천천히")
            # Sends i and i+4 are >= 1.0 s apart: never 5 inside the 0.95 s window.
            await asyncio.sleep(0.25)
        assert api.responses_429 == 0
        assert [c.status for c in api.calls_of("sendMessage")] == [200] * 5


async def test_per_chat_rate_allows_a_burst_of_three() -> None:
    async with (
        FakeBotApi(per_chat_per_second=1) as api,
        telegram.Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url) as bot,
    ):
        results = [await _try_send(bot, USER) for _ in range(4)]
        assert results == ["ok", "ok", "ok", "429"]
        assert await _try_send(bot, USER + 1) == "ok"  # limits are per chat


async def test_raw_protocol(api: FakeBotApi) -> None:
    """What PTB does not exercise: GET with a query, JSON bodies, case, unknown methods."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{api.base_url}{TOKEN}/GETME") as response:
            assert response.status == 200
            body = await response.json()
            assert body["ok"] is True
            assert body["result"]["username"] == "certmate_test_bot"
        url = f"{api.base_url}{TOKEN}/sendMessage"
        async with http.post(url, json={"chat_id": USER, "text": "제이슨"}) as response:
            assert (await response.json())["result"]["text"] == "제이슨"
        async with http.get(url, params={"chat_id": str(USER), "text": "쿼리"}) as response:
            assert (await response.json())["result"]["chat"]["id"] == USER
        async with http.get(f"{api.base_url}{TOKEN}/noSuchMethod") as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found",
            }
        async with http.get(f"{api.base_url}1:bad/getMe") as response:
            assert response.status == 401
            assert await response.json() == {
                "ok": False,
                "error_code": 401,
                "description": "Unauthorized",
            }
        async with http.get(f"{api.base_file_url}{TOKEN}/documents/nope.der") as response:
            assert response.status == 404
    assert [m["text"] for m in api.sent_messages(USER)] == ["제이슨", "쿼리"]
    assert [c.method for c in api.calls][:2] == ["getMe", "sendMessage"]


async def test_wait_for_times_out_with_a_message(api: FakeBotApi) -> None:
    with pytest.raises(AssertionError, match=r"still false after 0\.05 s"):
        await api.wait_for(lambda: bool(api.sent_messages(USER)), timeout=0.05)


async def test_application_polling_end_to_end(api: FakeBotApi) -> None:
    """PTB's own Application (ExtBot, Updater) runs unchanged against the fake."""

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, "반갑습니다")

    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        api.queue(api.text_update(USER, "/start"))
        await api.wait_for(lambda: bool(api.sent_messages(USER)), timeout=5)
        await app.updater.stop()
        await app.stop()
    assert api.sent_messages(USER)[0]["text"] == "반갑습니다"
    assert api.pending_updates == []  # the Updater confirmed the update on its way out


async def _try_send(bot: telegram.Bot, chat_id: int) -> str:
    try:
        await bot.send_message(chat_id, "빠르게")
    except RetryAfter:
        return "429"
    return "ok"
