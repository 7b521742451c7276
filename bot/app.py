"""Wiring: the services every command builds from settings (database, vault).

Nothing here runs at import time; each command calls what it needs.
"""

from __future__ import annotations

import logging
import stat
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from cryptography import x509

import npki
from bot.channels import console, kakao, telegram
from bot.config import ConfigError, Settings
from bot.reminders.notifiers import NoticeNotifier, Notifier
from handlers.assistant import Assistant
from handlers.flows import all_specs
from handlers.i18n import load_catalog
from handlers.institutions import load_directory
from handlers.messages import ChannelTraits
from handlers.services import AssistantSettings, Clock, Services, UserCaps
from storage.database import Database
from storage.keyring import KeyFileError, KeyringFile, KeyringSource, create, parse_keyring
from storage.models import Channel
from storage.sealed import key_ids_in_use
from storage.vault import Vault

log = logging.getLogger("certmate")


def open_database(settings: Settings) -> Database:
    database = Database.connect(settings.database_url)
    private_folder(settings.storage.data_dir)
    return database


def private_folder(folder: Path) -> None:
    """`data_dir` holds the database and the master key: its owner's alone (0700),
    even when it was made by hand with the umask's 0755. Said in the log when tightened."""
    try:
        mode = stat.S_IMODE(folder.stat().st_mode)
    except FileNotFoundError:
        return  # made 0700 by whoever first writes in it (the database, the key file)
    if mode & 0o077:
        folder.chmod(0o700)
        log.warning("tightened %s from %04o to 0700: it holds secrets", folder, mode)


async def checked_keyring(settings: Settings, database: Database) -> KeyringSource:
    """The master keys, once the database is known to need no key they lack (at start).

    `[vault] key` when set, else the key file. A missing key file is created
    (0600) only when the database holds no sealed record; otherwise, and when
    any key id a sealed record names is not in the keyring, `KeyFileError`
    says which file to restore. Also raised for a key file others can read.
    """
    in_use = await key_ids_in_use(database)
    source: KeyringSource
    if settings.vault.key:
        where = "CERTMATE_VAULT__KEY"
        source = parse_keyring(settings.vault.key, where)
    else:
        where = f"master key file {settings.key_file}"
        if not settings.key_file.exists():
            if in_use:
                raise KeyFileError(
                    f"{where} is missing, and the database holds {_records(in_use)}; "
                    "restore that file from your backup (certmate makes a new key only "
                    "for a database with no sealed record)"
                )
            create(settings.key_file)
            log.info("created a new master key in %s: back it up", settings.key_file)
        source = KeyringFile(settings.key_file)
    keys = source.get().keys  # refuses a loose or damaged file now, before anything starts
    lacking = {key_id: n for key_id, n in in_use.items() if key_id not in keys}
    if lacking:
        raise KeyFileError(
            f"{where} lacks the master key of {_records(lacking)}; restore the key file "
            "that holds them from your backup"
        )
    return source


def _records(counts: Mapping[str, int]) -> str:
    ids = ", ".join(sorted(counts))
    return f"{sum(counts.values())} sealed record(s) under key id(s) {ids}"


def parse_now(text: str, timezone: str) -> datetime:
    """A `--now ISO8601` moment (`chat`, `remind`): one written without an offset is read
    in `timezone` (`[reminders] timezone`, the zone new users' days are counted in), so
    both commands read `2026-06-01T09:05` alike. ValueError when it is no ISO 8601 time."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo(timezone))


def clock_from(start: datetime | None) -> Clock:
    """The wall clock, or one that starts at `start` and runs at real speed (`--now`)."""
    if start is None:
        return lambda: datetime.now(UTC)
    origin = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - origin)


def build_services(
    settings: Settings,
    database: Database,
    clock: Clock,
    keyring: KeyringSource,
    *,
    channels: Mapping[str, ChannelTraits] | None = None,
) -> Services:
    """Everything the conversation core and the reminder sweep use, from settings and
    the keyring `checked_keyring` gave; `channels`: what each wired channel can do (by
    default the ones `settings` configure, `channel_traits`)."""
    return Services(
        database=database,
        vault=Vault(keyring),
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
            password_tries=settings.limits.password_tries,
            password_tries_per_user=settings.limits.password_tries_per_user,
            ca_certificates=load_ca_certificates(settings.npki.ca_certificates),
        ),
        clock=clock,
        channels=channel_traits(settings) if channels is None else channels,
    )


def channel_traits(settings: Settings) -> dict[str, ChannelTraits]:
    """What each channel can do, as `settings` wire it (KakaoTalk messages first only
    with the Event API): all the conversation core knows of channels."""
    return {
        Channel.TELEGRAM: telegram.TRAITS,
        Channel.KAKAO: kakao.traits(event_api=bool(settings.kakao.event_api_key)),
        Channel.CONSOLE: console.TRAITS,
    }


def load_ca_certificates(paths: tuple[str, ...]) -> tuple[x509.Certificate, ...]:
    """The operator's CA certificates (`[npki] ca_certificates`); a file that cannot be
    read is a `ConfigError` naming it, never a silently weaker check."""
    found: list[x509.Certificate] = []
    for path in paths:
        try:
            found.extend(npki.read_ca_certificates(Path(path).read_bytes()))
        except (OSError, npki.NpkiError) as err:
            raise ConfigError(f"[npki] ca_certificates: {path} cannot be read: {err}") from err
    return tuple(found)


def build_assistant(services: Services) -> Assistant:
    """The conversation core with every flow."""
    return Assistant(services, all_specs())


def notifiers(
    services: Services, channels: Mapping[Channel, Notifier] | None = None
) -> dict[Channel, Notifier]:
    """How reminders reach each channel's users: through the running `channels` that
    can message first (Telegram; Kakao with the Event API), else as notices at the
    user's next message (console; Kakao without the Event API). A channel with no
    notifier here (Telegram with no token) keeps its reminders waiting in the outbox."""
    kept = NoticeNotifier(services.database)
    return {Channel.CONSOLE: kept, Channel.KAKAO: kept, **(channels or {})}
