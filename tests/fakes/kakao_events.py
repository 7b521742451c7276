"""A fake of Kakao's chatbot Event API, so the notifier is tested over real HTTP.

It answers ``POST /v2/bots/{botId}/talk`` as the real API is documented to:

* ``Authorization: KakaoAK <key>`` must carry the configured key, else 401 with
  Kakao's usual REST error body ``{"code": -401, "msg": ...}`` (the real body of this
  API for a bad key is not documented; the status is what matters);
* the JSON body needs ``event.name`` and 1 to 100 ``user`` entries, each with a
  ``type`` of botUserKey, appUserId or plusfriendUserKey and an ``id``, else 400;
* success is ``{"taskId": <uuid>, "status": "SUCCESS", "timestamp": <ms>}``.

Faults are queued and used one per request, in order (``answer_next``, optionally with
headers such as ``Retry-After``, and ``delay_next``), and users can be marked
unreachable (``fail_user``): a request naming one answers
``{"taskId": ..., "status": "FAIL", "message": ...}``. Which synchronous answer the
real API gives for an unknown or blocked user is not documented (its task result
counts it under ``userKeyResolvingFailCount``); this is the shape the notifier
assumes.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from tests.fakes.server import FakeServer

API_KEY: Final = "fake-kakao-rest-api-key-0123456789"
BOT_ID: Final = "64ddebb416baad579d7b7ef9"
USER_TYPES: Final = frozenset({"botUserKey", "appUserId", "plusfriendUserKey"})
MAX_USERS: Final = 100

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class _Fault:
    status: int
    body: JsonDict | None
    delay: float
    headers: dict[str, str]


class FakeKakaoEventApi(FakeServer):
    """An in-process Event API on 127.0.0.1 (a free port), recording every request.

    ``requests`` holds one dict per request, in order of arrival: ``at`` (when it
    arrived, `time.monotonic()`), ``method``, ``path``, ``bot_id``, ``authorization``,
    ``content_type``, ``json`` (None when the body was not JSON), and the ``status``
    and ``answer`` sent back.
    """

    def __init__(self, api_key: str = API_KEY, bot_id: str | None = BOT_ID) -> None:
        """``bot_id``: answer 404 for any other bot (None accepts every bot id)."""
        super().__init__()
        self.api_key = api_key
        self.bot_id = bot_id
        self.requests: list[JsonDict] = []
        self._faults: deque[_Fault] = deque()
        self._unreachable: set[str] = set()

    # -- lifecycle (FakeServer) ----------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._dispatch)

    # -- faults ------------------------------------------------------------------------

    def answer_next(
        self,
        status: int = 500,
        body: JsonDict | None = None,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests with ``status``, ``body`` (else a generic
        error body) and ``headers`` before any check: an outage, a rate limit (with its
        Retry-After), an odd answer."""
        for _ in range(times):
            self._faults.append(_Fault(status, body, 0.0, headers or {}))

    def delay_next(self, seconds: float) -> None:
        """Hold the next request ``seconds`` before answering it normally (timeouts)."""
        self._faults.append(_Fault(0, None, seconds, {}))

    def fail_user(self, user_id: str) -> None:
        """From now on a request naming this user answers status FAIL."""
        self._unreachable.add(user_id)

    # -- HTTP --------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        at = time.monotonic()
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        parts = request.path.strip("/").split("/")
        is_talk = len(parts) == 4 and parts[:2] == ["v2", "bots"] and parts[3] == "talk"
        record: JsonDict = {
            "at": at,
            "method": request.method,
            "path": request.path,
            "bot_id": parts[2] if is_talk else None,
            "authorization": request.headers.get("Authorization"),
            "content_type": request.content_type,
            "json": body,
            "status": 0,  # 0 while the request is held by a delay
            "answer": None,
        }
        self.requests.append(record)
        fault = self._faults.popleft() if self._faults else None
        status, answer = await self._respond(request, body, parts if is_talk else None, fault)
        record["status"], record["answer"] = status, answer
        headers = fault.headers if fault is not None and fault.status else {}
        return web.json_response(answer, status=status, headers=headers)

    async def _respond(
        self, request: web.Request, body: Any, parts: list[str] | None, fault: _Fault | None
    ) -> tuple[int, JsonDict]:
        if fault is not None:
            if fault.delay:
                await self.pause(fault.delay)
            if fault.status:
                return fault.status, fault.body or _error(fault.status)
        if parts is None or request.method != "POST":
            return 404, {"code": -404, "msg": "not found"}
        if request.headers.get("Authorization") != f"KakaoAK {self.api_key}":
            return 401, {"code": -401, "msg": "wrong appKey"}
        if self.bot_id is not None and parts[2] != self.bot_id:
            return 404, {"code": -404, "msg": "bot not found"}
        problem = _invalid(body)
        if problem:
            return 400, {"code": -2, "msg": problem}
        return 200, self._accept(body)

    def _accept(self, body: JsonDict) -> JsonDict:
        task_id = str(uuid.uuid4())
        failed = [user["id"] for user in body["user"] if user["id"] in self._unreachable]
        if failed:
            answer: JsonDict = {"taskId": task_id, "status": "FAIL", "message": "user not found"}
        else:
            answer = {"taskId": task_id, "status": "SUCCESS"}
        answer["timestamp"] = int(time.time() * 1000)
        return answer


def _invalid(body: Any) -> str:
    """What the real API would refuse in this body, or "" when it is acceptable."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    event = body.get("event")
    if not isinstance(event, dict) or not isinstance(event.get("name"), str):
        return "event.name is required"
    if "data" in event and not isinstance(event["data"], dict):
        return "event.data must be an object"
    users = body.get("user")
    if not isinstance(users, list) or not 1 <= len(users) <= MAX_USERS:
        return f"user must list 1 to {MAX_USERS} users"
    for user in users:
        if not isinstance(user, dict) or user.get("type") not in USER_TYPES:
            return "user.type must be botUserKey, appUserId or plusfriendUserKey"
        if not isinstance(user.get("id"), str) or not user["id"]:
            return "user.id is required"
    return ""


def _error(status: int) -> JsonDict:
    return {"code": -status, "msg": "Too Many Requests" if status == 429 else "fake failure"}


__all__ = ["API_KEY", "BOT_ID", "FakeKakaoEventApi"]
