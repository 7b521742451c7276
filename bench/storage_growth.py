"""Benchmark: what a chat request leaves in the database, per table, on SQLite and PostgreSQL.

Many users talk to the real app over real HTTP on 127.0.0.1, on a fresh
database migrated to head: KakaoTalk skill requests posted to the KakaoChannel
(as bench/kakao_skill.py does, the same mix: the menu, its "알림 설정" button,
a choice in that flow, the certificate list, 취소), and Telegram updates
posted to the webhook, through the inbox, with the same mix (/menu, two button
presses, /certs, /cancel) and replies to a fake Bot API (tests/fakes/telegram.py).
Almost every answer carries buttons (the menu has eight), so without the cap
`[limits] buttons_per_user` the button tokens would pile up with every request.

For each engine and channel, the database is measured (bench/table_sizes.py):
empty; after each user's first visit (one round of the mix); once every user
holds the cap of buttons; after two equal phases of returning users (the first
fills the space the pruning frees, the second is the steady state reported:
its growth divided by its requests); and after housekeeping run a week later
(what `certmate run` does hourly: handled updates and expired buttons are
forgotten). Prints, per table, the cost of a user (first visit, and at the cap)
and of a returning user's request, in rows and bytes.

    python bench/storage_growth.py [--users 100] [--rounds 10] [--buttons-per-user 200]
                                   [--engines sqlite,postgresql] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("PTB_TIMEDELTA", "true")

import aiohttp
import sqlalchemy as sa

from bench import kakao_skill, telegram_updates
from bench.services import services_over
from bench.storage import POSTGRES, postgres_database, sqlite_database
from bench.table_sizes import TABLES, Snapshot, snapshot
from bot.app import build_assistant
from bot.channels.kakao import KakaoChannel
from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH, TelegramChannel, build_application
from bot.config import KakaoSettings, TelegramSettings
from bot.housekeeping import UPDATE_MEMORY, tidy
from bot.web import Server, build_app
from handlers.services import AssistantSettings, Services, UserCaps
from storage import migrate
from storage.database import Database
from storage.models import ButtonToken
from tests.fakes.telegram import TOKEN, FakeBotApi

STEPS = len(kakao_skill.STEPS)
TELEGRAM_STEPS = ("/menu", "알림 설정", "choose", "/certs", "/cancel")
FIRST_TELEGRAM_USER = 800_000
MAX_WARM_ROUNDS = 200


class Load(Protocol):
    """One channel of the app, taking rounds of the request mix from many users."""

    async def rounds(self, users: int, count: int) -> None: ...


class KakaoLoad:
    """Skill requests posted to the KakaoChannel on a real aiohttp server."""

    def __init__(self, url: str, http: aiohttp.ClientSession) -> None:
        self.url, self.http = url, http

    async def rounds(self, users: int, count: int) -> None:
        latencies: list[float] = []
        await asyncio.gather(
            *(
                kakao_skill.client(self.http, self.url, f"user-{n}", count * STEPS, latencies)
                for n in range(users)
            )
        )


class TelegramLoad:
    """Updates posted to the webhook, every user's next step together, each step once the
    previous one was handled (the presses need the keyboard it answered with)."""

    def __init__(self, url: str, http: aiohttp.ClientSession, api: FakeBotApi, channel: Any):
        self.url, self.http, self.api, self.channel = url, http, api, channel

    async def rounds(self, users: int, count: int) -> None:
        for _ in range(count):
            for step in TELEGRAM_STEPS:
                ids = range(FIRST_TELEGRAM_USER, FIRST_TELEGRAM_USER + users)
                await asyncio.gather(*(self._post(self._update(user, step)) for user in ids))
                await self.api.wait_for(lambda: self.channel.inbox.busy == 0, timeout=300)

    def _update(self, user: int, step: str) -> dict[str, Any]:
        keyboard = self._keyboard(user)
        if step == "choose" and keyboard:
            return self.api.callback_update(user, next(iter(keyboard.values())))
        if step in keyboard:
            return self.api.callback_update(user, keyboard[step])
        return self.api.text_update(user, step)

    def _keyboard(self, user: int) -> dict[str, str]:
        """Label -> callback data of the last keyboard the user was sent."""
        for message in reversed(self.api.sent_messages(user)):
            rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
            if rows:
                return {b["text"]: b["callback_data"] for row in rows for b in row}
        return {}

    async def _post(self, update: dict[str, Any]) -> None:
        headers = {SECRET_HEADER: self.channel.settings.webhook_secret}
        async with self.http.post(self.url, json=update, headers=headers) as response:
            if response.status != 200:
                raise RuntimeError(f"the webhook answered {response.status}")


@asynccontextmanager
async def kakao(services: Services) -> AsyncIterator[Load]:
    settings = KakaoSettings(enabled=True, secret=kakao_skill.SECRET)
    async with aiohttp.ClientSession() as http, served() as (app, start):
        channel = KakaoChannel(build_assistant(services), settings, http)
        channel.add_routes(app)
        port = await start()
        try:
            yield KakaoLoad(f"http://127.0.0.1:{port}{settings.path}", http)
        finally:
            await channel.stop(5)


@asynccontextmanager
async def telegram(services: Services) -> AsyncIterator[Load]:
    async with FakeBotApi() as api, aiohttp.ClientSession() as http, served() as (app, start):
        settings = TelegramSettings(
            token=TOKEN,
            mode="webhook",
            base_url=api.base_url,
            base_file_url=api.base_file_url,
            webhook_url=telegram_updates.HOOK_URL,
            messages_per_second=telegram_updates.UNPACED,
            chat_messages_per_second=telegram_updates.UNPACED,
        )
        channel = TelegramChannel(
            build_application(settings),
            build_assistant(services),
            settings,
            upload_limit=64 * 1024,
            webhook_url=telegram_updates.HOOK_URL,
            process_name="run:bench",
        )
        channel.add_routes(app)
        port = await start()
        await channel.start()
        try:
            yield TelegramLoad(f"http://127.0.0.1:{port}{WEBHOOK_PATH}", http, api, channel)
        finally:
            await channel.stop(grace=30)


@asynccontextmanager
async def served() -> AsyncIterator[tuple[Any, Callable[[], Any]]]:
    """An aiohttp app for the channel's routes, and how to start serving it (its port)."""
    app = build_app()
    server = Server(app, "127.0.0.1", 0)

    async def start() -> int:
        await server.start()
        return server.port

    try:
        yield app, start
    finally:
        await server.stop()


async def button_rows(database: Database) -> int:
    async with database.read() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(ButtonToken)) or 0)


def per(after: Snapshot, before: Snapshot, count: int) -> dict[str, dict[str, float]]:
    """Growth from `before` to `after` divided by `count`, by table (those that moved) and
    for the whole file."""
    figures = {}
    for name in TABLES:
        rows = after.tables[name].rows - before.tables[name].rows
        size = after.tables[name].bytes - before.tables[name].bytes
        if rows or size:
            figures[name] = {"rows": round(rows / count, 3), "bytes": round(size / count, 1)}
    figures["file"] = {
        "rows": round(sum(v["rows"] for v in figures.values()), 3),
        "bytes": round((after.file_bytes - before.file_bytes) / count, 1),
    }
    return figures


async def grow(database: Database, load: Load, users: int, rounds: int, cap: int) -> dict[str, Any]:
    """The phases: first visit, warm up to the cap, two returning phases, a week later."""
    empty = await snapshot(database)
    await load.rounds(users, 1)
    first = await snapshot(database)
    warm = 1
    while await button_rows(database) < users * cap:
        if warm >= MAX_WARM_ROUNDS:
            raise RuntimeError(f"the cap of {cap} buttons was not reached")
        await load.rounds(users, 1)
        warm += 1
    at_cap = await snapshot(database)
    await load.rounds(users, rounds)
    filling = await snapshot(database)
    await load.rounds(users, rounds)
    steady = await snapshot(database)
    await tidy(database, datetime.now(UTC) + UPDATE_MEMORY + timedelta(hours=1))
    week_later = await snapshot(database)
    returning = users * rounds * STEPS
    return {
        "requests_to_cap": warm * STEPS,
        "first_visit": per(first, empty, users),
        "at_cap": per(at_cap, empty, users),
        "filling_per_request": per(filling, at_cap, returning),
        "per_request": per(steady, filling, returning),
        "week_later": per(week_later, empty, users),
        "file_bytes": {"at_cap": at_cap.file_bytes, "steady": steady.file_bytes,
                       "steady_free": steady.free_bytes},
    }  # fmt: skip


async def measure_engine(
    engine: str, channels: Sequence[str], args: argparse.Namespace
) -> dict[str, Any]:
    loads = {"kakao": kakao, "telegram": telegram}
    databases = {"sqlite": sqlite_database, "postgresql": postgres_database}
    settings = AssistantSettings(
        messages_per_minute=telegram_updates.MESSAGES_PER_MINUTE,
        caps=UserCaps(buttons=args.buttons_per_user),
    )
    results: dict[str, Any] = {}
    for name in channels:
        async with AsyncExitStack() as stack:
            database = await stack.enter_async_context(databases[engine]())
            if database is None:
                return {"skipped": f"no server at {sa.make_url(POSTGRES)}"}
            await migrate.upgrade(database)
            services = services_over(database, lambda: datetime.now(UTC), settings)
            load = await stack.enter_async_context(loads[name](services))
            results[name] = await grow(
                database, load, args.users, args.rounds, args.buttons_per_user
            )
    return results


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "users": args.users,
        "returning_requests": 2 * args.users * args.rounds * STEPS,
        "buttons_per_user": args.buttons_per_user,
    }
    channels = args.channels.split(",")
    for engine in args.engines.split(","):
        results[engine] = await measure_engine(engine, channels, args)
    return results


def cell(figure: dict[str, float] | None, *, size: bool = True) -> str:
    rows, found = (figure["rows"], figure["bytes"]) if figure else (0.0, 0.0)
    return f"{rows:8.2f} {found:9,.0f} B" if size else f"{rows:8.2f}"


COLUMNS = (
    ("first_visit", "first visit, a user"),
    ("at_cap", "at the cap, a user"),
    ("per_request", "returning request"),
    ("week_later", "a week later: rows"),
)


def report(results: dict[str, Any], engines: Sequence[str]) -> None:
    print(
        f"{results['users']} users, {results['buttons_per_user']} buttons each at most; "
        f"rows and bytes per user (first visit: one round of {STEPS} requests) or per "
        f"returning request ({results['returning_requests']:,} requests in two phases)"
    )
    for engine in engines:
        for channel, figures in results[engine].items():
            if channel == "skipped":
                print(f"\n{engine}: skipped ({figures})")
                continue
            print(
                f"\n{engine}, {channel}: the cap reached after "
                f"{figures['requests_to_cap']} requests a user"
            )
            print(f"  {'table':20}" + "".join(f"{title:>24}" for _, title in COLUMNS))
            names = [n for n in (*TABLES, "file") if any(n in figures[k] for k, _ in COLUMNS)]
            for name in names:
                cells = [
                    cell(figures[key].get(name), size=key != "week_later") for key, _ in COLUMNS
                ]
                label = name if name != "file" else "the whole file"
                print(f"  {label:20}" + "".join(f"{text:>24}" for text in cells))
            filling = figures["filling_per_request"]["file"]["bytes"]
            print(
                f"  the file grew {filling:,.1f} B a request in the first returning phase, "
                f"{figures['per_request']['file']['bytes']:,.1f} B in the second; "
                f"{figures['file_bytes']['steady']:,} B in all"
            )
    print(
        "\nA week later, housekeeping has forgotten handled updates and expired buttons; the "
        "space stays in the file (SQLite free pages, PostgreSQL free space in the tables) and "
        "is used again before the file grows."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10, help="rounds of each returning phase")
    parser.add_argument("--buttons-per-user", type=int, default=200)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--channels", default="kakao,telegram")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    if args.json:
        print(json.dumps(results))
        return
    report(results, args.engines.split(","))


if __name__ == "__main__":
    main()
