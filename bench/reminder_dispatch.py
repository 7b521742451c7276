"""Benchmark: the reminder sweep's send rate against Telegram's flood limits, paced vs unpaced.

Seeds R Telegram users (default 600) with one certificate each, expiring
30 days after `NOW` (10:00 in Seoul, outside the quiet hours), in a fresh
SQLite file. The real Sweeper then plans and dispatches the D-30 reminders
through TelegramNotifier on a bot made by build_application (our rate
limiter, configured to Telegram's 30 messages a second) against the fake Bot
API enforcing Telegram's limits (30/s overall, 1/s a chat, answering 429
beyond them). Measured: the sustained rate of accepted sendMessage calls,
from the first to the last as the fake received them, against the
configured 30/s (the goal: within 5%), and the 429 answers (the goal: none).

Baseline, in the same run: the very same messages (chat, text, buttons)
sent once each, one after the other, through a plain telegram.Bot, which
has no rate limiter (PTB's default), to a fresh fake with the same limits:
how many Telegram refuses with 429, and the rate at which it delivers.

    python bench/reminder_dispatch.py [--reminders 600] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("PTB_TIMEDELTA", "true")

import sqlalchemy as sa
import telegram
from telegram import InlineKeyboardMarkup
from telegram.error import RetryAfter

from bench.services import services_over
from bot.app import notifiers
from bot.channels.telegram import TelegramNotifier, build_application
from bot.channels.telegram_limits import TelegramRateLimiter
from bot.config import TelegramSettings
from bot.reminders.sweep import Sweeper
from handlers.services import Services
from storage import migrate
from storage.database import Database
from storage.models import Certificate, Channel, User
from tests.fakes.telegram import TOKEN, Call, FakeBotApi

NOW = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)  # 10:00 in Seoul: not quiet hours
EXPIRY = datetime(2026, 7, 1, 14, 59, 59, tzinfo=UTC)  # 2026-07-01 in Seoul: D-30 at NOW
REGISTERED = NOW - timedelta(days=60)
PER_SECOND = 30
"""Telegram's overall limit: our limiter's setting and what the fake enforces."""
CHAT_PER_SECOND = 1
FIRST_CHAT = 500_000
BATCH = 5_000
JsonDict = dict[str, Any]


async def seed(db: Database, reminders: int) -> None:
    """`reminders` Telegram users (user_key: their chat id), one certificate each, due at NOW."""
    for first in range(1, reminders + 1, BATCH):
        ids = range(first, min(first + BATCH, reminders + 1))
        async with db.write() as session:
            await session.execute(
                sa.insert(User),
                [{"id": i, "channel": Channel.TELEGRAM, "user_key": str(FIRST_CHAT + i),
                  "locale": "ko", "timezone": "Asia/Seoul", "reminders_enabled": True,
                  "reachable": True, "created_at": REGISTERED, "updated_at": REGISTERED}
                 for i in ids],
            )  # fmt: skip
            await session.execute(
                sa.insert(Certificate),
                [{"id": i, "owner_id": i, "fingerprint": f"{i:064x}", "subject": f"cn=u{i}",
                  "holder": f"홍길동{i}", "ca": "yessign", "usage": "bank",
                  "holder_type": "personal", "serial": format(i, "x"), "status": "active",
                  "not_before": REGISTERED - timedelta(days=300), "not_after": EXPIRY,
                  "has_private_key": False, "reminders_enabled": True,
                  "next_reminder_at": NOW - timedelta(minutes=5),
                  "created_at": REGISTERED, "updated_at": REGISTERED}
                 for i in ids],
            )  # fmt: skip


@asynccontextmanager
async def seeded(reminders: int) -> AsyncIterator[Services]:
    """A fresh SQLite file, migrated and seeded, and the services over it (clock at NOW)."""
    with tempfile.TemporaryDirectory() as folder:
        db = Database.connect(f"sqlite+aiosqlite:///{Path(folder) / 'certmate.db'}")
        try:
            await migrate.upgrade(db)
            await seed(db, reminders)
            yield services_over(db, lambda: NOW)
        finally:
            await db.close()


def accepted(api: FakeBotApi) -> list[Call]:
    return [call for call in api.calls_of("sendMessage") if call.status == 200]


def sustained_rate(calls: list[Call]) -> float:
    """Sends per second from the first to the last (intervals over their span)."""
    if len(calls) < 2:
        return 0.0
    return (len(calls) - 1) / (calls[-1].at - calls[0].at)


async def run_certmate(reminders: int) -> tuple[dict[str, Any], list[JsonDict]]:
    """Ours: the real sweep through TelegramNotifier and our limiter; its figures, and the
    parameters of every message it sent (the baseline sends the same)."""
    async with (
        seeded(reminders) as services,
        FakeBotApi(overall_per_second=PER_SECOND, per_chat_per_second=CHAT_PER_SECOND) as api,
    ):
        application = build_application(
            TelegramSettings(
                token=TOKEN,
                base_url=api.base_url,
                base_file_url=api.base_file_url,
                messages_per_second=PER_SECOND,
                chat_messages_per_second=CHAT_PER_SECOND,
            )
        )
        async with application:
            sweeper = Sweeper(
                services,
                notifiers(services, {Channel.TELEGRAM: TelegramNotifier(application.bot)}),
                "bench",
            )
            started = time.monotonic()
            deliveries = await sweeper.run(NOW)
            seconds = time.monotonic() - started
            limiter = application.bot.rate_limiter
            waited = limiter.retried_after if isinstance(limiter, TelegramRateLimiter) else 0
        sent = accepted(api)
        if len(deliveries) != reminders or len(sent) != reminders:
            raise RuntimeError(
                f"{len(deliveries)} reminders delivered in {len(sent)} messages; "
                f"expected {reminders} of each"
            )
        figures = {
            "sent": len(sent),
            "per_s": round(sustained_rate(sent), 2),
            "responses_429": api.responses_429,
            "retried_after_429": waited,
            "sweep_s": round(seconds, 2),
        }
        return figures, [call.params for call in sent]


async def run_unpaced(messages: list[JsonDict]) -> dict[str, Any]:
    """The baseline: each message once, in order, through a plain Bot (no rate limiter)."""
    async with (
        FakeBotApi(overall_per_second=PER_SECOND, per_chat_per_second=CHAT_PER_SECOND) as api,
        telegram.Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url) as bot,
    ):
        refused = 0
        started = time.monotonic()
        for params in messages:
            markup = params.get("reply_markup")
            try:
                await bot.send_message(
                    params["chat_id"],
                    params["text"],
                    reply_markup=InlineKeyboardMarkup.de_json(markup, bot) if markup else None,
                )
            except RetryAfter:
                refused += 1
        seconds = time.monotonic() - started
        sent = accepted(api)
        return {
            "sent": len(sent),
            "refused": refused,
            "responses_429": api.responses_429,
            "per_s": round(len(sent) / seconds, 2),
            "seconds": round(seconds, 2),
        }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    ours, messages = await run_certmate(args.reminders)
    baseline = await run_unpaced(messages)
    return {
        "reminders": args.reminders,
        "configured_per_s": PER_SECOND,
        "certmate": ours,
        "unpaced": baseline,
        "rate_vs_configured": round(ours["per_s"] / PER_SECOND, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reminders", type=int, default=600)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    if args.json:
        print(json.dumps(results))
        return
    ours, base = results["certmate"], results["unpaced"]
    print(
        f"{results['reminders']} D-30 reminders to {results['reminders']} Telegram users; fake "
        f"Bot API enforcing {PER_SECOND}/s overall and {CHAT_PER_SECOND}/s a chat (429 beyond)"
    )
    print(f"  configured: {results['configured_per_s']}/s")
    print(
        f"  certmate (Sweeper + our limiter): {ours['per_s']:.2f}/s sustained "
        f"({results['rate_vs_configured']:.1%} of configured; goal: within 5%) | "
        f"{ours['sent']} sent | 429s: {ours['responses_429']} | "
        f"whole sweep {ours['sweep_s']:.1f} s"
    )
    print(
        f"  baseline (plain telegram.Bot, no pacing): {base['sent']} of {results['reminders']} "
        f"delivered ({base['sent'] / results['reminders']:.0%}), {base['refused']} refused | "
        f"429s: {base['responses_429']} | {base['per_s']:.2f}/s delivered over "
        f"{base['seconds']:.2f} s"
    )


if __name__ == "__main__":
    main()
