"""Kakao's chatbot server, both ways round, so the skill is tested over real HTTP.

`KakaoCaller` plays the chatbot server calling certmate's skill: skill payloads
in both of Kakao's shapes (`skill_payload`), the secret header the skill is set
up with, and buttons pressed as KakaoTalk presses them (the button's
``messageText`` as the utterance, its ``extra`` as ``clientExtra``). The
readers (`texts`, `buttons`, `labels`, `page_links`) take a SkillResponse apart.

`FakeKakaoCallback` is the callback URL Kakao gives for a slow answer: it
records every answer posted to it, or answers with a redirect.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
from aiohttp import web

from tests.fakes.server import FakeServer

SECRET: Final = "s3cret-header-value-for-tests"  # noqa: S105  (a test value)
"""The header value the skill is set up with (`[kakao] secret`)."""
BOT_ID: Final = "6500aaaa1111bbbb2222cccc!"
SKILL_PATH: Final = "/kakao/skill"
"""Where Kakao calls the skill (`[kakao] path`'s default)."""
CALLBACK_PATH: Final = "/callback/{id}"

JsonDict = dict[str, Any]


def skill_payload(
    user: str,
    utterance: str = "",
    *,
    extra: JsonDict | None = None,
    shape: str = "current",
    bot_id: str = BOT_ID,
    callback_url: str | None = None,
    params: JsonDict | None = None,
) -> JsonDict:
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
    request: JsonDict = {
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


@dataclass(kw_only=True)
class KakaoCaller:
    """Kakao's chatbot server calling the skill at `base` + `path`."""

    base: str
    client: aiohttp.ClientSession
    path: str = SKILL_PATH
    secret: str = SECRET
    last: dict[str, JsonDict] = field(default_factory=dict)
    """The last SkillResponse each user got, to press its buttons."""

    async def post(
        self, payload: Any, headers: dict[str, str] | None = None, raw: bytes | None = None
    ) -> tuple[int, Any]:
        """Post `payload` (or the `raw` bytes) with the secret header (or `headers`);
        returns the status and the JSON answer (None unless 200)."""
        sent = {"X-Certmate-Secret": self.secret} if headers is None else headers
        async with self.client.post(
            self.base + self.path,
            json=None if raw is not None else payload,
            data=raw,
            headers=sent,
        ) as response:
            answer = await response.json() if response.status == 200 else None
            return response.status, answer

    async def say(self, user: str, utterance: str, **options: Any) -> JsonDict:
        """What `user` typed; `options` reach `skill_payload`."""
        status, answer = await self.post(skill_payload(user, utterance, **options))
        assert status == 200
        self.last[user] = answer
        return dict(answer)

    async def press(self, user: str, label: str, **options: Any) -> JsonDict:
        """Press the button labelled `label` of the user's last answer, as KakaoTalk does:
        its messageText as the utterance, its extra as clientExtra."""
        for button in buttons(self.last[user]):
            if button.get("label", button.get("title")) == label:
                return await self.say(user, button["messageText"], extra=button["extra"], **options)
        raise AssertionError(f"no button {label!r} in {labels(self.last[user])}")


def texts(answer: JsonDict) -> str:
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


def page_links(answer: JsonDict) -> list[str]:
    """The webLink buttons' URLs (the secure page)."""
    return [
        button["webLinkUrl"]
        for output in answer["template"]["outputs"]
        for button in output.get("textCard", {}).get("buttons", [])
        if button["action"] == "webLink"
    ]


class FakeKakaoCallback(FakeServer):
    """Kakao's callback URL (``POST /callback/{id}``): answers SUCCESS and keeps every
    posted body in `received` (in order, `arrived` set at the first), or redirects once
    `redirect_to` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[bytes] = []
        self.arrived = asyncio.Event()
        self.redirect: str | None = None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(CALLBACK_PATH, self._callback)

    def callback_url(self, task: str = "abc") -> str:
        """The URL to put in a skill payload's ``callbackUrl``."""
        return self.url + CALLBACK_PATH.format(id=task)

    def redirect_to(self, url: str) -> None:
        """From now on answer 307 to `url` (a callback host that redirects)."""
        self.redirect = url

    async def _callback(self, request: web.Request) -> web.Response:
        self.received.append(await request.read())
        self.arrived.set()
        if self.redirect is not None:
            raise web.HTTPTemporaryRedirect(self.redirect)
        return web.json_response({"taskId": "t", "status": "SUCCESS"})


__all__ = [
    "BOT_ID",
    "SECRET",
    "SKILL_PATH",
    "FakeKakaoCallback",
    "KakaoCaller",
    "buttons",
    "labels",
    "page_links",
    "skill_payload",
    "texts",
]
