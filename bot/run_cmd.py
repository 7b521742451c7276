"""`certmate run`: the main job, until Ctrl-C or SIGTERM (graceful).

It starts the one HTTP server (`/healthz`, the secure page, the Telegram
webhook, the Kakao skill), Telegram when a token is set (polling or webhook),
KakaoTalk when `[kakao] enabled`, and the reminder scheduler: one
APScheduler job (in memory, no pickled job store) that runs the sweep every
`[reminders] sweep_minutes`, coalescing missed runs into one, never two at
once, with a misfire grace that lets a late run still happen. A stop closes
the HTTP server, lets updates in hand finish, and lets a running sweep mark
the messages it is sending and release everything else it claimed (another
process takes it at once), all within `STOP_GRACE`; updates not finished by
then stay in the inbox, their lanes released for another process to take at once.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

import aiohttp
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from telegram.error import InvalidToken, TelegramError

from bot import housekeeping, logs
from bot.app import (
    build_assistant,
    build_services,
    checked_keyring,
    notifiers,
    open_database,
)
from bot.channels.adapter import ChannelAdapter
from bot.channels.kakao import KakaoChannel
from bot.channels.pacer import Pacer
from bot.channels.telegram import (
    TelegramChannel,
    build_application,
    quiet_library_logs,
)
from bot.config import Settings
from bot.metrics import Metrics
from bot.pacing import pacer_for
from bot.reminders.notifiers import Notifier
from bot.reminders.sweep import Sweeper
from bot.secure_page import add_routes as add_page_routes
from bot.web import Server, build_app
from handlers.assistant import Assistant
from handlers.pages import SecurePages
from storage import cluster, migrate
from storage.database import Database
from storage.keyring import KeyFileError
from storage.models import Channel

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
STOP_GRACE: Final = timedelta(seconds=10)

log = logging.getLogger("certmate")


def run_main(_args: argparse.Namespace, settings: Settings) -> int:
    logs.configure(settings.log)
    quiet_library_logs()
    try:
        asyncio.run(_run(settings))
    except KeyFileError as err:
        print(f"certmate run: {err}", file=sys.stderr)  # noqa: T201
        return EXIT_FAILED
    except InvalidToken:
        print(  # noqa: T201  (PTB's own message quotes the token: never print it)
            "certmate run: Telegram: InvalidToken: the bot token was refused; check"
            " [telegram] token or CERTMATE_TELEGRAM__TOKEN",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except TelegramError as err:  # the Bot API cannot be reached, or refused a request
        said = str(err).replace(settings.telegram.token, "<token>")
        print(f"certmate run: Telegram: {type(err).__name__}: {said}", file=sys.stderr)  # noqa: T201
        return EXIT_FAILED
    except OSError as err:  # the port is taken, or the address cannot be bound
        print(f"certmate run: cannot start the HTTP server: {err}", file=sys.stderr)  # noqa: T201
        return EXIT_FAILED
    return EXIT_OK


async def _run(settings: Settings) -> None:
    database = open_database(settings)
    client = aiohttp.ClientSession()  # Kakao's callbacks and its Event API
    try:
        await migrate.upgrade(database)
        keyring = await checked_keyring(settings, database)
        services = build_services(settings, database, lambda: datetime.now(UTC), keyring)
        assistant = build_assistant(services)
        metrics = Metrics()  # this process's, read at /metrics
        app = _http_app(settings, database, assistant, metrics)
        # Unique even for a restarted container that has the same host name and pid: rows
        # claimed by the process before it are not this one's to renew.
        name = f"run:{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        pacer = pacer_for(database)  # Telegram's and the Event API's schedules, shared
        adapters = _adapters(settings, assistant, client, pacer=pacer, metrics=metrics, name=name)
        channels = await start_channels(adapters, app, pacer)
        _log_channels_off(settings)
        server = Server(
            app,
            settings.http.host,
            settings.http.port,
            header_timeout=settings.http.header_timeout,
            drain_seconds=settings.http.drain_seconds,
        )
        await server.start()
        log.info("HTTP server on %s:%d", settings.http.host, server.port)
        sweeper = Sweeper(services, notifiers(services, channels), name, metrics=metrics)
        jobs = _Jobs(sweeper, database, name)
        beating = asyncio.create_task(_beat(database, name, adapters))
        minutes = settings.reminders.sweep_minutes
        scheduler = _scheduler(jobs, minutes)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        scheduler.start()
        log.info("certmate is running: reminder sweep every %d minute(s); Ctrl-C stops", minutes)
        await stop.wait()
        log.info("stopping")
        deadline = loop.time() + STOP_GRACE.total_seconds()
        await _stop_taking(sweeper, scheduler, server, adapters)
        # The sweep's last sends need the channels open: end it first (updates in hand
        # go on being handled meanwhile), then close the channels.
        await _end_jobs(jobs, scheduler, max(deadline - loop.time() - 3, 0.1))
        for adapter in adapters:
            await adapter.stop(grace=max(deadline - loop.time() - 1, 0.5))
        await asyncio.to_thread(services.worker.close)  # no update is in hand any more
        await _leave(database, name, beating)
    finally:
        await client.close()
        await database.close()


async def start_channels(
    adapters: Sequence[ChannelAdapter], app: web.Application, pacer: Pacer
) -> dict[Channel, Notifier]:
    """Each channel's routes on `app`, each started in turn (Telegram first, so updates
    left from before queue first); returns the notifiers of those that can message
    first, pacing through `pacer`, for the reminder sweep (`notifiers`)."""
    channels: dict[Channel, Notifier] = {}
    for adapter in adapters:
        adapter.add_routes(app)
        await adapter.start()
        if (notifier := adapter.notifier(pacer)) is not None:
            channels[adapter.channel] = notifier
        log.info("%s", adapter.summary)
    return channels


async def _stop_taking(
    sweeper: Sweeper,
    scheduler: AsyncIOScheduler,
    server: Server,
    adapters: Sequence[ChannelAdapter],
) -> None:
    """The first moments of a stop: no new work is taken, work in hand goes on."""
    sweeper.stop()  # a running sweep sends no more and gives back what it claimed
    scheduler.pause()  # starts no job; shutting down now would cancel the running one
    await server.drain()  # the balancer's checks fail first; requests still answered
    await server.stop()  # no new webhook updates; requests in flight are answered
    for adapter in adapters:
        await adapter.stop_taking()  # another process may poll at once


async def _end_jobs(jobs: _Jobs, scheduler: AsyncIOScheduler, within: float) -> None:
    """Let a sweep in progress mark what it sent and release the rest, then shut down."""
    try:
        await asyncio.wait_for(jobs.running.acquire(), within)
    except TimeoutError:
        log.warning("a reminder sweep was still running; its leases will expire and retry")
    scheduler.shutdown(wait=False)


BEAT_EVERY: Final = 10.0
"""Seconds between two roll calls of this process (`certmate status`)."""


async def _beat(database: Database, name: str, adapters: Sequence[ChannelAdapter]) -> None:
    """Say this process is alive, and its roles, every BEAT_EVERY seconds and at once
    when they change (it starts or stops polling), until cancelled."""
    started_at = datetime.now(UTC)
    while True:
        for adapter in adapters:
            adapter.roles_changed.clear()
        roles = ",".join(role for adapter in adapters if (role := adapter.roles))
        try:
            async with database.write() as session:
                await cluster.beat(
                    session, name, datetime.now(UTC), started_at=started_at, roles=roles
                )
        except Exception:  # the next beat tries again
            log.warning("the roll call failed", exc_info=True)
        await _any_set([adapter.roles_changed for adapter in adapters], BEAT_EVERY)


async def _any_set(events: Sequence[asyncio.Event], within: float) -> None:
    """Wait until one of `events` is set, or `within` seconds."""
    waits = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait([*waits, asyncio.create_task(asyncio.sleep(within))],
                           return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
    finally:
        for wait in waits:
            wait.cancel()


async def _leave(database: Database, name: str, beating: asyncio.Task[None]) -> None:
    """Stop beating and leave the roll call, freeing this process's leases at once."""
    beating.cancel()
    await asyncio.gather(beating, return_exceptions=True)
    try:
        async with database.write() as session:
            await cluster.leave(session, name)
    except Exception:  # its row is forgotten a day after its last beat
        log.warning("leaving the roll call failed", exc_info=True)


class _Jobs:
    """What the scheduler runs, one at a time (a stop waits for the one running)."""

    def __init__(self, sweeper: Sweeper, database: Database, name: str) -> None:
        self.sweeper = sweeper
        self.database = database
        self.name = name
        self.running = asyncio.Lock()

    async def sweep(self) -> None:
        async with self.running:
            now = datetime.now(UTC)
            try:
                sent = await self.sweeper.run(now)
                async with self.database.write() as session:
                    await cluster.record_sweep(session, self.name, now, len(sent))
            except Exception:  # a failed sweep is logged; the next one tries again
                log.exception("reminder sweep failed")
                return
            log.info("reminder sweep: %d reminder(s) sent", len(sent))

    async def tidy_up(self) -> None:
        async with self.running:
            try:
                tidied = await housekeeping.tidy(self.database, datetime.now(UTC))
            except Exception:  # logged; the next run tries again
                log.exception("housekeeping failed")
                return
            log.info(
                "housekeeping: forgot %d update(s), %d expired button(s), %d shown notice(s),"
                " %d expired link(s), %d stale password count(s); shredded what %d expired"
                " conversation(s) held",
                tidied.updates,
                tidied.buttons,
                tidied.notices,
                tidied.links,
                tidied.attempts,
                tidied.held,
            )


def _scheduler(jobs: _Jobs, minutes: int) -> AsyncIOScheduler:
    """The sweep every `minutes` (at once first) and housekeeping hourly; late runs
    coalesce into one, never two at once, and a late run within the grace still happens."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        jobs.sweep,
        IntervalTrigger(minutes=minutes, timezone=UTC),
        id="reminder-sweep",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=minutes * 60,
        next_run_time=datetime.now(UTC),
    )
    scheduler.add_job(
        jobs.tidy_up,
        IntervalTrigger(hours=1, timezone=UTC),
        id="housekeeping",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=3600,
        next_run_time=datetime.now(UTC) + timedelta(minutes=1),
    )
    return scheduler


def _http_app(
    settings: Settings, database: Database, assistant: Assistant, metrics: Metrics
) -> web.Application:
    """The HTTP app: /healthz, /metrics and the secure pages (channels add theirs)."""
    app = build_app(settings.http, metrics=metrics, database=database)
    add_page_routes(app, SecurePages(assistant))
    return app


def _log_channels_off(settings: Settings) -> None:
    """Say which channels are off and the setting that turns each on (after the lines of
    those on), and warn when KakaoTalk's secure-page links cannot open on a phone."""
    if not settings.telegram.token:
        log.info(
            "Telegram is off: set [telegram] token (or CERTMATE_TELEGRAM__TOKEN) to turn it on"
        )
    if not settings.kakao.enabled:
        log.info(
            "KakaoTalk is off: set [kakao] enabled = true (or CERTMATE_KAKAO__ENABLED=true),"
            " with a [kakao] secret of 16 characters or more, to turn it on"
        )
    elif not settings.http.base_url.startswith("https://"):
        log.warning(
            "KakaoTalk is on, but [http] public_url is not an https address (links go to"
            " %s): the secure page's links will not open on a phone; set [http] public_url"
            " to this server's public https address",
            settings.http.base_url,
        )
    if not settings.telegram.token and not settings.kakao.enabled:
        log.warning("no chat channel is on: only the HTTP server and reminder sweeps run")


def _adapters(
    settings: Settings,
    assistant: Assistant,
    client: aiohttp.ClientSession,
    *,
    pacer: Pacer,
    metrics: Metrics,
    name: str,
) -> list[ChannelAdapter]:
    """The channels `settings` turn on: Telegram when a token is set (run as process
    `name`, the poller lease's owner), KakaoTalk when `[kakao] enabled`."""
    adapters: list[ChannelAdapter] = []
    if settings.telegram.token:
        telegram = TelegramChannel(
            build_application(settings.telegram, pacer, metrics),
            assistant,
            settings.telegram,
            upload_limit=settings.limits.upload_bytes,
            webhook_url=settings.telegram_webhook_url,
            process_name=name,
            metrics=metrics,
        )
        adapters.append(telegram)
    if settings.kakao.enabled:
        adapters.append(KakaoChannel(assistant, settings.kakao, client))
    return adapters
