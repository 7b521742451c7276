"""One contract for every channel's rendering of what the core answers (`Outbound`).

Each channel turns one answer holding every kind of `Outbound` into what its user
sees; the contract: every text and button shown, the link offered, a deletion made or
the user asked to make it, a file delivered where the channel can send files (and
nothing claimed where it cannot: KakaoTalk gets files through the secure page). The
samples cover every member of `Outbound`, so a new kind fails here until each channel
renders it (and `mypy` fails on each channel's `assert_never` before that).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, get_args

import pytest

from bot.channels.console import ConsoleUser, render, transcript_entries
from bot.channels.kakao_render import skill_response
from bot.channels.telegram import TelegramChannel, build_application
from bot.config import TelegramSettings
from handlers.messages import Choice, Delete, OpenLink, Outbound, Reply, SendDocument
from tests.fakes.telegram import TOKEN, FakeBotApi
from tests.handlers.harness import World

CHAT = 4242
REPLY = Reply("인증서를 골라 주세요.", choices=(Choice("홍길동 (yessign)", "tok-1"),))
DELETE = Delete(f"{CHAT}:999999", if_refused="보내신 비밀번호 메시지를 직접 지워 주세요.")
DOCUMENT = SendDocument("certificate.zip", b"PK\x05\x06" + bytes(18))
LINK = OpenLink("https://certmate.example/p/abc", "안전한 페이지 열기", "여기서 올려 주세요.")
SAMPLES: tuple[Outbound, ...] = (REPLY, DELETE, DOCUMENT, LINK)

Seen = set[str]
"""What the user of a channel got: `text:…`, `button:…`, `link:…`, `deleted`,
`asked to delete`, `file:…`."""


def test_the_samples_hold_every_kind_of_outbound() -> None:
    assert {type(item) for item in SAMPLES} == set(get_args(Outbound))


async def _console(tmp_path: Path) -> Seen:
    async def unused(_: Any) -> list[Outbound]:
        raise AssertionError("rendering only")

    user = ConsoleUser(unused, "console-user", tmp_path / "out", 1024)
    shown = render(user, list(SAMPLES))
    seen = {f"text:{line}" for line in shown.splitlines()}
    seen |= {f"button:{c.label}" for c in REPLY.choices if f". {c.label}" in shown}
    seen |= {f"link:{LINK.url}"} if LINK.url in shown else set()
    seen |= {"deleted"} if "password message deleted" in shown else set()
    seen |= {f"file:{p.name}" for p in (tmp_path / "out").iterdir() if p.name in shown}
    return seen


async def _console_transcript(tmp_path: Path) -> Seen:
    async def unused(_: Any) -> list[Outbound]:
        raise AssertionError("rendering only")

    user = ConsoleUser(unused, "console-user", tmp_path / "out", 1024)
    seen: Seen = set()
    for entry in transcript_entries(user, list(SAMPLES)):
        match entry["type"]:
            case "text":
                seen |= {f"text:{entry['text']}"} | {f"button:{b}" for b in entry["buttons"]}
            case "delete":
                seen.add("deleted")
            case "document":
                seen.add(f"file:{Path(entry['path']).name}")
            case "link":
                seen.add(f"link:{entry['url']}")
    return seen


async def _kakao(_: Path) -> Seen:
    response = skill_response(SAMPLES)["template"]
    seen: Seen = set()
    for output in response["outputs"]:
        if "simpleText" in output:
            seen |= {f"text:{part}" for part in output["simpleText"]["text"].split("\n\n")}
        for button in output.get("textCard", {}).get("buttons", []):
            seen.add(f"link:{button['webLinkUrl']}")
    seen |= {f"button:{quick['label']}" for quick in response.get("quickReplies", [])}
    if f"text:{DELETE.if_refused}" in seen:
        seen.add("asked to delete")
    return seen


@pytest.fixture
async def telegram(world: World) -> AsyncIterator[tuple[TelegramChannel, FakeBotApi]]:
    async with FakeBotApi() as api:
        settings = TelegramSettings(
            token=TOKEN, base_url=api.base_url, base_file_url=api.base_file_url,
            chat_messages_per_second=50,
        )  # fmt: skip
        channel = TelegramChannel(
            build_application(settings), world.assistant, settings,
            upload_limit=64 * 1024, webhook_url="", process_name="run:test",
        )  # fmt: skip
        await channel.start()
        try:
            yield channel, api
        finally:
            await channel.stop(grace=5)


async def _telegram_seen(channel: TelegramChannel, api: FakeBotApi) -> Seen:
    await channel.render(CHAT, SAMPLES)
    seen: Seen = set()
    for message in api.sent_messages(CHAT):
        seen.add(f"text:{message['text']}")
        for row in message.get("reply_markup", {}).get("inline_keyboard", []):
            for button in row:
                if "web_app" in button:
                    seen.add(f"link:{button['web_app']['url']}")
                else:
                    seen.add(f"button:{button['text']}")
    if any(call.status == 200 for call in api.calls_of("deleteMessage")):
        seen.add("deleted")
    if f"text:{DELETE.if_refused}" in seen:
        seen.add("asked to delete")
    seen |= {f"file:{name}" for name, _data in api.sent_documents(CHAT)}
    return seen


def _expect(*, sends_files: bool, deletes: bool) -> Seen:
    expected = {f"text:{REPLY.text}", f"button:{REPLY.choices[0].label}", f"link:{LINK.url}"}
    expected.add("deleted" if deletes else "asked to delete")
    if sends_files:
        expected.add(f"file:{DOCUMENT.filename}")
    return expected


Renderer = Callable[[Path], Awaitable[Seen]]


@pytest.mark.parametrize(
    ("renderer", "sends_files", "deletes"),
    [(_console, True, True), (_console_transcript, True, True), (_kakao, False, False)],
    ids=["console", "console transcript", "kakao"],
)
async def test_every_channel_renders_every_kind(
    tmp_path: Path, renderer: Renderer, *, sends_files: bool, deletes: bool
) -> None:
    seen = await renderer(tmp_path)
    assert _expect(sends_files=sends_files, deletes=deletes) <= seen, seen
    if not sends_files:
        assert not [fact for fact in seen if fact.startswith("file:")], seen


@pytest.mark.parametrize("refused", [False, True], ids=["deleted", "delete refused"])
async def test_telegram_renders_every_kind(
    telegram: tuple[TelegramChannel, FakeBotApi], *, refused: bool
) -> None:
    """Telegram through the fake Bot API; when Telegram refuses the deletion (a message
    over 48 h old) the user is asked to delete it."""
    channel, api = telegram
    if refused:
        api.fail_next(
            "deleteMessage", status=400, description="Bad Request: message can't be deleted"
        )
    seen = await _telegram_seen(channel, api)
    assert _expect(sends_files=True, deletes=not refused) <= seen, seen


def test_kakao_says_a_dropped_file_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        skill_response([DOCUMENT])
    assert "document cannot be sent in KakaoTalk" in caplog.text
