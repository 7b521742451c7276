"""A running certmate site for Kakao and secure-page tests: the real assistant on a real
SQLite file, the Kakao skill and the secure page on a real aiohttp server on 127.0.0.1,
and a client that plays Kakao's chatbot server (skill payloads in both shapes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest

from bot.channels.kakao import KakaoChannel
from bot.config import HttpSettings, KakaoSettings
from bot.secure_page import add_routes
from bot.web import Server, build_app
from handlers.pages import SecurePages
from handlers.services import AssistantSettings
from tests.conftest import free_port
from tests.handlers.harness import START, Clock, World

SECRET: Final = "s3cret-header-value-for-tests"  # noqa: S105  (a test value)
BOT_ID: Final = "6500aaaa1111bbbb2222cccc!"
SKILL_PATH: Final = "/kakao/skill"


def skill_payload(
    user: str,
    utterance: str = "",
    *,
    extra: dict[str, Any] | None = None,
    shape: str = "current",
    bot_id: str = BOT_ID,
    callback_url: str | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A skill request as Kakao's chatbot server sends it; `shape` "old" uses the older
    property names (talk_user_id, plusfriend_user_key)."""
    if shape == "current":
        kakao_user = {
            "id": user,
            "type": "botUserKey",
            "properties": {"botUserKey": user, "plusfriendUserKey": f"pf-{user}"},
        }
    else:
        kakao_user = {
            "id": user,
            "type": "talk_user_id",
            "properties": {"talk_user_id": user, "plusfriend_user_key": f"pf-{user}"},
        }
    request: dict[str, Any] = {
        "timezone": "Asia/Seoul",
        "params": {"ignoreMe": "true"},
        "block": {"id": "fallback-block", "name": "폴백 블록"},
        "utterance": utterance,
        "lang": "ko",
        "user": kakao_user,
    }
    if callback_url is not None:
        request["callbackUrl"] = callback_url
    return {
        "intent": {"id": "fallback-block", "name": "폴백 블록"},
        "userRequest": request,
        "bot": {"id": bot_id, "name": "certmate"},
        "action": {
            "name": "certmate",
            "clientExtra": extra,
            "params": params or {},
            "id": "skill-id",
            "detailParams": {},
        },
        "contexts": [],
    }


@dataclass
class Site:
    world: World
    base: str
    channel: KakaoChannel
    client: aiohttp.ClientSession
    last: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The last SkillResponse each user got, to press its buttons."""

    async def post(
        self, payload: Any, headers: dict[str, str] | None = None, raw: bytes | None = None
    ) -> tuple[int, Any]:
        sent = {"X-Certmate-Secret": SECRET} if headers is None else headers
        async with self.client.post(
            self.base + SKILL_PATH,
            json=None if raw is not None else payload,
            data=raw,
            headers=sent,
        ) as response:
            answer = await response.json() if response.status == 200 else None
            return response.status, answer

    async def say(self, user: str, utterance: str, **options: Any) -> dict[str, Any]:
        status, answer = await self.post(skill_payload(user, utterance, **options))
        assert status == 200
        self.last[user] = answer
        return dict(answer)

    async def press(self, user: str, label: str, **options: Any) -> dict[str, Any]:
        """Press the button labelled `label` of the user's last answer, as KakaoTalk does:
        its messageText as the utterance, its extra as clientExtra."""
        for button in buttons(self.last[user]):
            if button.get("label", button.get("title")) == label:
                return await self.say(user, button["messageText"], extra=button["extra"], **options)
        raise AssertionError(f"no button {label!r} in {labels(self.last[user])}")


def texts(answer: dict[str, Any]) -> str:
    """Every text of a SkillResponse, joined."""
    found = []
    for output in answer["template"]["outputs"]:
        if "simpleText" in output:
            found.append(output["simpleText"]["text"])
        if "textCard" in output:
            card = output["textCard"]
            found.append(card.get("title", "") + card.get("description", ""))
    return "\n".join(found)


def buttons(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """quickReplies and listCard items (what the user can press)."""
    found = list(answer["template"].get("quickReplies", []))
    for output in answer["template"]["outputs"]:
        cards = []
        if "listCard" in output:
            cards.append(output["listCard"])
        if output.get("carousel", {}).get("type") == "listCard":
            cards.extend(output["carousel"]["items"])
        for card in cards:
            found.extend(card["items"])
    return found


def labels(answer: dict[str, Any]) -> list[str]:
    return [b.get("label", b.get("title", "")) for b in buttons(answer)]


def page_links(answer: dict[str, Any]) -> list[str]:
    """The webLink buttons' URLs (the secure page)."""
    return [
        button["webLinkUrl"]
        for output in answer["template"]["outputs"]
        for button in output.get("textCard", {}).get("buttons", [])
        if button["action"] == "webLink"
    ]


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async with running_site(tmp_path) as started:
        yield started


@asynccontextmanager
async def running_site(
    folder: Path, http: HttpSettings | None = None, **channel_options: Any
) -> AsyncIterator[Site]:
    """Start a site with `http`'s limits (the defaults without); `channel_options` reach
    `KakaoChannel`."""
    http = http or HttpSettings()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    world = World(folder, Clock(START), replace(AssistantSettings(), public_url=base))
    await world.start()
    settings = KakaoSettings(enabled=True, secret=SECRET, bot_ids=(BOT_ID,))
    async with aiohttp.ClientSession() as client:
        channel = KakaoChannel(world.assistant, settings, client, **channel_options)
        app = build_app(http)
        add_routes(app, SecurePages(world.assistant))
        channel.add_routes(app)
        server = Server(app, "127.0.0.1", port, header_timeout=http.header_timeout)
        await server.start()
        try:
            yield Site(world, base, channel, client)
        finally:
            await server.stop()
            await channel.stop(1)
            await world.close()
