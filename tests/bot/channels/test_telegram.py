"""The Telegram channel end to end: python-telegram-bot, unchanged, against a local Bot API.

Each test runs the real channel (PTB, the inbox, the assistant, a SQLite file)
against `FakeBotApi` on 127.0.0.1, in polling or webhook mode; the clock is
the harness's, so the test certificate is valid.
"""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from sqlmodel import select

from bot.app import notifiers
from bot.channels.telegram import (
    SECRET_HEADER,
    WEBHOOK_PATH,
    TelegramChannel,
    TelegramNotifier,
    build_application,
    split_text,
)
from bot.config import TelegramSettings
from bot.reminders.notifiers import UserUnreachable
from bot.reminders.sweep import Sweeper
from bot.web import Server, build_app
from handlers.messages import Choice, Reply
from storage import users
from storage.models import Certificate, Channel, KeyAttempt, Lease, ProcessedUpdate, User
from tests import factory
from tests.bot.raw_http import raw_post
from tests.conftest import Holder
from tests.fakes.telegram import TOKEN, FakeBotApi
from tests.handlers.harness import START, World

USER = 4242
PASSWORD = factory.PASSWORD.decode()
HOOK_URL = "https://certmate.example/telegram/webhook"
JsonDict = dict[str, Any]


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as fake:
        yield fake


def _settings(api: FakeBotApi, mode: str = "polling", chat_rate: int = 50) -> TelegramSettings:
    """The fake's address; per-chat pacing raised so conversations run at test speed
    (`test_replies_in_one_chat_are_paced` keeps Telegram's 1/s)."""
    return TelegramSettings(
        token=TOKEN,
        mode=mode,
        base_url=api.base_url,
        base_file_url=api.base_file_url,
        webhook_url=HOOK_URL,
        chat_messages_per_second=chat_rate,
    )


def _channel(world: World, api: FakeBotApi, mode: str = "polling") -> TelegramChannel:
    settings = _settings(api, mode)
    return TelegramChannel(
        build_application(settings),
        world.assistant,
        settings,
        upload_limit=64 * 1024,
        webhook_url=HOOK_URL,
        process_name="run:test",
    )


_WEBHOOKS: dict[int, str] = {}
"""id(channel) -> the URL its webhook route listens on, for channels in webhook mode."""


@pytest.fixture(params=["polling", "webhook"])
async def running(
    request: pytest.FixtureRequest, world: World, api: FakeBotApi
) -> AsyncIterator[TelegramChannel]:
    """The channel started in each mode; `_exchange` delivers updates the mode's way."""
    channel = _channel(world, api, request.param)
    server = None
    if request.param == "webhook":
        app = build_app()
        channel.add_routes(app)
        server = Server(app, "127.0.0.1", 0)
    await channel.start()
    if server is not None:
        await server.start()
        _WEBHOOKS[id(channel)] = f"http://127.0.0.1:{server.port}{WEBHOOK_PATH}"
    try:
        yield channel
    finally:
        _WEBHOOKS.pop(id(channel), None)
        if server is not None:
            await server.stop()
        await channel.stop(grace=5)


@pytest.fixture
async def polling(world: World, api: FakeBotApi) -> AsyncIterator[TelegramChannel]:
    channel = _channel(world, api)
    await channel.start()
    try:
        yield channel
    finally:
        await channel.stop(grace=5)


async def _exchange(api: FakeBotApi, channel: TelegramChannel, update: JsonDict) -> list[JsonDict]:
    """Deliver one update (queued for getUpdates, or posted to the webhook); once it is
    handled, the messages the bot sent for it."""
    before = len(api.sent_messages(USER))
    update_id = update["update_id"]
    webhook = _WEBHOOKS.get(id(channel))
    if webhook is not None:
        assert await _post(webhook, update, channel.settings.webhook_secret) == 200
        await api.wait_for(lambda: channel.inbox.busy == 0)
        return api.sent_messages(USER)[before:]
    api.queue(update)

    def handled() -> bool:
        asked_on = any(
            int(call.params.get("offset") or 0) > update_id for call in api.calls_of("getUpdates")
        )
        return asked_on and channel.inbox.busy == 0

    await api.wait_for(handled)
    return api.sent_messages(USER)[before:]


def _texts(sent: list[JsonDict]) -> str:
    return "\n".join(str(message.get("text", "")) for message in sent)


def _buttons(sent: list[JsonDict]) -> dict[str, str]:
    """Label -> callback data of the inline keyboards in `sent`."""
    found = {}
    for message in sent:
        markup = message.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                found[button["text"]] = button.get("callback_data", "")
    return found


async def _press(
    api: FakeBotApi, channel: TelegramChannel, sent: list[JsonDict], label: str
) -> list[JsonDict]:
    data = next(v for k, v in _buttons(sent).items() if k.startswith(label))
    return await _exchange(api, channel, api.callback_update(USER, data))


async def _register(
    api: FakeBotApi, channel: TelegramChannel, holder: Holder, seed_key: bytes
) -> tuple[list[JsonDict], JsonDict]:
    await _exchange(api, channel, api.document_update(USER, "signCert.der", holder.cert_der))
    await _exchange(api, channel, api.document_update(USER, "signPri.key", seed_key))
    typed = api.text_update(USER, PASSWORD)
    return await _exchange(api, channel, typed), typed


# --- whole conversations ------------------------------------------------------------------


async def test_registration_by_documents_deletes_the_password(
    api: FakeBotApi, running: TelegramChannel, holder: Holder, seed_key: bytes
) -> None:
    """In both modes: the two files are downloaded through getFile, the typed password is deleted
    from the chat, and the certificate is registered; the command menu is set in both
    languages at start."""
    sent, typed = await _register(api, running, holder, seed_key)
    assert "인증서를 등록했어요" in _texts(sent)
    assert (USER, typed["message"]["message_id"]) in api.deleted
    assert len(api.calls_of("getFile")) == 2
    assert {c["command"] for c in api.commands[None]} >= {"add", "certs", "renew", "export"}
    assert api.commands["en"][0]["description"] == "Register a certificate"
    assert api.commands[None][0]["description"] == "인증서 등록"
    if running.settings.mode == "webhook":
        assert api.webhook is not None
        assert api.webhook["secret_token"] == running.settings.webhook_secret
    else:
        assert api.webhook is None  # polling clears any webhook


async def test_buttons_navigate_and_every_press_is_answered(
    api: FakeBotApi, running: TelegramChannel, holder: Holder, seed_key: bytes
) -> None:
    """/certs shows an inline keyboard; pressing its buttons moves through the flow, and
    each callback query is answered (or the app would spin)."""
    await _register(api, running, holder, seed_key)
    sent = await _exchange(api, running, api.text_update(USER, "/certs"))
    assert "홍길동" in _texts(sent)
    keyboard = _buttons(sent)
    assert keyboard
    assert all(0 < len(data.encode()) <= 64 for data in keyboard.values())
    sent = await _press(api, running, sent, "홍길동")
    assert "홍길동" in _texts(sent)
    assert len(api.answered_callbacks) == 1


async def test_export_returns_the_npki_zip_as_a_document(
    api: FakeBotApi, running: TelegramChannel, holder: Holder, seed_key: bytes
) -> None:
    """/export -> 'NPKI (zip)' sends a document holding the original files."""
    await _register(api, running, holder, seed_key)
    sent = await _exchange(api, running, api.text_update(USER, "/export"))
    await _press(api, running, sent, "NPKI (zip)")
    [(name, data)] = api.sent_documents(USER)
    assert name == "홍길동-2026-07-01-NPKI.zip"
    with zipfile.ZipFile(BytesIO(data)) as archive:
        stored = {Path(n).name: archive.read(n) for n in archive.namelist()}
    assert stored == {"signCert.der": holder.cert_der, "signPri.key": seed_key}


async def test_renewal_guide_by_platform(
    api: FakeBotApi, running: TelegramChannel, holder: Holder, seed_key: bytes
) -> None:
    """/renew offers the phone platforms, and a press gives that platform's steps."""
    await _register(api, running, holder, seed_key)
    sent = await _exchange(api, running, api.text_update(USER, "/renew"))
    assert _buttons(sent)
    sent = await _press(api, running, sent, next(iter(_buttons(sent))))
    assert len(_texts(sent)) > 40


async def test_a_large_document_is_refused_before_download(
    api: FakeBotApi, polling: TelegramChannel
) -> None:
    """A file declared over the upload limit is never fetched."""
    big = api.document_update(USER, "signCert.der", b"x", declared_size=5 * 1024 * 1024)
    sent = await _exchange(api, polling, big)
    assert sent
    assert api.calls_of("getFile") == []


@pytest.mark.usefixtures("polling")
async def test_in_a_group_a_certificate_file_is_removed_not_read(
    api: FakeBotApi, holder: Holder
) -> None:
    """A certificate posted in a group is deleted there and never downloaded."""
    group = -100123
    update = api.document_update(
        USER, "signCert.der", holder.cert_der, chat_id=group, chat_type="supergroup"
    )
    api.queue(update)
    await api.wait_for(lambda: bool(api.sent_messages(group)))
    assert (group, update["message"]["message_id"]) in api.deleted
    assert "단체 대화방" in _texts(api.sent_messages(group))
    assert api.calls_of("getFile") == []


async def test_a_refused_deletion_asks_the_user_to_delete_it(
    api: FakeBotApi, polling: TelegramChannel, holder: Holder, seed_key: bytes
) -> None:
    """When Telegram will not delete the password message, the user is told to."""
    api.refuse_delete(USER)
    sent, _typed = await _register(api, polling, holder, seed_key)
    assert "직접 지워 주세요" in _texts(sent)
    assert "인증서를 등록했어요" in _texts(sent)


async def test_long_texts_are_split_at_line_ends() -> None:
    text = "\n".join(f"{n:04d} " + "가" * 90 for n in range(200))
    pieces = split_text(text)
    assert len(pieces) > 1
    assert all(len(p) <= 4096 for p in pieces)
    assert "\n".join(pieces) == text
    assert split_text("😀" * 3000) == ["😀" * 2048, "😀" * 952]  # UTF-16 units, as Telegram


async def test_replies_in_one_chat_are_paced_to_telegrams_limit(world: World) -> None:
    """With Telegram's per-chat limit enforced by the fake, six replies in one chat go out
    in a burst of three and then one a second: no 429, none lost."""
    async with FakeBotApi(per_chat_per_second=1) as api:
        settings = _settings(api, chat_rate=1)
        application = build_application(settings)
        async with application:
            for n in range(6):
                await TelegramNotifier(application.bot).send(
                    await _user(world), Reply(f"알림 {n}"), [], START
                )
        sent = api.calls_of("sendMessage")
        assert [c.status for c in sent] == [200] * 6
        assert sent[5].at - sent[0].at >= 2.5
        assert api.responses_429 == 0


async def _user(world: World) -> User:
    async with world.database.write() as session:
        return await users.get_or_create(session, Channel.TELEGRAM, str(USER), START)


# --- faults -------------------------------------------------------------------------------


async def test_a_429_storm_is_waited_out_and_nothing_is_lost(
    api: FakeBotApi, polling: TelegramChannel
) -> None:
    """Telegram answering 429 twice: the reply is sent once it allows, exactly once."""
    api.fail_next("sendMessage", status=429, retry_after=1, times=2)
    sent = await _exchange(api, polling, api.text_update(USER, "/help"))
    assert len(sent) == 1
    assert "/add" in _texts(sent)
    assert api.responses_429 == 2


async def test_a_button_of_another_user_does_nothing(
    api: FakeBotApi, polling: TelegramChannel, holder: Holder, seed_key: bytes
) -> None:
    """Callback data is an opaque token bound to the user it was issued to: another user
    pressing it (a forged callback) gets "not found" and the owner's certificate stays."""
    await _register(api, polling, holder, seed_key)
    sent = await _exchange(api, polling, api.text_update(USER, "/certs"))
    stolen = next(iter(_buttons(sent).values()))
    intruder = USER + 1
    api.queue(api.callback_update(intruder, stolen))
    await api.wait_for(lambda: bool(api.sent_messages(intruder)))
    assert "이 버튼은 더 이상 쓸 수 없어요" in _texts(api.sent_messages(intruder))
    assert "홍길동" not in _texts(api.sent_messages(intruder))
    sent = await _exchange(api, polling, api.text_update(USER, "/certs"))
    assert "홍길동" in _texts(sent)


async def test_a_user_who_blocked_the_bot_is_marked_unreachable(
    api: FakeBotApi, polling: TelegramChannel, world: World
) -> None:
    api.block_chat(USER)
    await _exchange(api, polling, api.text_update(USER, "/start"))
    async with world.database.read() as session:
        user = await users.find(session, Channel.TELEGRAM, str(USER))
    assert user is not None
    assert not user.reachable


async def test_the_notifier_sends_reminders_and_reports_blocked_users(
    api: FakeBotApi, world: World
) -> None:
    application = build_application(_settings(api))
    async with application:
        notifier = TelegramNotifier(application.bot)
        user = await _user(world)
        reply = Reply("인증서가 D-30이에요", (Choice("갱신 방법", "tok"),))
        message_id = await notifier.send(user, reply, [], START)
        [sent] = api.sent_messages(USER)
        assert message_id.isdigit()
        assert sent["text"] == "인증서가 D-30이에요"
        assert _buttons([sent]) == {"갱신 방법": "tok"}
        api.block_chat(USER)
        with pytest.raises(UserUnreachable):
            await notifier.send(user, reply, [], START)


async def test_logs_hold_no_password_text_or_token(
    api: FakeBotApi,
    world: World,
    holder: Holder,
    seed_key: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Even at DEBUG, nothing logged carries a message text, a password or the bot token."""
    caplog.set_level(logging.DEBUG)
    channel = _channel(world, api)
    await channel.start()
    try:
        await _register(api, channel, holder, seed_key)
        await _exchange(api, channel, api.text_update(USER, "비밀 메모 12345"))
    finally:
        await channel.stop(grace=5)
    logged = caplog.text
    for secret in (PASSWORD, TOKEN, "비밀 메모", "signCert"):
        assert secret not in logged


# --- webhook ------------------------------------------------------------------------------


async def _post(url: str, body: JsonDict, secret: str) -> int:
    headers = {SECRET_HEADER: secret}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers=headers) as response,
    ):
        return response.status


async def test_webhook_checks_the_secret_and_drops_duplicates(
    api: FakeBotApi, world: World
) -> None:
    """setWebhook carries the secret; a forged secret gets 403 and is not recorded; an
    update delivered twice is acknowledged twice and answered once."""
    channel = _channel(world, api, mode="webhook")
    app = build_app()
    channel.add_routes(app)
    server = Server(app, "127.0.0.1", 0)
    await server.start()
    await channel.start()
    try:
        secret = channel.settings.webhook_secret
        assert api.webhook is not None
        assert api.webhook["secret_token"] == secret
        assert api.webhook["url"] == HOOK_URL
        url = f"http://127.0.0.1:{server.port}{WEBHOOK_PATH}"
        update = api.text_update(USER, "/help")
        assert await _post(url, update, "forged") == 403
        assert await _post(url, update, "") == 403
        assert await _post(url, update, secret) == 200
        assert await _post(url, update, secret) == 200
        await api.wait_for(lambda: bool(api.sent_messages(USER)) and channel.inbox.busy == 0)
        assert await _post(url, {"update_id": "x"}, secret) == 400
        headers = {SECRET_HEADER: secret}
        async with aiohttp.ClientSession() as http:
            async with http.post(url, data=b"{not json", headers=headers) as response:
                assert response.status == 400
            too_big = BytesIO(b'{"update_id": 1, "pad": "' + b"x" * (3 * 1024 * 1024) + b'"}')
            async with http.post(url, data=too_big, headers=headers) as response:
                assert response.status == 413
    finally:
        await channel.stop(grace=5)
        await server.stop()
    assert len(api.sent_messages(USER)) == 1
    async with world.database.read() as session:
        rows = (await session.scalars(select(ProcessedUpdate))).all()
    assert [(r.update_id, r.sealed) for r in rows] == [(str(update["update_id"]), None)]


async def test_a_secret_that_is_not_utf8_is_403_and_logs_no_traceback(
    api: FakeBotApi, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Raw bytes that are not UTF-8 in the secret header are a wrong secret: 403, before
    the body is looked at, with no error in the log."""
    caplog.set_level(logging.DEBUG)
    channel = _channel(world, api, mode="webhook")
    app = build_app()
    channel.add_routes(app)
    server = Server(app, "127.0.0.1", 0)
    await server.start()
    body = json.dumps(api.text_update(USER, "/help")).encode()
    try:
        for value in (b"\xff\xfe\xfd", b"\xc3\x28", b"\xed\xa0\x80", b"caf\xe9"):
            header = SECRET_HEADER.encode() + b": " + value
            assert await raw_post(server.port, WEBHOOK_PATH, [header], body) == 403
    finally:
        await server.stop()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    async with world.database.read() as session:
        assert not (await session.scalars(select(ProcessedUpdate))).all()


async def test_deeply_nested_json_on_the_webhook_is_400(
    api: FakeBotApi, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """JSON nested past Python's recursion limit, or past what an update ever needs
    (even when json could read it), is a 400 and is not recorded."""
    caplog.set_level(logging.DEBUG)
    channel = _channel(world, api, mode="webhook")
    app = build_app()
    channel.add_routes(app)
    server = Server(app, "127.0.0.1", 0)
    await server.start()
    await channel.start()
    url = f"http://127.0.0.1:{server.port}{WEBHOOK_PATH}"
    headers = {SECRET_HEADER: channel.settings.webhook_secret}
    bodies = [
        b"[" * 100_000,
        b'{"update_id": 1, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"update_id": 2, "x": ' + b"[" * 500 + b"]" * 500 + b"}",
    ]
    try:
        async with aiohttp.ClientSession() as http:
            for body in bodies:
                async with http.post(url, data=body, headers=headers) as response:
                    assert response.status == 400
            ok = json.dumps(api.text_update(USER, "/help")).encode()
            async with http.post(url, data=ok, headers=headers) as response:
                assert response.status == 200
        await api.wait_for(lambda: bool(api.sent_messages(USER)) and channel.inbox.busy == 0)
    finally:
        await server.stop()
        await channel.stop(grace=5)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_an_update_recorded_before_a_crash_is_handled_at_the_next_start(
    api: FakeBotApi, world: World, holder: Holder
) -> None:
    """The webhook answered 200 (so Telegram will not resend), then the process died
    before handling it (here while fetching the file it carries: the Bot API hangs):
    once its lane's lease has run out, the next start handles it from the inbox, once."""
    crashed = _channel(world, api, mode="webhook")
    await crashed.application.initialize()
    api.delay("getFile", 60)  # handling cannot get past the download
    update = api.document_update(USER, "signCert.der", holder.cert_der)
    assert await crashed.inbox.receive(str(update["update_id"]), update)
    await api.wait_for(lambda: bool(api.calls_of("getFile")))
    assert not await crashed.inbox.drain(0.1)  # the "crash": handling never finished
    await crashed.application.shutdown()
    assert api.sent_messages(USER) == []
    assert api.downloads == []
    async with world.database.read() as session:
        [row] = (await session.scalars(select(ProcessedUpdate))).all()
    assert row.handled_at is None
    assert row.sealed is not None
    assert b"signCert.der" not in row.sealed  # the body waits sealed, like every secret
    async with world.database.write() as session:  # the dead holder's lane lease runs out
        await session.execute(sa.update(Lease).values(expires_at=datetime(2000, 1, 1, tzinfo=UTC)))

    api.delay("getFile", 0)
    world.restart()
    restarted = _channel(world, api, mode="webhook")
    await restarted.start()
    try:
        await api.wait_for(lambda: bool(api.sent_messages(USER)) and restarted.inbox.busy == 0)
    finally:
        await restarted.stop(grace=5)
    assert len(api.downloads) == 1
    shown = [m for m in api.sent_messages(USER) if "만료일 2026-07-01" in m["text"]]
    assert len(shown) == 1, _texts(api.sent_messages(USER))  # the file read, once


async def test_a_due_reminder_reaches_the_telegram_chat(
    api: FakeBotApi, polling: TelegramChannel, world: World, holder: Holder, seed_key: bytes
) -> None:
    """The sweep `certmate run` schedules delivers a Telegram user's reminder to their chat,
    with its buttons, once: a second sweep at the same time sends nothing."""
    await _register(api, polling, holder, seed_key)
    before = len(api.sent_messages(USER))
    services = world.assistant.services
    sweeper = Sweeper(
        services, notifiers(services, {Channel.TELEGRAM: TelegramNotifier(polling.bot)}), "t"
    )
    delivered = await sweeper.run(START)
    assert [d.channel for d in delivered] == ["telegram"]
    [reminder] = api.sent_messages(USER)[before:]
    assert "D-30" in reminder["text"]
    assert _buttons([reminder])
    assert await sweeper.run(START) == []


async def test_the_password_request_offers_the_secure_page_as_a_web_app(
    api: FakeBotApi, world: World, holder: Holder, seed_key: bytes
) -> None:
    """Beside the password request comes the secure page: with an https public URL as a
    Telegram Web App button, else as a plain link in the text (Telegram takes only https
    on buttons)."""
    for public_url, web_app in (("https://certmate.example", True), ("http://127.0.0.1:9", False)):
        world.settings = replace(world.settings, public_url=public_url)
        world.restart()
        channel = _channel(world, api)
        await channel.start()
        try:
            await _exchange(
                api, channel, api.document_update(USER, "signCert.der", holder.cert_der)
            )
            sent = await _exchange(api, channel, api.document_update(USER, "signPri.key", seed_key))
            await _exchange(api, channel, api.text_update(USER, "/cancel"))
        finally:
            await channel.stop(grace=5)
        page = [m for m in sent if "보안 페이지에서" in str(m.get("text", ""))]
        assert len(page) == 1, _texts(sent)
        buttons = [
            button
            for row in (page[0].get("reply_markup") or {}).get("inline_keyboard", [])
            for button in row
        ]
        if web_app:
            (button,) = buttons
            assert button["web_app"]["url"].startswith("https://certmate.example/u/")
        else:
            assert buttons == []
            assert "http://127.0.0.1:9/u/" in page[0]["text"]


async def test_an_export_offers_the_secure_page_for_its_passwords(
    api: FakeBotApi, world: World, holder: Holder, seed_key: bytes
) -> None:
    """Issue 14 item 11: as registration does, the export's password request on Telegram
    comes with the secure export page, where the passwords are typed and the file is
    downloaded, instead of only asking in the chat."""
    world.settings = replace(world.settings, public_url="https://certmate.example")
    world.restart()
    channel = _channel(world, api)
    await channel.start()
    try:
        await _register(api, channel, holder, seed_key)
        sent = await _exchange(api, channel, api.text_update(USER, "/export"))
        sent = await _press(api, channel, sent, "PFX 파일")
        await _exchange(api, channel, api.text_update(USER, "/cancel"))
    finally:
        await channel.stop(grace=5)
    page = [m for m in sent if "보안 페이지에서 입력하고 파일도" in str(m.get("text", ""))]
    assert len(page) == 1, _texts(sent)
    (button,) = [b for row in page[0]["reply_markup"]["inline_keyboard"] for b in row]
    assert button["web_app"]["url"].startswith("https://certmate.example/u/")


async def test_a_typed_button_label_at_the_password_prompt_presses_it(
    api: FakeBotApi, polling: TelegramChannel, world: World, holder: Holder, seed_key: bytes
) -> None:
    """Issue 14 item 2: at the password prompt, typing what a button of it says
    ("알림용으로만 등록") presses that button: the certificate is kept for reminders, and
    the label is neither taken as a password (no wrong try counted) nor deleted as one."""
    await _exchange(api, polling, api.document_update(USER, "signCert.der", holder.cert_der))
    asked = await _exchange(api, polling, api.document_update(USER, "signPri.key", seed_key))
    assert "알림용으로만 등록" in _buttons(asked), _texts(asked)
    typed = api.text_update(USER, "알림용으로만 등록")
    sent = await _exchange(api, polling, typed)
    assert "알림용으로 등록했어요" in _texts(sent), _texts(sent)
    assert "맞지 않" not in _texts(sent)
    assert (USER, typed["message"]["message_id"]) not in api.deleted
    async with world.database.read() as session:
        assert (await session.scalars(select(KeyAttempt))).all() == []
        (certificate,) = (await session.scalars(select(Certificate))).all()
    assert not certificate.has_private_key
