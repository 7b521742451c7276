"""A fake Telegram Bot API server, so the real python-telegram-bot client can be tested end to end.

PTB encodes every request itself (form-encoded, or multipart when a file goes up; string values
as they are, everything else JSON-encoded) and turns the HTTP status and the
``{"ok": false, ...}`` body into its own exceptions (``RetryAfter``, ``Forbidden``, ``Conflict``,
...). Mocking ``telegram.Bot`` would skip all of that, so tests point an unchanged ``Bot`` at this
server instead::

    async with FakeBotApi() as api, telegram.Bot(
        TOKEN, base_url=api.base_url, base_file_url=api.base_file_url
    ) as bot:
        api.queue(api.text_update(42, "/start"))
        ...

PTB appends the token to ``base_url`` (``f"{base_url}{token}"``, unless the URL has a
``{token}`` placeholder) and calls ``f"{that}/{method}"``; ``getFile`` rewrites the relative
``file_path`` to ``f"{base_file_url}{token}/{file_path}"``, which ``File.download_*`` fetches
with a GET. Hence the two prefixes ``/bot`` and ``/file/bot`` here.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import itertools
import json
import mimetypes
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.server import FakeServer

TOKEN = "123456:TEST-token"  # noqa: S105 - a fake token the fake server accepts

JsonDict = dict[str, Any]
Files = dict[str, tuple[str, bytes]]
_Handler = Callable[["Call"], Awaitable[Any]]

# Only these methods are throttled: the ones Telegram's flood control counts as messages.
_RATE_LIMITED = frozenset({"sendMessage", "sendDocument", "editMessageText"})
# Methods that act on a chat, and so answer 403 once the user has blocked the bot.
_CHAT_SCOPED = frozenset(
    {
        "sendMessage",
        "sendDocument",
        "sendChatAction",
        "editMessageText",
        "editMessageReplyMarkup",
        "deleteMessage",
        "deleteMessages",
    }
)
_OVERALL_WINDOW = 0.95  # 1 s minus 50 ms tolerance for the client's own clock
_CHAT_BURST_WINDOW = 0.95
_CHAT_BURST = 3
_CHAT_LONG_WINDOW = 3.0
_MAX_TEXT = 4096  # counted in UTF-16 code units like entities: the stricter reading
_MAX_CAPTION = 1024
_MAX_GET_FILE = 20 * 1024 * 1024  # the cloud Bot API refuses getFile above 20 MB
_MAX_CALLBACK_DATA = 64
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_BOT_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?")
_SAFE_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,8}")

# Form values are strings on the wire, and PTB JSON-encodes every non-string value, so the fake
# parses values that look like JSON. These parameters are free text or opaque ids, so they stay
# strings even when they look like JSON (a message "123" must not become the number 123).
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "file_id",
        "url",
        "secret_token",
        "ip_address",
        "language_code",
        "business_connection_id",
        "message_effect_id",
        "action",
        "document",
        "thumbnail",
        "description",
        "short_description",
        "name",
        "title",
        "emoji",
    }
)

_FLOOD = "Too Many Requests: retry after {}"
_BLOCKED = "Forbidden: bot was blocked by the user"
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: fake failure",
    401: "Unauthorized",
    403: _BLOCKED,
    404: "Not Found",
    409: "Conflict: fake failure",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are"
    " exactly the same as a current content and reply markup of the message"
)
_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active;"
    " use deleteWebhook to delete the webhook first"
)
_POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request;"
    " make sure that only one bot instance is running"
)

_dumps = functools.partial(json.dumps, ensure_ascii=False)


@dataclass
class Call:
    """One request the fake received, kept so tests can assert on what the bot sent."""

    method: str  # canonical spelling, e.g. "sendMessage", whatever case the client used
    params: JsonDict  # decoded: JSON-looking form values parsed (see _STRING_PARAMS)
    files: Files  # multipart uploads: field -> (filename, bytes)
    at: float  # time.monotonic() when received
    status: int  # HTTP status answered; 0 while the call is still pending (long poll, delay)


class _ApiError(Exception):
    """An error answer: the handlers raise it, the dispatcher turns it into the JSON body."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


def _bad_request(detail: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {detail}")


def _flood(retry_after: int = 1) -> _ApiError:
    return _ApiError(429, _FLOOD.format(retry_after), retry_after)


@dataclass
class _Fault:
    status: int
    description: str
    retry_after: int | None
    remaining: int


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    file_name: str
    mime_type: str
    data: bytes
    size: int  # what Telegram advertises; may differ from len(data) on purpose

    def as_file(self) -> JsonDict:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "file_path": self.file_path,
        }

    def as_document(self) -> JsonDict:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_name": self.file_name,
            "mime_type": self.mime_type,
            "file_size": self.size,
        }


@dataclass
class _Message:
    """What the fake remembers of a message, to answer edits and deletes as Telegram would."""

    by_bot: bool
    text: str | None = None
    reply_markup: JsonDict | None = None
    deleted: bool = False


def _decode_value(key: str, value: str) -> Any:
    if key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def _read_params(request: web.Request) -> tuple[JsonDict, Files]:
    """Decode a Bot API request the way the real server accepts it: query, form, multipart, JSON."""
    params: JsonDict = {key: _decode_value(key, value) for key, value in request.query.items()}
    files: Files = {}
    if request.method != "POST" or not request.body_exists:
        return params, files
    if request.content_type == "application/json":
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("a JSON body must be an object")
        params.update(body)
        return params, files
    form = await request.post()
    for key, value in form.items():
        if isinstance(value, web.FileField):
            with value.file:
                files[key] = (value.filename, value.file.read())
        else:
            text = value if isinstance(value, str) else bytes(value).decode()
            params[key] = _decode_value(key, text)
    return params, files


def _utf16_len(text: str) -> int:
    """Entity offsets and lengths are counted in UTF-16 code units, as Telegram does."""
    return len(text.encode("utf-16-le")) // 2


def _count_since(stamps: deque[float], since: float) -> int:
    return sum(1 for stamp in stamps if stamp > since)


def _text_param(params: JsonDict, key: str) -> str | None:
    value = params.get(key)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _int_param(params: JsonDict, key: str, error: str) -> int:
    value = params.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad_request(error)
    return value


def _check_markup(value: Any) -> JsonDict | None:
    """Validate reply_markup; return it when Telegram would echo it (inline keyboards only)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    rows = value.get("inline_keyboard")
    if rows is None:
        return None
    if not isinstance(rows, list):
        raise _bad_request("can't parse inline keyboard button: InlineKeyboardButton expected")
    for row in rows:
        for button in row if isinstance(row, list) else []:
            data = button.get("callback_data") if isinstance(button, dict) else None
            if data is not None and not 1 <= len(str(data).encode()) <= _MAX_CALLBACK_DATA:
                raise _bad_request("BUTTON_DATA_INVALID")
    return value


class FakeBotApi(FakeServer):
    """An in-process Telegram Bot API on 127.0.0.1 that PTB's HTTP client talks to unchanged.

    Requests go to ``/bot<token>/<method>`` (GET or POST; query string, form, multipart or JSON;
    method names case-insensitive) and file downloads to ``/file/bot<token>/<file_path>``.
    Answers are ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N,
    "description": ..., "parameters": {"retry_after": N}}`` like the real API, including its
    Conflict on getUpdates while a webhook is set (or when a newer getUpdates supersedes a
    waiting one), "message is not modified" on identical edits, BUTTON_DATA_INVALID on callback
    data over 64 bytes, "message is too long" over 4096 UTF-16 code units and the HTTPS-only
    webhook.

    Flood control (only sendMessage, sendDocument and editMessageText count; only accepted sends
    are counted, and a refused send answers 429 with ``retry_after`` 1):

    * ``overall_per_second=R``: a send is refused when the sends accepted in the last 0.95 s
      (1 s minus a 50 ms tolerance for the client's clock), plus this one, would exceed R.
    * ``per_chat_per_second=R``: a send to a chat is refused when, counting it, the chat would
      have more than 3 accepted sends in the last 0.95 s, or more than ``3 + R * 3`` in the
      last 3 s. So a burst of 3 passes, and after it the chat must keep to R per second
      (a token bucket of 3 refilled at R per second stays within both).

    Windows are measured when the request is handled (after any :meth:`delay`). Faults from
    :meth:`fail_next` come first, then :meth:`block_chat`, then flood control.

    Updates are made by :meth:`text_update`, :meth:`document_update` and
    :meth:`callback_update`, and getUpdates hands them out once passed to :meth:`queue`. While a
    webhook is set they only count as pending: the fake does not push them, so post them to the
    bot's webhook yourself.
    """

    def __init__(
        self,
        token: str = TOKEN,
        *,
        bot_username: str = "certmate_test_bot",
        overall_per_second: float | None = None,
        per_chat_per_second: float | None = None,
    ) -> None:
        super().__init__(client_max_size=64 * 1024 * 1024, shutdown_timeout=2.0)
        self._token = token
        self.bot_username = bot_username
        bot_id = token.partition(":")[0]
        self.bot_id = int(bot_id) if bot_id.isdigit() else 1
        self._overall_per_second = overall_per_second
        self._per_chat_per_second = per_chat_per_second

        self.calls: list[Call] = []
        self.deleted: list[tuple[int, int]] = []
        self.answered_callbacks: list[str] = []
        self.webhook: JsonDict | None = None
        self.commands: dict[str | None, list[JsonDict]] = {}
        self.downloads: list[str] = []  # file_path of every file served, in order

        self._pending: list[JsonDict] = []
        self._update_ids = itertools.count(1)
        self._allowed_updates: frozenset[str] | None = None
        self._changed = asyncio.Event()
        self._poll_generation = 0

        self._file_numbers = itertools.count(1)
        self._callback_numbers = itertools.count(1)
        self._files_by_id: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._last_message_id: dict[int, int] = {}
        self._messages: dict[tuple[int, int], _Message] = {}
        self._chats: dict[int, JsonDict] = {}
        self._sent: dict[int, list[JsonDict]] = {}
        self._sent_documents: dict[int, list[tuple[str, bytes]]] = {}

        self._faults: dict[str, deque[_Fault]] = {}
        self._delays: dict[str, float] = {}
        self._blocked: set[int] = set()
        self._undeletable: set[int] = set()
        self._sends: deque[float] = deque()
        self._chat_sends: dict[int, deque[float]] = {}
        self._responses_429 = 0

        self._methods: dict[str, tuple[str, _Handler]] = {
            name.lower(): (name, handler)
            for name, handler in (
                ("getMe", lambda _call: self._get_me()),
                ("getUpdates", self._get_updates),
                ("sendMessage", self._send_message),
                ("editMessageText", self._edit_message_text),
                ("editMessageReplyMarkup", self._edit_message_reply_markup),
                ("deleteMessage", self._delete_message),
                ("deleteMessages", self._delete_messages),
                ("sendChatAction", self._send_chat_action),
                ("answerCallbackQuery", self._answer_callback_query),
                ("getFile", self._get_file),
                ("sendDocument", self._send_document),
                ("setMyCommands", self._set_my_commands),
                ("getMyCommands", self._get_my_commands),
                ("deleteMyCommands", self._delete_my_commands),
                ("setWebhook", self._set_webhook),
                ("deleteWebhook", self._delete_webhook),
                ("getWebhookInfo", lambda _call: self._get_webhook_info()),
                ("close", lambda _call: self._true()),
                ("logOut", lambda _call: self._true()),
            )
        }

    # -- lifecycle (FakeServer) ----------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._dispatch)

    def wake_waiters(self) -> None:
        """Waiting long polls end at once on stop."""
        self._wake()

    @property
    def base_url(self) -> str:
        """For ``Bot(base_url=...)``: PTB appends the token and then ``/<method>``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``Bot(base_file_url=...)``: PTB appends the token and then ``/<file_path>``."""
        return f"{self.url}/file/bot"

    # -- what the bot did ------------------------------------------------------------------

    def calls_of(self, method: str) -> list[Call]:
        """Every call of one method (any spelling case), in arrival order."""
        wanted = method.lower()
        return [call for call in self.calls if call.method.lower() == wanted]

    def sent_messages(self, chat_id: int) -> list[JsonDict]:
        """Params of the accepted sendMessage and editMessageText calls to a chat, in order."""
        return list(self._sent.get(chat_id, []))

    def sent_documents(self, chat_id: int) -> list[tuple[str, bytes]]:
        """(filename, data) of the accepted sendDocument calls to a chat, in order."""
        return list(self._sent_documents.get(chat_id, []))

    @property
    def responses_429(self) -> int:
        """How many 429s were answered, from flood control and from :meth:`fail_next`."""
        return self._responses_429

    @property
    def pending_updates(self) -> list[JsonDict]:
        """Queued updates not yet confirmed by a getUpdates offset."""
        return list(self._pending)

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 - the name is part of the interface tests use
    ) -> None:
        """Poll ``predicate`` every 10 ms, since the bot reacts on its own schedule."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                recent = ", ".join(f"{call.method}->{call.status}" for call in self.calls[-15:])
                raise AssertionError(
                    f"wait_for: {_describe(predicate)} still false after {timeout} s;"
                    f" last calls: [{recent}]"
                )
            await asyncio.sleep(0.01)

    # -- faults ----------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        description: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with an error, to test recovery paths.

        ``retry_after`` is only sent with 429 (PTB raises ``RetryAfter`` whenever it is
        present). Without ``description``: "Too Many Requests: retry after N" for 429, "Forbidden:
        bot was blocked by the user" for 403, a generic one for the others.
        """
        if description is None:
            if status == 429:
                description = _FLOOD.format(retry_after if retry_after is not None else 1)
            else:
                description = _DEFAULT_DESCRIPTIONS.get(status, f"Error {status}")
        fault = _Fault(status, description, retry_after if status == 429 else None, times)
        self._faults.setdefault(self._canonical(method), deque()).append(fault)

    def delay(self, method: str, seconds: float) -> None:
        """Answer every call of ``method`` after ``seconds`` (0 to stop), like a slow server."""
        key = self._canonical(method)
        if seconds > 0:
            self._delays[key] = seconds
        else:
            self._delays.pop(key, None)

    def block_chat(self, chat_id: int) -> None:
        """From now on calls acting on this chat answer 403, as when the user blocks the bot."""
        self._blocked.add(chat_id)

    def refuse_delete(self, chat_id: int) -> None:
        """deleteMessage in this chat answers 400, as for messages older than 48 hours."""
        self._undeletable.add(chat_id)

    # -- making updates --------------------------------------------------------------------

    def text_update(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "홍길동",
        language_code: str = "ko",
    ) -> JsonDict:
        """A message update; "/command" (optionally "@bot") at the start gets its entity."""
        user = _user(user_id, first_name, language_code)
        message = self._incoming(user, chat_id, chat_type)
        message["text"] = text
        if match := _BOT_COMMAND.match(text):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(match.group())}
            ]
        self._messages[message["chat"]["id"], message["message_id"]].text = text
        return {"update_id": next(self._update_ids), "message": message}

    def document_update(
        self,
        user_id: int,
        file_name: str,
        data: bytes,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        declared_size: int | None = None,
    ) -> JsonDict:
        """A document message; the bytes are stored so getFile and the download work.

        ``declared_size`` is what Telegram advertises (Document.file_size and getFile's
        file_size; getFile refuses above 20 MB), to test size checks without big payloads.
        """
        stored = self._store_file(file_name, data, declared_size)
        message = self._incoming(_user(user_id, "홍길동", "ko"), chat_id, chat_type)
        message["document"] = stored.as_document()
        return {"update_id": next(self._update_ids), "message": message}

    def callback_update(
        self, user_id: int, data: str, *, message_id: int | None = None, chat_id: int | None = None
    ) -> JsonDict:
        """A button press on a bot message, echoing its text and keyboard when the fake sent it.

        ``message_id`` defaults to the bot's latest message in the chat (1 if it sent none), the
        one whose keyboard a user would normally press: ids are shared with the user's own
        messages, so a fixed 1 would often name a message the user typed.
        """
        chat = self._chat(user_id if chat_id is None else chat_id)
        if message_id is None:
            message_id = max(
                (
                    mid
                    for (cid, mid), m in self._messages.items()
                    if cid == chat["id"] and m.by_bot and not m.deleted
                ),
                default=1,
            )
        message: JsonDict = {
            "message_id": message_id,
            "from": self._bot_user(),
            "chat": chat,
            "date": int(time.time()),
        }
        known = self._messages.get((chat["id"], message_id))
        if known is not None and known.by_bot:
            if known.text is not None:
                message["text"] = known.text
            if known.reply_markup is not None:
                message["reply_markup"] = known.reply_markup
        query = {
            "id": str(4_000_000_000_000_000 + next(self._callback_numbers)),
            "from": _user(user_id, "홍길동", "ko"),
            "message": message,
            "chat_instance": str(-abs(chat["id"]) * 7919),
            "data": data,
        }
        return {"update_id": next(self._update_ids), "callback_query": query}

    def queue(self, update: JsonDict) -> None:
        """Make an update available to getUpdates, waking a waiting long poll."""
        if "update_id" not in update:
            update["update_id"] = next(self._update_ids)
        position = len(self._pending)
        while position and self._pending[position - 1]["update_id"] > update["update_id"]:
            position -= 1
        self._pending.insert(position, update)
        self._wake()

    # -- HTTP ------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/file/bot"):
            return self._download(path.removeprefix("/file/bot"))
        if path.startswith("/bot"):
            token, slash, method = path.removeprefix("/bot").partition("/")
            if slash and method and "/" not in method:
                return await self._api(request, token, method)
        return _answer_error(404, "Not Found")

    def _download(self, rest: str) -> web.StreamResponse:
        token, _, file_path = rest.partition("/")
        if token != self._token:
            return _answer_error(401, "Unauthorized")
        stored = self._files_by_path.get(file_path)
        if stored is None:
            return _answer_error(404, "Not Found")
        self.downloads.append(file_path)
        return web.Response(body=stored.data, content_type=stored.mime_type)

    async def _api(self, request: web.Request, token: str, name: str) -> web.StreamResponse:
        at = time.monotonic()
        entry = self._methods.get(name.lower())
        try:
            params, files = await _read_params(request)
        except ValueError:
            params, files, parse_error = {}, {}, True
        else:
            parse_error = False
        call = Call(entry[0] if entry else name, params, files, at, 0)
        self.calls.append(call)

        retry_after: int | None = None
        result: Any = None
        if token != self._token:
            status, description = 401, "Unauthorized"
        elif entry is None:
            status, description = 404, "Not Found"
        elif parse_error:
            status, description = 400, "Bad Request: can't parse request"
        else:
            method, handler = entry
            if seconds := self._delays.get(method):
                await self.pause(seconds)
            try:
                result = await self._run(method, handler, call)
            except _ApiError as error:
                status, description, retry_after = (
                    error.status,
                    error.description,
                    error.retry_after,
                )
            else:
                status, description = 200, ""

        call.status = status
        if status == 200:
            return web.json_response({"ok": True, "result": result}, dumps=_dumps)
        if status == 429:
            self._responses_429 += 1
        return _answer_error(status, description, retry_after)

    async def _run(self, method: str, handler: _Handler, call: Call) -> Any:
        params = call.params
        faults = self._faults.get(method)
        if faults:
            fault = faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                faults.popleft()
            raise _ApiError(fault.status, fault.description, fault.retry_after)
        chat_id = params.get("chat_id")
        chat = chat_id if isinstance(chat_id, int) and not isinstance(chat_id, bool) else None
        if chat is not None and method in _CHAT_SCOPED and chat in self._blocked:
            raise _ApiError(403, _BLOCKED)
        if method not in _RATE_LIMITED:
            return await handler(call)
        self._check_flood(chat)
        result = await handler(call)
        now = time.monotonic()
        self._sends.append(now)
        if chat is not None:
            self._chat_sends.setdefault(chat, deque()).append(now)
        return result

    def _check_flood(self, chat: int | None) -> None:
        now = time.monotonic()
        for stamps in (self._sends, *self._chat_sends.values()):
            while stamps and stamps[0] <= now - _CHAT_LONG_WINDOW:
                stamps.popleft()
        overall = self._overall_per_second
        if overall is not None and _count_since(self._sends, now - _OVERALL_WINDOW) + 1 > overall:
            raise _flood()
        per_chat = self._per_chat_per_second
        if per_chat is None or chat is None:
            return
        stamps = self._chat_sends.get(chat, deque())
        if (
            _count_since(stamps, now - _CHAT_LONG_WINDOW) + 1
            > _CHAT_BURST + per_chat * _CHAT_LONG_WINDOW
            or _count_since(stamps, now - _CHAT_BURST_WINDOW) + 1 > _CHAT_BURST
        ):
            raise _flood()

    # -- methods ---------------------------------------------------------------------------

    async def _true(self) -> bool:
        return True

    async def _get_me(self) -> JsonDict:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, call: Call) -> list[JsonDict]:
        params = call.params
        if self.webhook is not None:
            raise _ApiError(409, _WEBHOOK_CONFLICT)
        offset = params.get("offset")
        if isinstance(offset, int) and offset < 0:
            del self._pending[:offset]  # "-N": keep only the last N, forget the rest
        elif isinstance(offset, int) and offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        limit = params.get("limit")
        limit = min(max(limit, 1), 100) if isinstance(limit, int) else 100
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(map(str, allowed)) or None
        timeout = params.get("timeout")
        wait = float(timeout) if isinstance(timeout, int | float) else 0.0

        self._poll_generation += 1
        generation = self._poll_generation
        self._wake()  # an older poll still waiting is answered Conflict, as Telegram does
        deadline = time.monotonic() + wait
        while True:
            ready = [u for u in self._pending if self._allowed(u)][:limit]
            remaining = deadline - time.monotonic()
            if ready or remaining <= 0 or self.stopping:
                return ready
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)
            if generation != self._poll_generation:
                raise _ApiError(409, _POLL_CONFLICT)
            if self.webhook is not None:
                raise _ApiError(409, _WEBHOOK_CONFLICT)

    async def _send_message(self, call: Call) -> JsonDict:
        params = call.params
        chat = self._chat_param(params)
        text = _checked_text(params)
        markup = _check_markup(params.get("reply_markup"))
        message = self._outgoing(chat, text=text, reply_markup=markup)
        self._sent.setdefault(chat, []).append(params)
        return message

    async def _edit_message_text(self, call: Call) -> JsonDict | bool:
        params = call.params
        text = _checked_text(params)
        markup = _check_markup(params.get("reply_markup"))
        if params.get("chat_id") is None and params.get("inline_message_id"):
            return True
        chat, message_id, stored = self._editable(params)
        if stored.text == text and stored.reply_markup == markup:
            raise _bad_request(_NOT_MODIFIED.removeprefix("Bad Request: "))
        stored.text, stored.reply_markup = text, markup
        self._sent.setdefault(chat, []).append(params)
        return self._message_json(chat, message_id, stored, edited=True)

    async def _edit_message_reply_markup(self, call: Call) -> JsonDict | bool:
        params = call.params
        markup = _check_markup(params.get("reply_markup"))
        if params.get("chat_id") is None and params.get("inline_message_id"):
            return True
        chat, message_id, stored = self._editable(params)
        if stored.reply_markup == markup:
            raise _bad_request(_NOT_MODIFIED.removeprefix("Bad Request: "))
        stored.reply_markup = markup
        return self._message_json(chat, message_id, stored, edited=True)

    async def _delete_message(self, call: Call) -> bool:
        params = call.params
        chat = self._chat_param(params)
        message_id = _int_param(params, "message_id", "message identifier is not specified")
        self._delete(chat, message_id, strict=True)
        return True

    async def _delete_messages(self, call: Call) -> bool:
        params = call.params
        chat = self._chat_param(params)
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not ids:
            raise _bad_request("message identifiers are not specified")
        for message_id in ids:
            if isinstance(message_id, int):
                self._delete(chat, message_id, strict=False)
        return True

    async def _send_chat_action(self, call: Call) -> bool:
        params = call.params
        self._chat_param(params)
        if not params.get("action"):
            raise _bad_request("wrong parameter action in request")
        return True

    async def _answer_callback_query(self, call: Call) -> bool:
        params = call.params
        query_id = _text_param(params, "callback_query_id")
        if not query_id:
            raise _bad_request("QUERY_ID_INVALID")
        self.answered_callbacks.append(query_id)
        return True

    async def _get_file(self, call: Call) -> JsonDict:
        params = call.params
        stored = self._files_by_id.get(_text_param(params, "file_id") or "")
        if stored is None:
            raise _bad_request("invalid file_id")
        if stored.size > _MAX_GET_FILE:
            raise _bad_request("file is too big")
        return stored.as_file()

    async def _send_document(self, call: Call) -> JsonDict:
        params = call.params
        chat = self._chat_param(params)
        caption = _text_param(params, "caption")
        if caption is not None and _utf16_len(caption) > _MAX_CAPTION:
            raise _bad_request("message caption is too long")
        markup = _check_markup(params.get("reply_markup"))
        if "document" in call.files:
            filename, data = call.files["document"]
            stored = self._store_file(filename, data, None)
        elif isinstance(reference := params.get("document"), str) and reference:
            found = self._files_by_id.get(reference)
            if found is None:
                raise _bad_request("wrong file identifier/HTTP URL specified")
            stored = found
        else:
            raise _bad_request("there is no document in the request")
        message = self._outgoing(chat, reply_markup=markup, caption=caption)
        message["document"] = stored.as_document()
        self._sent_documents.setdefault(chat, []).append((stored.file_name, stored.data))
        return message

    async def _set_my_commands(self, call: Call) -> bool:
        params = call.params
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad_request("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not (
                isinstance(command, dict)
                and _COMMAND.fullmatch(str(command.get("command", "")))
                and 1 <= len(str(command.get("description", ""))) <= 256
            ):
                raise _bad_request("BOT_COMMAND_INVALID")
        self.commands[_text_param(params, "language_code") or None] = commands
        return True

    async def _get_my_commands(self, call: Call) -> list[JsonDict]:
        params = call.params
        return self.commands.get(_text_param(params, "language_code") or None, [])

    async def _delete_my_commands(self, call: Call) -> bool:
        params = call.params
        self.commands.pop(_text_param(params, "language_code") or None, None)
        return True

    async def _set_webhook(self, call: Call) -> bool:
        params = call.params
        url = _text_param(params, "url") or ""
        secret = _text_param(params, "secret_token")
        if url and not url.startswith("https://"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
            raise _bad_request("secret token contains unallowed characters")
        if params.get("drop_pending_updates") is True:
            self._pending.clear()
        self.webhook = dict(params) if url else None  # an empty url removes the webhook
        self._wake()
        return True

    async def _delete_webhook(self, call: Call) -> bool:
        params = call.params
        if params.get("drop_pending_updates") is True:
            self._pending.clear()
        self.webhook = None
        return True

    async def _get_webhook_info(self) -> JsonDict:
        info: JsonDict = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook:
            for key in ("max_connections", "allowed_updates", "ip_address"):
                if key in self.webhook:
                    info[key] = self.webhook[key]
        return info

    # -- helpers ---------------------------------------------------------------------------

    def _canonical(self, method: str) -> str:
        entry = self._methods.get(method.lower())
        return entry[0] if entry else method

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _allowed(self, update: JsonDict) -> bool:
        if self._allowed_updates is None:
            return True
        return any(key in self._allowed_updates for key in update if key != "update_id")

    def _bot_user(self) -> JsonDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "CertMate Test",
            "username": self.bot_username,
        }

    def _chat(
        self, chat_id: int, chat_type: str | None = None, user: JsonDict | None = None
    ) -> JsonDict:
        """The chat as Telegram would describe it; remembered so replies echo the same object."""
        known = self._chats.get(chat_id)
        if known is not None and (chat_type is None or known["type"] == chat_type):
            return known
        if chat_type is None:
            if chat_id > 0:
                chat_type = "private"
            else:
                chat_type = "supergroup" if str(chat_id).startswith("-100") else "group"
        chat: JsonDict = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = user["first_name"] if user else "홍길동"
        else:
            chat["title"] = "테스트 그룹"
        self._chats[chat_id] = chat
        return chat

    def _next_message_id(self, chat_id: int) -> int:
        """Message ids count up per chat, shared by both directions like in a real chat."""
        message_id = self._last_message_id.get(chat_id, 0) + 1
        self._last_message_id[chat_id] = message_id
        return message_id

    def _incoming(self, user: JsonDict, chat_id: int | None, chat_type: str) -> JsonDict:
        chat = self._chat(user["id"] if chat_id is None else chat_id, chat_type, user)
        message_id = self._next_message_id(chat["id"])
        self._messages[chat["id"], message_id] = _Message(by_bot=False)
        return {"message_id": message_id, "from": user, "chat": chat, "date": int(time.time())}

    def _outgoing(
        self,
        chat_id: int,
        *,
        text: str | None = None,
        reply_markup: JsonDict | None = None,
        caption: str | None = None,
    ) -> JsonDict:
        message_id = self._next_message_id(chat_id)
        stored = _Message(by_bot=True, text=text, reply_markup=reply_markup)
        self._messages[chat_id, message_id] = stored
        message = self._message_json(chat_id, message_id, stored)
        if caption is not None:
            message["caption"] = caption
        return message

    def _message_json(
        self, chat_id: int, message_id: int, stored: _Message, *, edited: bool = False
    ) -> JsonDict:
        message: JsonDict = {
            "message_id": message_id,
            "from": self._bot_user(),
            "chat": self._chat(chat_id),
            "date": int(time.time()),
        }
        if edited:
            message["edit_date"] = int(time.time())
        if stored.text is not None:
            message["text"] = stored.text
        if stored.reply_markup is not None:
            message["reply_markup"] = stored.reply_markup
        return message

    def _chat_param(self, params: JsonDict) -> int:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad_request("chat_id is empty")
        if isinstance(chat_id, bool) or not isinstance(chat_id, int):
            raise _bad_request("chat not found")  # "@username" chats are not simulated
        return chat_id

    def _editable(self, params: JsonDict) -> tuple[int, int, _Message]:
        chat = self._chat_param(params)
        message_id = _int_param(params, "message_id", "message identifier is not specified")
        stored = self._messages.get((chat, message_id))
        if stored is None:  # a message the fake never saw: assume it is the bot's own
            stored = self._messages[chat, message_id] = _Message(by_bot=True)
        if stored.deleted:
            raise _bad_request("message to edit not found")
        if not stored.by_bot:
            raise _bad_request("message can't be edited")
        return chat, message_id, stored

    def _delete(self, chat: int, message_id: int, *, strict: bool) -> None:
        if chat in self._undeletable:
            if strict:
                raise _bad_request("message can't be deleted")
            return
        stored = self._messages.setdefault((chat, message_id), _Message(by_bot=True))
        if stored.deleted:
            if strict:
                raise _bad_request("message to delete not found")
            return
        stored.deleted = True
        self.deleted.append((chat, message_id))

    def _store_file(self, file_name: str, data: bytes, declared_size: int | None) -> _StoredFile:
        number = next(self._file_numbers)
        extension = ""
        if (dot := file_name.rfind(".")) >= 0 and _SAFE_EXTENSION.fullmatch(file_name[dot:]):
            extension = file_name[dot:].lower()
        mime_type = mimetypes.guess_type(file_name, strict=False)[0] or "application/octet-stream"
        stored = _StoredFile(
            file_id=f"BQACAgUAAxkBAAI{number:06d}",
            file_unique_id=f"AgAD{number:06d}",
            file_path=f"documents/file_{number}{extension}",
            file_name=file_name,
            mime_type=mime_type,
            data=data,
            size=len(data) if declared_size is None else declared_size,
        )
        self._files_by_id[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored


def _user(user_id: int, first_name: str, language_code: str) -> JsonDict:
    return {
        "id": user_id,
        "is_bot": False,
        "first_name": first_name,
        "language_code": language_code,
    }


def _checked_text(params: JsonDict) -> str:
    text = _text_param(params, "text")
    if text is None or not text.strip():
        raise _bad_request("message text is empty")
    if _utf16_len(text) > _MAX_TEXT:
        raise _bad_request("message is too long")
    return text


def _answer_error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: JsonDict = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status, dumps=_dumps)


def _describe(predicate: Callable[[], bool]) -> str:
    """The predicate's source line if available, so a timeout says what was awaited."""
    try:
        source = inspect.getsource(predicate).strip()
    except (OSError, TypeError):
        return getattr(predicate, "__qualname__", repr(predicate))
    return " ".join(source.split())[:200]


__all__ = ["TOKEN", "Call", "FakeBotApi"]
