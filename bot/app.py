"""Wiring: the services every command builds from settings (database, vault).

Nothing here runs at import time; each command calls what it needs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from bot.config import Settings
from bot.reminders.notifiers import NoticeNotifier, Notifier
from handlers.assistant import Assistant
from handlers.i18n import load_catalog
from handlers.institutions import load_directory
from handlers.registry import all_flows
from handlers.services import AssistantSettings, Clock, Services, UserCaps
from storage.database import Database
from storage.keyring import KeyringFile, KeyringSource, parse_keyring
from storage.models import Channel
from storage.vault import Vault


def open_database(settings: Settings) -> Database:
    return Database.connect(settings.database_url)


def keyring_source(settings: Settings) -> KeyringSource:
    """The master keys: `[vault] key` when set, else the key file (created 0600 if missing).

    Raises `KeyFileError` when the file is readable by group or others.
    """
    if settings.vault.key:
        return parse_keyring(settings.vault.key, "CERTMATE_VAULT__KEY")
    source = KeyringFile(settings.key_file)
    source.get()  # create it now, or refuse a loose file before anything else starts
    return source


def open_vault(settings: Settings) -> Vault:
    return Vault(keyring_source(settings))


def clock_from(start: datetime | None) -> Clock:
    """The wall clock, or one that starts at `start` and runs at real speed (`--now`)."""
    if start is None:
        return lambda: datetime.now(UTC)
    origin = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - origin)


def build_services(settings: Settings, database: Database, clock: Clock) -> Services:
    """Everything the conversation core and the reminder sweep use, from settings."""
    return Services(
        database=database,
        vault=open_vault(settings),
        catalog=load_catalog(),
        directory=load_directory(),
        settings=AssistantSettings(
            limits=settings.limits.npki(),
            caps=UserCaps(
                held_files=settings.limits.held_files,
                held_bytes=settings.limits.held_bytes,
                certificates=settings.limits.certificates_per_user,
                open_links=settings.limits.open_links_per_user,
                buttons=settings.limits.buttons_per_user,
            ),
            messages_per_minute=settings.limits.messages_per_minute,
            reminder_thresholds=settings.reminders.thresholds_days,
            quiet_start=settings.reminders.quiet_start,
            quiet_end=settings.reminders.quiet_end,
            timezone=settings.reminders.timezone,
            public_url=settings.http.base_url,
            reminders_pushed=frozenset(
                {Channel.TELEGRAM} | ({Channel.KAKAO} if settings.kakao.event_api_key else set())
            ),
        ),
        clock=clock,
    )


def build_assistant(services: Services) -> Assistant:
    """The conversation core with every flow."""
    return Assistant(services, all_flows())


def notifiers(
    services: Services, channels: Mapping[Channel, Notifier] | None = None
) -> dict[Channel, Notifier]:
    """How reminders reach each channel's users: through the running `channels` that
    can message first (Telegram; Kakao with the Event API), else as notices at the
    user's next message (console; Kakao without the Event API). A channel with no
    notifier here (Telegram with no token) keeps its reminders waiting in the outbox."""
    kept = NoticeNotifier(services.database)
    return {Channel.CONSOLE: kept, Channel.KAKAO: kept, **(channels or {})}
