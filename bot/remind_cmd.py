"""`certmate remind [--now ISO8601] [--dry-run] [--json]`: one sweep, exactly the scheduler's."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import sys
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import aiohttp

from bot.app import (
    build_services,
    checked_keyring,
    clock_from,
    notifiers,
    open_database,
    parse_now,
)
from bot.channels.kakao_events import event_notifier
from bot.channels.telegram import TelegramNotifier, build_application
from bot.config import Settings
from bot.pacing import pacer_for
from bot.reminders.notifiers import Notifier
from bot.reminders.sweep import Delivery, Sweeper
from storage import migrate, reminders
from storage.keyring import KeyFileError
from storage.models import Channel, ReminderStatus

EXIT_OK = 0
EXIT_FAILED = 1


def run_remind(args: argparse.Namespace, settings: Settings) -> int:
    try:
        now = parse_now(args.now, settings.reminders.timezone) if args.now else datetime.now(UTC)
    except ValueError:
        print(f"certmate remind: --now {args.now!r} is not an ISO 8601 time", file=sys.stderr)  # noqa: T201
        return EXIT_FAILED
    try:
        deliveries, failed = asyncio.run(_remind(settings, now, dry_run=args.dry_run))
    except KeyFileError as err:
        print(f"certmate remind: {err}", file=sys.stderr)  # noqa: T201
        return EXIT_FAILED
    for delivery in deliveries:
        print(_json(delivery) if args.json else _line(delivery, args.dry_run))  # noqa: T201
    if not deliveries:  # one line, on stderr with --json (stdout stays one object a line)
        local = now.astimezone(ZoneInfo(settings.reminders.timezone))
        print(_nothing_due(local, args.dry_run), file=sys.stderr if args.json else sys.stdout)
    if failed:
        print(f"certmate remind: {failed} reminder(s) gave up after retries", file=sys.stderr)  # noqa: T201
    return EXIT_OK


async def _remind(
    settings: Settings, now: datetime, *, dry_run: bool
) -> tuple[list[Delivery], int]:
    database = open_database(settings)
    try:
        await migrate.upgrade(database)
        keyring = await checked_keyring(settings, database)
        services = build_services(settings, database, lambda: now, keyring)
        lease_owner = f"remind:{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        async with AsyncExitStack() as stack:
            channels: dict[Channel, Notifier] = {}
            pacer = pacer_for(database)  # the schedules `run` processes keep, shared
            if settings.telegram.token:  # deliver as `run` would (a dry run sends nothing)
                application = build_application(settings.telegram, pacer)
                if not dry_run:
                    await stack.enter_async_context(application)
                channels[Channel.TELEGRAM] = TelegramNotifier(application.bot)
            if settings.kakao.enabled and settings.kakao.event_api_key:
                client = await stack.enter_async_context(aiohttp.ClientSession())
                channels[Channel.KAKAO] = event_notifier(settings.kakao, client, pacer)
            sweeper = Sweeper(
                services, notifiers(services, channels), lease_owner, clock=clock_from(now)
            )
            deliveries = await (sweeper.preview(now) if dry_run else sweeper.run(now))
        async with database.read() as session:
            counts = await reminders.count_by_status(session)
        return deliveries, counts.get(ReminderStatus.FAILED, 0)
    finally:
        await database.close()


def _json(delivery: Delivery) -> str:
    return json.dumps(
        {
            "user": delivery.user,
            "channel": delivery.channel,
            "certificate": delivery.certificate,
            "threshold_days": delivery.threshold_days,
            "kind": delivery.kind,
            "message": delivery.message,
            "text": delivery.text,
        },
        ensure_ascii=False,
    )


def _nothing_due(now: datetime, dry_run: bool) -> str:
    """The one line of a sweep that sent nothing (none was due, or none could be sent)."""
    verb = "would be sent" if dry_run else "sent"
    return f"certmate remind: no reminder {verb} at {now.isoformat(timespec='minutes')}"


def _line(delivery: Delivery, dry_run: bool) -> str:
    verb = "would send" if dry_run else "sent"
    first = delivery.text.splitlines()[2] if len(delivery.text.splitlines()) > 2 else ""
    return (
        f"{verb} {delivery.kind} D{-delivery.threshold_days:+d} to "
        f"{delivery.channel}:{delivery.user} ({delivery.certificate[:12]}…, message "
        f"{delivery.message}) {first}"
    )
