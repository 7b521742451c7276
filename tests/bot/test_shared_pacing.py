"""Telegram's limits are per bot: processes sharing one PostgreSQL keep one pace.

Three "processes" here are three engines (their own connection pools) with
their own PTB application each, sending through the real client to the local
fake Bot API, which refuses a send past 30/s overall or 1/s per chat with 429.
"""

from __future__ import annotations

import asyncio

from bot.channels.pacer import LocalPacer, Pacer
from bot.channels.telegram import build_application
from bot.config import TelegramSettings
from bot.pacing import DatabasePacer
from storage import migrate
from storage.database import Database
from tests.conftest import PostgresDatabases
from tests.fakes.telegram import TOKEN, FakeBotApi

PROCESSES = 3
PER_PROCESS = 50
RATE = 25
"""The bot's configured rate: under the fake's 30/s, so the test measures the shared
schedule, not how late a loaded test machine wakes a sender (one event loop runs all
three "processes" here; each real process has its own)."""


async def _send_from_processes(api: FakeBotApi, pacers: list[Pacer]) -> list[float]:
    """Each pacer's process sends PER_PROCESS messages (each to a chat of its own) at
    once; when each accepted one arrived. Several messages to one chat while the
    overall queue is long are a known gap: see the README, "Sending"."""
    settings = TelegramSettings(
        token=TOKEN,
        base_url=api.base_url,
        base_file_url=api.base_file_url,
        messages_per_second=RATE,
    )
    applications = [build_application(settings, pacer) for pacer in pacers]

    async def process(number: int) -> None:
        async with applications[number] as application:
            chats = [1_000 * (number + 1) + i for i in range(PER_PROCESS)]
            sends = (application.bot.send_message(c, "hi") for c in chats)
            await asyncio.gather(*sends, return_exceptions=True)

    await asyncio.gather(*(process(n) for n in range(len(pacers))))
    return [c.at for c in api.calls_of("sendMessage") if c.status == 200]


async def test_three_processes_keep_telegrams_limits_together(
    postgres_databases: PostgresDatabases,
) -> None:
    """150 messages from three processes at once: 0 answered 429, and the bot's rate at
    most 5% over its configured rate and at least 80% of it (each process pacing alone
    sends at that rate, so three used to send three times as fast and draw 429s)."""
    url = await postgres_databases.create()
    databases = [
        Database.connect(url.render_as_string(hide_password=False)) for _ in range(PROCESSES)
    ]
    try:
        await migrate.upgrade(databases[0])
        async with FakeBotApi(overall_per_second=30, per_chat_per_second=1) as api:
            accepted = await _send_from_processes(
                api, [DatabasePacer(database) for database in databases]
            )
            refused = [
                c.params.get("chat_id") for c in api.calls_of("sendMessage") if c.status == 429
            ]
            assert refused == []
            assert len(accepted) == PROCESSES * PER_PROCESS
            rate = (len(accepted) - 1) / (accepted[-1] - accepted[0])
            # Never faster than the limit (+5%); slower only by what a loaded 2-core
            # machine delays a slot (21.4/s of 25 seen in a full run): a pacer that
            # serialised the processes (each at a third) still fails.
            assert RATE * 0.8 <= rate <= RATE * 1.05, rate
    finally:
        for database in databases:
            await database.close()
        await postgres_databases.drop(url)


async def test_processes_pacing_alone_draw_429s() -> None:
    """The attack the shared pacer answers: three processes each pacing in memory."""
    async with FakeBotApi(overall_per_second=30, per_chat_per_second=1) as api:
        await _send_from_processes(api, [LocalPacer() for _ in range(PROCESSES)])
        assert api.responses_429 > 0
