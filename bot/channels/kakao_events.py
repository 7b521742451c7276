"""Reminders to KakaoTalk users through Kakao's Event API (카카오 i 오픈빌더 Event API).

A Kakao chatbot only answers; the Event API is the one way it speaks first. It does
not carry a message: it triggers the block bound to an event name, for the users
listed, and hands that block the event's `data`. So the chatbot admin center needs a
block with the event `certmate_reminder` (or the configured name) whose answer is a
text bubble showing the data's `text` and nothing else (the placeholder is
``{{#current.event.data.text}}`` as a third-party SDK documents it; check it on the
dev channel), since the whole bubble is limited to 1000 characters.

One request per reminder, for one user, identified by their botUserKey (the
`userRequest.user.id` of the skill payloads we receive)::

    POST {base_url}/v2/bots/{bot_id}/talk
    Authorization: KakaoAK {REST API key}
    {"event": {"name": ..., "data": {"text": ...}},
     "user": [{"type": "botUserKey", "id": ...}]}

    -> {"taskId": "...", "status": "SUCCESS" | "FAIL" | "ERROR", "timestamp": ...}

Only the text goes out: a block's buttons are fixed in the admin center, so the
reminder's choices cannot be shown; the user answers by writing to the bot.

Pacing. Kakao publishes no rate limit for this API: its chatbot guide
(kakaobusiness.gitbook.io, "Event API") says only that each message is charged;
Kakao Developers' quota page lists daily quotas for its other APIs, not this one; an
exceeded quota of Kakao's API platform answers HTTP 400 ``{"code": -10}``
(developers.kakao.com, "API 쿼터 설정"). So requests are paced at a configured rate,
`[kakao] event_per_second`, 5 by default: half the one figure a comparable Korean
chatbot platform has stated (Naver TalkTalk may block more than 30 requests in 3
seconds, github.com/navertalk/chatbot-api/issues/268), which still sends a morning's
1,000 reminders in under 4 minutes. Each request books one slot of the schedule
`PACER_KEY` in the `Pacer` it is given, which `certmate run` shares through
PostgreSQL (`bot.pacing.pacer_for`), so all processes together keep the rate. A 429
(or the -10 answer) holds that schedule for its Retry-After seconds (`DEFAULT_HOLD`
without a number of seconds, `MAX_HOLD` at most), so every process waits.

Errors, as the reminder scheduler expects them (bot/reminders/notifiers.py):

* `UserUnreachable`: Kakao answered FAIL for the request, whose one user is this
  user. An assumption: Kakao documents an unresolvable user key only in the task
  result (GET /v1/tasks/{taskId}, `userKeyResolvingFailCount`), not this answer.
* `NotifierError`: everything worth retrying later: a refused key (401/403, logged
  at ERROR once until a send succeeds again), 429 or -10 (after holding the
  schedule), 5xx, other 4xx, ERROR, an answer without a task id, a network error or
  a timeout.

The key and the message text are never logged nor put in an exception.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import aiohttp
from yarl import URL

from bot.channels.kakao_render import truncate
from bot.channels.pacer import LocalPacer, Pacer, Sleep
from bot.config import KAKAO_EVENTS_PER_SECOND, KakaoSettings
from bot.reminders.notifiers import NotifierError, UserUnreachable
from handlers.messages import Reply
from storage.models import User

DEFAULT_TIMEOUT: Final = 10.0
USER_TYPE: Final = "botUserKey"
PACER_KEY: Final = "kakao-events"
"""The Event API's one schedule, the same in every process of the bot."""
DEFAULT_HOLD: Final = 5.0
"""Seconds every process waits after a 429 that gives no Retry-After in seconds."""
MAX_HOLD: Final = 600.0
"""The longest wait a 429 imposes (one sweep interval): the hold is kept in the database,
so an absurd Retry-After would otherwise stop every process's reminders for as long."""
QUOTA_EXCEEDED: Final = -10
"""The `code` of Kakao's API platform for an exceeded quota (with HTTP 400)."""

log = logging.getLogger(__name__)


class KakaoEventNotifier:
    """Sends each reminder as one Event API request through `session`, at most
    `per_second` requests a second through `pacer` (this process's own when None).

    The session is the caller's: it is shared with the rest of the app and closed by
    whoever created it, never here.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        api_key: str,
        bot_id: str,
        event_name: str = "certmate_reminder",
        base_url: str = "https://bot-api.kakao.com",
        timeout: float = DEFAULT_TIMEOUT,
        per_second: float = KAKAO_EVENTS_PER_SECOND,
        pacer: Pacer | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not api_key or not bot_id or not event_name:
            raise ValueError("the Event API needs a key, a bot id and an event name")
        if not 0 < per_second < math.inf:
            raise ValueError("the Event API's rate must be a number above 0")
        self.session = session
        self.interval = 1.0 / per_second
        self.pacer: Pacer = pacer or LocalPacer()
        self._sleep = sleep
        self.bot_id = bot_id
        self.event_name = event_name
        # A dev channel's bot id ends with "!"; yarl keeps it, and escapes anything odd.
        self.url = URL(base_url.rstrip("/")) / "v2" / "bots" / bot_id / "talk"
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._authorization = f"KakaoAK {api_key}"
        self._auth_reported = False

    def __repr__(self) -> str:  # the default would not leak the key, but say it plainly
        return f"KakaoEventNotifier(bot_id={self.bot_id!r}, event_name={self.event_name!r})"

    async def send(
        self,
        user: User,
        message: Reply,
        certificates: Sequence[str],  # noqa: ARG002  (the notifier interface)
        now: datetime,  # noqa: ARG002
    ) -> str:
        body = {
            "event": {"name": self.event_name, "data": {"text": truncate(message.text)}},
            "user": [{"type": USER_TYPE, "id": user.user_key}],
        }
        await self._take_slot()
        status, answer, retry_after = await self._post(body)
        if status in (401, 403) or _auth_code(answer):
            self._report_auth(status)
            raise NotifierError(f"the Event API refused the key (HTTP {status})")
        if status == 429 or _code(answer) == QUOTA_EXCEEDED:
            await self._hold(status, retry_after)
            raise NotifierError(f"the Event API asked to slow down (HTTP {status})")
        if status >= 500:
            log.warning("Event API failing (HTTP %s) for user %s", status, user.id)
            raise NotifierError(f"the Event API answered HTTP {status}")
        if status != 200:
            log.warning("Event API refused the request (HTTP %s) for user %s", status, user.id)
            raise NotifierError(f"the Event API answered HTTP {status}")
        self._auth_reported = False  # the key works: a later refusal is news again
        return _task_id(user, answer)

    async def _take_slot(self) -> None:
        """Wait for this request's slot of the Event API's schedule (shared by every
        process when the pacer is)."""
        wait = await self.pacer.reserve(PACER_KEY, self.interval, 1)
        if wait:
            await self._sleep(wait)

    async def _hold(self, status: int, retry_after: str | None) -> None:
        """Kakao asked to slow down: no process sends for the time it named."""
        seconds = _hold_seconds(retry_after)
        log.warning("Event API asked to slow down (HTTP %s): no sends for %.1f s", status, seconds)
        await self.pacer.hold(PACER_KEY, seconds)

    async def _post(self, body: dict[str, Any]) -> tuple[int, Any, str | None]:
        """The HTTP status, the decoded JSON answer (None when it is not JSON) and the
        Retry-After header."""
        headers = {"Authorization": self._authorization}
        try:
            async with self.session.post(
                self.url, json=body, headers=headers, timeout=self.timeout
            ) as response:
                raw = await response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except TimeoutError as err:
            log.warning("Event API timed out")
            raise NotifierError("the Event API timed out") from err
        except aiohttp.ClientError as err:
            log.warning("Event API unreachable (%s)", type(err).__name__)
            raise NotifierError(f"the Event API is unreachable ({type(err).__name__})") from err
        try:
            return status, json.loads(raw), retry_after
        except ValueError:
            return status, None, retry_after

    def _report_auth(self, status: int) -> None:
        """A wrong key fails every reminder: say so once, loudly, not once per user."""
        if self._auth_reported:
            log.debug("Event API refused the key again (HTTP %s)", status)
            return
        self._auth_reported = True
        log.error(
            "Kakao Event API refused the REST API key (HTTP %s): check [kakao] event_api_key"
            " and that the bot %s is linked to that app; reminders are retried later",
            status,
            self.bot_id,
        )


def event_notifier(
    settings: KakaoSettings, session: aiohttp.ClientSession, pacer: Pacer
) -> KakaoEventNotifier:
    """The notifier `[kakao]` describes (`event_api_key` set), pacing through `pacer`:
    `run` and `remind` give it the pacer every process shares."""
    return KakaoEventNotifier(
        session,
        api_key=settings.event_api_key,
        bot_id=settings.event_bot,
        event_name=settings.event_name,
        base_url=settings.event_api_url,
        per_second=settings.event_per_second,
        pacer=pacer,
    )


def _task_id(user: User, answer: Any) -> str:
    """The task id of an accepted event; FAIL is about the one user sent."""
    outcome = answer.get("status") if isinstance(answer, dict) else None
    task_id = answer.get("taskId") if isinstance(answer, dict) else None
    if outcome == "FAIL":
        log.info("Event API: user %s cannot be reached (task %s)", user.id, task_id)
        raise UserUnreachable("Kakao could not deliver the event to this user")
    if outcome != "SUCCESS" or not isinstance(task_id, str) or not task_id:
        log.warning("Event API answered status %r for user %s", outcome, user.id)
        raise NotifierError(f"the Event API answered status {outcome!r}")
    return task_id


def _code(answer: Any) -> Any:
    """The `code` of Kakao's REST error body (`{"code": -401, "msg": ...}`), or None."""
    return answer.get("code") if isinstance(answer, dict) else None


def _auth_code(answer: Any) -> bool:
    """Kakao's REST APIs report a bad app key as `{"code": -401, "msg": ...}`."""
    return _code(answer) in (-401, -403)


def _hold_seconds(retry_after: str | None) -> float:
    """The seconds a Retry-After header names, at most MAX_HOLD; DEFAULT_HOLD when it
    names none (absent, an HTTP date, or not a positive number)."""
    try:
        seconds = float(retry_after or "")
    except ValueError:
        return DEFAULT_HOLD
    if not 0 < seconds < math.inf:
        return DEFAULT_HOLD
    return min(seconds, MAX_HOLD)


__all__ = ["KakaoEventNotifier", "event_notifier"]
