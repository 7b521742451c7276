"""`certmate run` with KakaoTalk on, as a process: the skill answers, the secure page
registers, and a due reminder goes out through the (fake) Event API."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from tests import factory, page_client
from tests.bot.processes import healthy, start_run, stop
from tests.conftest import Holder, free_port
from tests.fakes.kakao_events import API_KEY, FakeKakaoEventApi
from tests.fakes.kakao_skill import BOT_ID, SECRET, SKILL_PATH, page_links, skill_payload, texts

USER = "kakao-run-user"


def _env(port: int, events: FakeKakaoEventApi) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMATE_")}
    return env | {
        "CERTMATE_HTTP__PORT": str(port),
        "CERTMATE_KAKAO__ENABLED": "true",
        "CERTMATE_KAKAO__SECRET": SECRET,
        "CERTMATE_KAKAO__BOT_IDS": BOT_ID,
        "CERTMATE_KAKAO__EVENT_API_KEY": API_KEY,
        "CERTMATE_KAKAO__EVENT_BOT_ID": events.bot_id or "",
        "CERTMATE_KAKAO__EVENT_API_URL": events.url,
        "CERTMATE_REMINDERS__QUIET_START": "00:00",
        "CERTMATE_REMINDERS__QUIET_END": "00:00",
    }


async def _start(folder: Path, env: dict[str, str], port: int) -> asyncio.subprocess.Process:
    process = await start_run(folder, env)
    await healthy(port, process)
    return process


async def _skill(http: aiohttp.ClientSession, port: int, **payload: Any) -> dict[str, Any]:
    async with http.post(
        f"http://127.0.0.1:{port}{SKILL_PATH}",
        json=skill_payload(USER, **payload),
        headers={"X-Certmate-Secret": SECRET},
    ) as response:
        assert response.status == 200
        return dict(await response.json())


async def test_run_serves_kakao_and_reminds_through_the_event_api(
    tmp_path: Path, ca: factory.Authority, holder: Holder
) -> None:
    """A Kakao user registers (skill -> secure page) a certificate expiring in 20 days;
    the next `certmate run` sweeps at start and the reminder goes to the Event API for
    that user's botUserKey; both runs stop cleanly on SIGTERM, with nothing secret logged."""
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=20)
    cert = factory.cert_der(
        factory.make_cert(
            ca, holder.key, not_before=expires - timedelta(days=365), not_after=expires
        )
    )
    key = factory.seed_cbc_sha1_key(holder.plain, factory.PASSWORD)
    port = free_port()
    async with FakeKakaoEventApi() as events:
        env = _env(port, events)
        first = await _start(tmp_path, env, port)
        try:
            async with aiohttp.ClientSession() as http:
                menu = await _skill(http, port, utterance="메뉴")
                add = next(
                    q for q in menu["template"]["quickReplies"] if q["label"] == "인증서 등록"
                )
                answer = await _skill(http, port, utterance="인증서 등록", extra=add["extra"])
                (url,) = page_links(answer)
                files = {"signCert.der": cert, "signPri.key": key}
                status, result = await page_client.submit_form(
                    http, url, page_client.form(files, factory.PASSWORD.decode())
                )
                assert (status, result["done"]) == (200, True), result
                later = await _skill(http, port, utterance="고마워")
                assert "보안 페이지에서 처리한 결과예요" in texts(later)
        finally:
            first_log = await stop(first)
        assert events.requests == []  # registered after the first sweep: nothing due yet
        second = await _start(tmp_path, env, port)
        try:
            for _ in range(300):  # the sweep runs at start; 30 s at most
                if events.requests:
                    break
                await asyncio.sleep(0.1)
        finally:
            second_log = await stop(second)
    (request,) = events.requests
    assert request["json"]["user"] == [{"type": "botUserKey", "id": USER}]
    assert "D-20" in request["json"]["event"]["data"]["text"]
    assert request["authorization"] == f"KakaoAK {API_KEY}"
    for log in (first_log, second_log):
        assert "KakaoTalk skill on /kakao/skill" in log
        assert API_KEY not in log
        assert SECRET not in log
        assert factory.PASSWORD.decode() not in log
