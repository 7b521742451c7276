"""Benchmark: Kakao skill requests under 64 concurrent clients, `certmate run` vs a bare endpoint.

Ours: `certmate run` as a process (SQLite in a fresh folder, KakaoTalk on,
nothing else), called like Kakao's chatbot server calls a skill: a POST of a
skill payload with the secret header, answered with the SkillResponse. Each
client is one user repeating a mix of what users do: the menu ("메뉴"), a
button of it ("알림 설정", a flow step that saves state), a choice in that
flow (a settings change), the certificate list ("/certs"), and "취소". A
button press sends the token of the previous answer back as clientExtra,
exactly as KakaoTalk does, so every request is a real step of a conversation.
The per-user message limit (20 a minute, on purpose) is raised so the
benchmark measures the work, not the limit.

Baseline, in the same run with the same client and payloads: a bare aiohttp
server (also its own process) that parses the JSON, reads the user id and
utterance, and returns a fixed SkillResponse of the same shape (text and 8
quickReplies).

Each side first serves a warm-up round unmeasured. Prints requests/s, p50 and
p99 latency for both, and the ratio ours/bare; the goal is a ratio of at
least 0.5 and p99 under 50 ms.

    python bench/kakao_skill.py [--requests 6000] [--clients 64] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
SECRET = "bench-secret-0123456789"  # noqa: S105  (a benchmark value)
HEADERS = {"X-Certmate-Secret": SECRET}
PATH = "/kakao/skill"
STEPS = ("메뉴", "알림 설정", "choose", "/certs", "취소")
FIXED = {
    "version": "2.0",
    "template": {
        "outputs": [{"simpleText": {"text": "무엇을 도와드릴까요?"}}],
        "quickReplies": [
            {"label": f"메뉴 {n}", "action": "message", "messageText": f"메뉴 {n}",
             "extra": {"certmate": "A" * 22}}
            for n in range(8)
        ],
    },
}  # fmt: skip


def payload(user: str, utterance: str, extra: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "intent": {"id": "fallback", "name": "폴백 블록"},
        "userRequest": {
            "timezone": "Asia/Seoul",
            "params": {"ignoreMe": "true"},
            "block": {"id": "fallback", "name": "폴백 블록"},
            "utterance": utterance,
            "lang": "ko",
            "user": {
                "id": user,
                "type": "botUserKey",
                "properties": {"botUserKey": user, "plusfriendUserKey": f"pf-{user}"},
            },
        },
        "bot": {"id": "bench-bot", "name": "certmate"},
        "action": {
            "name": "certmate",
            "clientExtra": extra,
            "params": {},
            "id": "skill",
            "detailParams": {},
        },
        "contexts": [],
    }


@dataclass
class Result:
    requests: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(int(len(ordered) * share), len(ordered) - 1)] * 1000


async def client(
    http: aiohttp.ClientSession, url: str, user: str, count: int, latencies: list[float]
) -> None:
    """One user's conversation, step after step, `count` requests."""
    last: dict[str, Any] = {}
    for n in range(count):
        step = STEPS[n % len(STEPS)]
        extra = None
        utterance = step
        quick = last.get("template", {}).get("quickReplies", [])
        if step == "알림 설정":
            extra = next((q["extra"] for q in quick if q["label"] == step), None)
        elif step == "choose" and quick:
            extra, utterance = quick[0]["extra"], quick[0]["messageText"]
        started = time.perf_counter()
        async with http.post(url, json=payload(user, utterance, extra), headers=HEADERS) as reply:
            if reply.status != 200:
                raise RuntimeError(f"HTTP {reply.status} for {utterance!r}")
            last = await reply.json()
        latencies.append(time.perf_counter() - started)


async def load(url: str, clients: int, requests: int, tag: str) -> Result:
    per_client = max(requests // clients, 1)
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.perf_counter()
        await asyncio.gather(
            *(client(http, url, f"{tag}-{n}", per_client, latencies) for n in range(clients))
        )
        seconds = time.perf_counter() - started
    return Result(len(latencies), seconds, latencies)


@asynccontextmanager
async def process(
    command: list[str], env: dict[str, str], port: int
) -> AsyncIterator[asyncio.subprocess.Process]:
    folder = tempfile.mkdtemp(prefix="certmate-bench-")
    proc = await asyncio.create_subprocess_exec(
        *command, cwd=folder, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await healthy(port, proc)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.communicate(), 20)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def healthy(port: int, proc: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError("the server exited")
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as reply:
                    if reply.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not come up")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def measure(requests: int, clients: int) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMATE_")}
    env["PYTHONPATH"] = str(ROOT)
    ours_port, bare_port = free_port(), free_port()
    ours_env = env | {
        "CERTMATE_HTTP__PORT": str(ours_port),
        "CERTMATE_KAKAO__ENABLED": "true",
        "CERTMATE_KAKAO__SECRET": SECRET,
        "CERTMATE_LIMITS__MESSAGES_PER_MINUTE": "1000000",
    }
    warm = max(clients * len(STEPS), 200)
    results: dict[str, Result] = {}
    async with process([sys.executable, "-m", "bot", "run"], ours_env, ours_port):
        url = f"http://127.0.0.1:{ours_port}{PATH}"
        await load(url, clients, warm, "warm")
        results["certmate"] = await load(url, clients, requests, "user")
    bare = [sys.executable, str(HERE), "--bare-server", str(bare_port)]
    async with process(bare, env, bare_port):
        url = f"http://127.0.0.1:{bare_port}{PATH}"
        await load(url, clients, warm, "warm")
        results["bare"] = await load(url, clients, requests, "user")
    ours, base = results["certmate"], results["bare"]
    return {
        "requests": ours.requests,
        "clients": clients,
        "certmate_per_s": round(ours.per_second, 1),
        "certmate_p50_ms": round(ours.percentile(0.50), 1),
        "certmate_p99_ms": round(ours.percentile(0.99), 1),
        "bare_per_s": round(base.per_second, 1),
        "bare_p50_ms": round(base.percentile(0.50), 1),
        "bare_p99_ms": round(base.percentile(0.99), 1),
        "ratio": round(ours.per_second / base.per_second, 3),
        "mean_ms": round(statistics.fmean(ours.latencies) * 1000, 1),
    }


def bare_server(port: int) -> None:
    """The baseline: parse the payload, read who and what, answer a fixed SkillResponse."""
    body = json.dumps(FIXED, ensure_ascii=False).encode()

    async def skill(request: web.Request) -> web.Response:
        data = json.loads(await request.read())
        user = data["userRequest"]["user"]["id"]
        utterance = data["userRequest"]["utterance"]
        if not isinstance(user, str) or not isinstance(utterance, str):
            return web.Response(status=400)
        return web.Response(body=body, content_type="application/json")

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post(PATH, skill)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        bare_server(args.bare_server)
        return
    figures = asyncio.run(measure(args.requests, args.clients))
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"{figures['requests']} skill requests, {figures['clients']} clients\n"
        f"  certmate run : {figures['certmate_per_s']:8.1f} req/s"
        f"  p50 {figures['certmate_p50_ms']:6.1f} ms  p99 {figures['certmate_p99_ms']:6.1f} ms\n"
        f"  bare aiohttp : {figures['bare_per_s']:8.1f} req/s"
        f"  p50 {figures['bare_p50_ms']:6.1f} ms  p99 {figures['bare_p99_ms']:6.1f} ms\n"
        f"  ratio certmate/bare: {figures['ratio']:.3f} (goal >= 0.5, p99 < 50 ms)"
    )


if __name__ == "__main__":
    main()
