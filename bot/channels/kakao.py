"""The KakaoTalk channel: a skill server for a Kakao i Open Builder chatbot.

Kakao posts every user message (the fallback block, set to use this skill)
to `POST [kakao] path` and shows the SkillResponse we answer with. Kakao
does not sign these requests, so each must carry the secret header set in
the skill's settings (401 without it, 403 when it is wrong; compared in
constant time), and, when `bot_ids` is set, one of those bots (403).
Malformed JSON or a payload without a user is a 400.

    skill payload -> Inbound:
      userRequest.user.id (botUserKey; older payloads: talk_user_id) -> user key
      action.clientExtra.certmate (a button's token)               -> button
      an utterance "/name args", or a menu word (시작, 메뉴, …)      -> command
      an image (action.params with an image)                        -> unsupported
      anything else                                                 -> text

KakaoTalk can neither take files from the user, nor delete a message, nor
send a file: the conversation core knows (`Context.page_only`) and sends
certificate files and passwords through the secure page instead.

Answers normally come in the response. Nothing on this path opens a
certificate (that happens on the secure page), but if the database stalls
past `callback_after` and the block has callback enabled, Kakao is told to
wait (`useCallback`) and the answer is posted to the callback URL when done:
only an https URL on port 443 of a kakao.com host, and a redirect is not followed
(a leaked secret must not turn certmate into a forwarder of users' answers).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from bot.channels.kakao_events import event_notifier
from bot.channels.kakao_render import EXTRA_KEY, Json, simple_text, skill_response
from bot.channels.pacer import Pacer
from bot.config import KakaoSettings
from bot.reminders.notifiers import Notifier
from bot.web import parse_json, same_secret
from handlers.assistant import Assistant
from handlers.messages import ChannelTraits, Inbound, Unsupported
from storage.models import Channel


def traits(*, event_api: bool) -> ChannelTraits:
    """KakaoTalk takes no files and sends none, cannot delete a message (files and
    passwords go through the secure page); it messages first only through the Event
    API, when configured."""
    return ChannelTraits(
        takes_files=False, deletes_messages=False, messages_first=event_api,
        rate_limited=True, offers_page=True, sends_files=False,
    )  # fmt: skip


MAX_USER_KEY: Final = 128
MAX_UTTERANCE: Final = 4_000
CALLBACK_AFTER: Final = 3.0
"""Seconds before a slow answer goes through the callback (Kakao waits 5)."""
CALLBACK_TIMEOUT: Final = aiohttp.ClientTimeout(total=10)
IMAGE_PARAMS: Final = ("secureimage", "image", "sys_plugin_secureimage")

log = logging.getLogger("certmate.kakao")


class BadPayload(ValueError):
    """The skill payload is not one we can read (answered with 400)."""


def kakao_callback_allowed(url: str) -> bool:
    """Callback URLs go to Kakao only: https on port 443 of a kakao.com host, with no
    user name or password in them."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # not a port number
        return False
    host = parts.hostname or ""
    return (
        parts.scheme == "https"
        and port in (None, 443)
        and parts.username is None
        and (host == "kakao.com" or host.endswith(".kakao.com"))
    )


class KakaoChannel:
    """Translates between Kakao skill requests and the conversation core."""

    def __init__(
        self,
        assistant: Assistant,
        settings: KakaoSettings,
        client: aiohttp.ClientSession,
        *,
        callback_after: float = CALLBACK_AFTER,
        callback_allowed: Callable[[str], bool] = kakao_callback_allowed,
    ) -> None:
        """`client` posts callback answers; it is the caller's, closed by the caller."""
        self.assistant = assistant
        self.settings = settings
        self.client = client
        self.callback_after = callback_after
        self.callback_allowed = callback_allowed
        self._bot_ids = frozenset(settings.bot_ids)
        self._callbacks: set[asyncio.Task[None]] = set()
        self._roles_changed = asyncio.Event()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(self.settings.path, self.skill)

    @property
    def channel(self) -> Channel:
        return Channel.KAKAO

    @property
    def summary(self) -> str:
        return f"KakaoTalk skill on {self.settings.path}"

    async def start(self) -> None:
        """Nothing to connect: Kakao calls the skill route."""

    async def stop_taking(self) -> None:
        """Nothing to stop: skill requests stop with the HTTP server."""

    def notifier(self, pacer: Pacer) -> Notifier | None:
        """Reminders through the Event API when it is configured, paced by `pacer`."""
        if not self.settings.event_api_key:
            return None
        return event_notifier(self.settings, self.client, pacer)

    @property
    def roles(self) -> str:
        return ""

    @property
    def roles_changed(self) -> asyncio.Event:
        return self._roles_changed  # never set: it holds no role

    async def stop(self, grace: float) -> None:
        """Let answers still owed through callbacks go out."""
        if self._callbacks:
            await asyncio.wait(self._callbacks, timeout=grace)

    async def skill(self, request: web.Request) -> web.Response:
        given = request.headers.get(self.settings.secret_header)
        if given is None:
            return web.Response(status=401)
        if not same_secret(given, self.settings.secret):
            return web.Response(status=403)
        try:
            payload = parse_json(await request.read())
            bot_id = _bot_id(payload)
            inbound = to_inbound(payload)
        except ValueError:  # BadJson, BadPayload
            return web.Response(status=400)
        if self._bot_ids and bot_id not in self._bot_ids:
            return web.Response(status=403)
        answer = asyncio.ensure_future(self.assistant.handle(inbound))
        callback_url = _callback_url(payload)
        if callback_url and self.callback_allowed(callback_url):
            done, _ = await asyncio.wait({answer}, timeout=self.callback_after)
            if not done:
                self._call_back_later(answer, callback_url)
                return web.json_response(
                    {"version": "2.0", "useCallback": True, "data": {"text": "⏳"}}
                )
        return web.json_response(skill_response(await answer))

    def _call_back_later(self, answer: asyncio.Future[Any], url: str) -> None:
        task = asyncio.create_task(self._call_back(answer, url))
        self._callbacks.add(task)
        task.add_done_callback(self._callbacks.discard)

    async def _call_back(self, answer: asyncio.Future[Any], url: str) -> None:
        try:
            response: Json = skill_response(await answer)
        except Exception:  # the core failed: say so rather than leave the user waiting
            log.exception("a Kakao answer failed")
            response = simple_text("⚠️")
        try:
            async with self.client.post(
                url, json=response, timeout=CALLBACK_TIMEOUT, allow_redirects=False
            ) as reply:
                if 300 <= reply.status < 400:  # the answer goes to Kakao or nowhere
                    log.warning(
                        "a callback answer was redirected (HTTP %d); not followed", reply.status
                    )
                elif reply.status >= 400:
                    log.warning("Kakao refused a callback answer (HTTP %d)", reply.status)
        except (aiohttp.ClientError, TimeoutError) as err:
            log.warning("a callback answer could not be posted (%s)", type(err).__name__)


def to_inbound(payload: Any) -> Inbound:
    """The neutral message in a skill payload; raises `BadPayload`."""
    if not isinstance(payload, dict):
        raise BadPayload("not an object")
    request = _object(payload.get("userRequest"))
    user_key = _user_key(_object(request.get("user")))
    utterance = request.get("utterance", "")
    if not isinstance(utterance, str):
        raise BadPayload("utterance")
    utterance = utterance[:MAX_UTTERANCE]
    action = payload.get("action")
    action = action if isinstance(action, dict) else {}
    private = not _in_group(request)
    token = _button_token(action)
    if token is not None:
        return Inbound(Channel.KAKAO, user_key, button=token, private=private)
    params = action.get("params")
    if isinstance(params, dict) and any(name in params for name in IMAGE_PARAMS):
        return Inbound(Channel.KAKAO, user_key, unsupported=Unsupported.PHOTO, private=private)
    text = utterance.strip()
    if text.startswith("/") and len(text) > 1:
        name, _, args = text[1:].partition(" ")
        return Inbound(
            Channel.KAKAO, user_key, command=name.lower(), args=args.strip(), private=private
        )
    # Words typed alone ("시작", "등록") are understood by the engine, on every channel.
    # KakaoTalk cannot delete a message: the reference only lets the core say so.
    return Inbound(Channel.KAKAO, user_key, message_ref="kakao", text=utterance, private=private)


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadPayload("expected an object")
    return value


def _user_key(user: dict[str, Any]) -> str:
    """botUserKey: `user.id` in both shapes; older payloads also name it in properties."""
    properties = user.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    for candidate in (
        user.get("id"),
        properties.get("botUserKey"),
        properties.get("bot_user_key"),
        properties.get("talk_user_id"),
    ):
        if isinstance(candidate, str) and 0 < len(candidate) <= MAX_USER_KEY:
            return candidate
    raise BadPayload("no user id")


def _button_token(action: dict[str, Any]) -> str | None:
    extra = action.get("clientExtra")
    token = extra.get(EXTRA_KEY) if isinstance(extra, dict) else None
    return token if isinstance(token, str) and 0 < len(token) <= 64 else None


def _in_group(request: dict[str, Any]) -> bool:
    """A group chatbot's request names the chat room (`chat.type` botGroupKey)."""
    chat = request.get("chat")
    return isinstance(chat, dict) and chat.get("type") == "botGroupKey"


def _bot_id(payload: Any) -> str:
    bot = payload.get("bot") if isinstance(payload, dict) else None
    bot_id = bot.get("id") if isinstance(bot, dict) else None
    return bot_id if isinstance(bot_id, str) else ""


def _callback_url(payload: dict[str, Any]) -> str:
    request = payload.get("userRequest")
    url = request.get("callbackUrl") if isinstance(request, dict) else None
    return url if isinstance(url, str) and len(url) <= 2048 else ""
