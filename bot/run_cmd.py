"""`certmate run`: the main job, until Ctrl-C or SIGTERM (graceful).

For now that is the reminder scheduler: one APScheduler job (in memory, no
pickled job store) that runs the sweep every `[reminders] sweep_minutes`,
coalescing missed runs into one, never two at once, with a misfire grace
that lets a late run still happen. The chat channels (Telegram, KakaoTalk)
and the HTTP server join it as they are built.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from datetime import UTC, datetime, timedelta
from typing import Final

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.app import build_services, notifiers, open_database
from bot.config import Settings
from bot.reminders.sweep import Sweeper
from storage import migrate
from storage.keyring import KeyFileError

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
STOP_GRACE: Final = timedelta(seconds=10)

log = logging.getLogger("certmate")


def run_main(_args: argparse.Namespace, settings: Settings) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    for chatty in ("alembic", "apscheduler"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        asyncio.run(_run(settings))
    except KeyFileError as err:
        print(f"certmate run: {err}", file=sys.stderr)  # noqa: T201
        return EXIT_FAILED
    return EXIT_OK


async def _run(settings: Settings) -> None:
    database = open_database(settings)
    try:
        services = build_services(settings, database, lambda: datetime.now(UTC))
        await migrate.upgrade(database)
        sweeper = Sweeper(
            services, notifiers(services), f"run:{socket.gethostname()}:{os.getpid()}"
        )
        running = asyncio.Lock()

        async def sweep() -> None:
            async with running:
                try:
                    sent = await sweeper.run(datetime.now(UTC))
                except Exception:  # a failed sweep is logged; the next one tries again
                    log.exception("reminder sweep failed")
                    return
                log.info("reminder sweep: %d reminder(s) sent", len(sent))

        minutes = settings.reminders.sweep_minutes
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            sweep,
            IntervalTrigger(minutes=minutes, timezone=UTC),
            id="reminder-sweep",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=minutes * 60,
            next_run_time=datetime.now(UTC),
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        scheduler.start()
        log.info("certmate is running: reminder sweep every %d minute(s); Ctrl-C stops", minutes)
        await stop.wait()
        log.info("stopping")
        scheduler.shutdown(wait=False)
        try:  # let a sweep in progress finish what it claimed
            await asyncio.wait_for(running.acquire(), STOP_GRACE.total_seconds())
        except TimeoutError:
            log.warning("a reminder sweep was still running; its leases will expire and retry")
    finally:
        await database.close()
