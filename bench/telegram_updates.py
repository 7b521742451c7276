"""Benchmark: Telegram webhook updates handled per second, end to end, vs a bare PTB echo bot.

Ours: a fake Telegram Bot API (tests/fakes/telegram.py, no flood limits) on
127.0.0.1, a fresh SQLite file migrated to head, the real TelegramChannel in
webhook mode on bot.web's Server, the real assistant and inbox. N text
updates ("/help": one reply with the main menu's buttons) from M simulated
users are POSTed to the webhook with the secret header: each user's updates
in order (the next once the previous one got its 200, as Telegram does),
the users concurrently. The clock runs from the first POST until every
update is handled (marked in the inbox) and its reply has reached the fake
API. Two settings are raised so that the benchmark measures our code, not
limits that exist on purpose: the assistant's per-user limit
(AssistantSettings.messages_per_minute, 20 by default) and our send pacing
(TelegramSettings messages_per_second / chat_messages_per_second, 30 and 1
by default).

Baseline, in the same run and with the same client, fake API, N and M: a
minimal python-telegram-bot echo bot (Application without updater,
concurrent_updates=64, a MessageHandler answering reply_text(text)) fed by a
bare aiohttp endpoint that puts each update on the application's queue and
answers 200. Everything runs in one process and one event loop, so the
client and the fake API take their share of the CPU in both runs (a few
per cent). Each side first handles a few updates unmeasured (imports,
statement caches), then the measured run starts on a fresh database and fake.

Prints both rates, per-update latency (POST start to reply at the fake API)
and the ratio ours/echo; the goal is a ratio of at least 0.5.

    python bench/telegram_updates.py [--updates 2000] [--users 50] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("PTB_TIMEDELTA", "true")

import aiohttp
from aiohttp import web
from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bench.services import services_over
from bot.app import build_assistant
from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH, TelegramChannel, build_application
from bot.config import TelegramSettings
from bot.web import Server, build_app
from handlers.services import AssistantSettings, Services
from storage import migrate
from storage.database import Database
from tests.fakes.telegram import TOKEN, FakeBotApi

TEXT = "/help"
FIRST_USER = 700_000
UNPACED = 10_000
"""Sends per second, overall and per chat, given to our rate limiter: far above what
the run reaches, so Telegram's real limits (30/s, 1/s a chat) do not cap throughput."""
MESSAGES_PER_MINUTE = 1_000_000
"""The assistant's per-user limit for the run (20 a minute by default)."""
HOOK_URL = "https://certmate.example/telegram/webhook"
TIMEOUT = 600.0
WARM_UP = 20


@dataclass(frozen=True, slots=True)
class Run:
    """One side's figures: the run's length, and each update's latency (POST start to reply)."""

    seconds: float
    latencies: list[float]

    def per_second(self, updates: int) -> float:
        return updates / self.seconds

    def percentile_ms(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def make_updates(api: FakeBotApi, updates: int, users: int) -> list[list[bytes]]:
    """The updates of each user (dealt round robin), as the JSON bodies Telegram posts."""
    per_user: list[list[bytes]] = [[] for _ in range(users)]
    for n in range(updates):
        body = api.text_update(FIRST_USER + n % users, TEXT)
        per_user[n % users].append(json.dumps(body, ensure_ascii=False).encode())
    return per_user


async def post_all(url: str, secret: str, per_user: list[list[bytes]]) -> list[list[float]]:
    """POST every update, users concurrently and each user's in order (the next once the
    previous one was answered, as Telegram does); the start time of each POST."""
    headers = {SECRET_HEADER: secret, "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=len(per_user))
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one_user(bodies: list[bytes]) -> list[float]:
            starts = []
            for body in bodies:
                starts.append(time.monotonic())
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"the webhook answered {response.status}")
            return starts

        return list(await asyncio.gather(*(one_user(bodies) for bodies in per_user)))


async def until_answered(api: FakeBotApi, expected: int, idle: Callable[[], bool]) -> float:
    """Wait until `expected` sendMessage calls were accepted and `idle()`; when that was."""
    deadline = time.monotonic() + TIMEOUT
    seen, index = 0, 0
    while True:
        calls = api.calls
        seen += sum(
            1 for call in calls[index:] if call.method == "sendMessage" and call.status == 200
        )
        index = len(calls)
        if seen >= expected and idle():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{seen} of {expected} replies after {TIMEOUT} s")
        await asyncio.sleep(0.005)


def measure(
    api: FakeBotApi, updates: int, starts: list[list[float]], started: float, ended: float
) -> Run:
    """The run's figures; each user's k-th POST is paired with the k-th reply in their chat."""
    replies: dict[int, list[float]] = {}
    for call in api.calls_of("sendMessage"):
        if call.status == 200:
            replies.setdefault(int(call.params["chat_id"]), []).append(call.at)
    answered = sum(len(ats) for ats in replies.values())
    if answered != updates:
        raise RuntimeError(f"{answered} replies to {updates} updates: expected one each")
    found: list[float] = []
    for user, posted in enumerate(starts):
        found.extend(
            at - start for start, at in zip(posted, replies[FIRST_USER + user], strict=True)
        )
    return Run(ended - started, found)


@asynccontextmanager
async def sqlite_services(folder: Path) -> AsyncIterator[Services]:
    """A fresh SQLite file migrated to head, and the services over it (a real clock)."""
    database = Database.connect(f"sqlite+aiosqlite:///{folder / 'certmate.db'}")
    try:
        await migrate.upgrade(database)
        yield services_over(
            database,
            lambda: datetime.now(UTC),
            AssistantSettings(messages_per_minute=MESSAGES_PER_MINUTE),
        )
    finally:
        await database.close()


async def run_certmate(updates: int, users: int) -> Run:
    """Ours: webhook -> inbox (SQLite) -> assistant -> reply, end to end."""
    with tempfile.TemporaryDirectory() as folder:
        async with FakeBotApi() as api, sqlite_services(Path(folder)) as services:
            settings = TelegramSettings(
                token=TOKEN,
                mode="webhook",
                base_url=api.base_url,
                base_file_url=api.base_file_url,
                webhook_url=HOOK_URL,
                messages_per_second=UNPACED,
                chat_messages_per_second=UNPACED,
            )
            channel = TelegramChannel(
                build_application(settings),
                build_assistant(services),
                settings,
                upload_limit=64 * 1024,
                webhook_url=HOOK_URL,
                process_name="run:bench",
            )
            app = build_app()
            channel.add_routes(app)
            server = Server(app, "127.0.0.1", 0)
            await server.start()
            await channel.start()
            try:
                per_user = make_updates(api, updates, users)
                url = f"http://127.0.0.1:{server.port}{WEBHOOK_PATH}"
                started = time.monotonic()
                starts = await post_all(url, settings.webhook_secret, per_user)
                ended = await until_answered(api, updates, lambda: channel.inbox.busy == 0)
            finally:
                await channel.stop(grace=30)
                await server.stop()
            return measure(api, updates, starts, started, ended)


async def run_echo(updates: int, users: int) -> Run:
    """The baseline: a bare PTB echo bot behind a bare aiohttp webhook."""
    async with FakeBotApi() as api:
        application = (
            Application.builder()
            .token(TOKEN)
            .base_url(api.base_url)
            .base_file_url(api.base_file_url)
            .updater(None)
            .concurrent_updates(64)
            .build()
        )

        async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
            if update.message is not None and update.message.text is not None:
                await update.message.reply_text(update.message.text)

        application.add_handler(MessageHandler(filters.TEXT, echo))

        async def webhook(request: web.Request) -> web.Response:
            update = Update.de_json(await request.json(), application.bot)
            await application.update_queue.put(update)
            return web.Response()

        app = web.Application()
        app.router.add_post("/webhook", webhook)
        server = Server(app, "127.0.0.1", 0)
        await server.start()
        await application.initialize()
        await application.start()
        try:
            per_user = make_updates(api, updates, users)
            url = f"http://127.0.0.1:{server.port}/webhook"
            started = time.monotonic()
            starts = await post_all(url, "not-checked", per_user)
            ended = await until_answered(api, updates, application.update_queue.empty)
        finally:
            await application.stop()
            await application.shutdown()
            await server.stop()
        return measure(api, updates, starts, started, ended)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Both sides, each after a short warm-up (imports, statement caches)."""
    await run_certmate(WARM_UP, 5)
    await run_echo(WARM_UP, 5)
    ours = await run_certmate(args.updates, args.users)
    echo = await run_echo(args.updates, args.users)
    n = args.updates
    return {
        "updates": n,
        "users": args.users,
        "certmate_per_s": round(ours.per_second(n), 1),
        "echo_per_s": round(echo.per_second(n), 1),
        "ratio": round(ours.per_second(n) / echo.per_second(n), 3),
        "latency_ms": {
            name: {"p50": round(r.percentile_ms(0.5), 1), "p99": round(r.percentile_ms(0.99), 1)}
            for name, r in (("certmate", ours), ("echo", echo))
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    latency = results.pop("latency_ms")
    if args.json:
        print(json.dumps(results))
        return
    print(
        f"{results['updates']} webhook updates ({TEXT!r}) from {results['users']} users; "
        "SQLite file; fake Bot API on 127.0.0.1 without flood limits"
    )
    print(
        f"  raised for the run: our send pacing to {UNPACED}/s overall and per chat "
        f"(Telegram's limits: 30/s, 1/s a chat), the assistant's limit to "
        f"{MESSAGES_PER_MINUTE} messages a minute a user (default 20)"
    )
    for label, name in (("certmate", "certmate"), ("PTB echo", "echo")):
        print(
            f"  {label:8}: {results[f'{name}_per_s']:7.1f} updates/s | latency under load: "
            f"p50 {latency[name]['p50']:7.1f} ms, p99 {latency[name]['p99']:7.1f} ms"
        )
    print(f"  ratio ours/echo: {results['ratio']:.2f} (goal: at least 0.5)")


if __name__ == "__main__":
    main()
