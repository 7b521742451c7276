"""Settings: `config.toml` with environment overrides, typed and checked at load.

Every key of `config.example.toml` maps to a field of a section dataclass
here. An environment variable `CERTMATE_<SECTION>__<KEY>` overrides the
file (`CERTMATE_LIMITS__UPLOAD_BYTES=2097152`). Unknown sections or keys and
values of the wrong type are errors that name the key, so a typo never
silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import math
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, get_type_hints
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import npki

ENV_PREFIX: Final = "CERTMATE_"
DEFAULT_CONFIG: Final = Path("config.toml")
_BOOLEANS: Final = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_HHMM: Final = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key and why."""


@dataclass(frozen=True, slots=True)
class LimitsSettings:
    """`[limits]`: bounds on what one upload may cost."""

    upload_bytes: int = npki.DEFAULT_LIMITS.upload_bytes
    zip_entries: int = npki.DEFAULT_LIMITS.zip_entries
    zip_uncompressed_bytes: int = npki.DEFAULT_LIMITS.zip_uncompressed_bytes
    zip_ratio: int = npki.DEFAULT_LIMITS.zip_ratio
    kdf_iterations_max: int = npki.DEFAULT_LIMITS.kdf_iterations_max
    kdf_total_iterations: int = npki.DEFAULT_LIMITS.kdf_total_iterations
    messages_per_minute: int = 20
    """Per user, on chat channels (the console is not limited)."""
    password_tries: int = 5
    """Wrong passwords on one private key (in 15 minutes) before it is locked 15 minutes."""
    password_tries_per_user: int = 20
    """Wrong passwords of one user on all keys (in an hour) before all are locked an hour."""
    trailing_bytes: int = npki.DEFAULT_LIMITS.trailing_bytes
    held_files: int = 8
    """Files one conversation may hold while it waits (a key's partner, a password)."""
    held_bytes: int = 2 * 1024 * 1024
    certificates_per_user: int = 50
    """Kept certificates per user, replaced ones included (they keep their files)."""
    open_links_per_user: int = 5
    """Open secure links per user; a new one beyond revokes the oldest."""
    buttons_per_user: int = 200
    """Working buttons per user; the oldest are forgotten beyond."""

    def npki(self) -> npki.Limits:
        """The limits in the form the certificate library takes."""
        return npki.Limits(
            upload_bytes=self.upload_bytes,
            zip_entries=self.zip_entries,
            zip_uncompressed_bytes=self.zip_uncompressed_bytes,
            zip_ratio=self.zip_ratio,
            kdf_iterations_max=self.kdf_iterations_max,
            kdf_total_iterations=self.kdf_total_iterations,
            trailing_bytes=self.trailing_bytes,
        )


@dataclass(frozen=True, slots=True)
class NpkiSettings:
    """`[npki]`: certificate facts the operator supplies."""

    ca_certificates: tuple[str, ...] = ()
    """Files of CA certificates (PEM or DER) whose signature a renewal must carry."""


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """`[storage]`: where certmate keeps its files."""

    data_dir: Path = Path("data")


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """`[database]`: empty url means SQLite at `<data_dir>/certmate.db`."""

    url: str = ""


@dataclass(frozen=True, slots=True)
class VaultSettings:
    """`[vault]`: the master key, a file (default `<data_dir>/master.key`) or `key` itself."""

    key_file: Path | None = None
    key: str = ""
    """Base64 master key (or keyring JSON) for containers: set it from the environment."""


@dataclass(frozen=True, slots=True)
class RemindersSettings:
    """`[reminders]`: when reminders go out."""

    thresholds_days: tuple[int, ...] = (30, 14, 7, 1)
    """Days before expiry (the expiry day and the day after are always added)."""
    sweep_minutes: int = 10
    quiet_start: str = "21:00"
    quiet_end: str = "09:00"
    timezone: str = "Asia/Seoul"

    def __post_init__(self) -> None:
        for name in ("quiet_start", "quiet_end"):
            if not _HHMM.fullmatch(getattr(self, name)):
                raise ConfigError(f"[reminders] {name} must be a time like 21:00")
        if not self.thresholds_days or not all(0 < d <= 365 for d in self.thresholds_days):
            raise ConfigError("[reminders] thresholds_days must be days between 1 and 365")
        try:
            ZoneInfo(self.timezone)
        except (ValueError, KeyError) as err:
            raise ConfigError(f"[reminders] timezone {self.timezone!r} is not a time zone") from err


TELEGRAM_MODES: Final = ("polling", "webhook")
_SECRET_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{1,256}")


@dataclass(frozen=True, slots=True)
class TelegramSettings:
    """`[telegram]`: the bot token and how updates arrive. No token: Telegram is off."""

    token: str = ""
    mode: str = "polling"
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    webhook_url: str = ""
    """Where Telegram posts updates; empty: `<http.public_url>/telegram/webhook`."""
    secret_token: str = ""
    """Checked on every webhook request; empty: derived from the token."""
    messages_per_second: int = 30
    chat_messages_per_second: int = 1
    poll_lease_seconds: int = 30
    """Polling mode: how long the one polling process holds the poller lease unrenewed."""
    poll_try_seconds: int = 10
    """Polling mode: how often each process tries to take (or renew) the poller lease."""

    def __post_init__(self) -> None:
        if self.mode not in TELEGRAM_MODES:
            raise ConfigError(f"[telegram] mode must be one of {', '.join(TELEGRAM_MODES)}")
        if not 0 < self.poll_try_seconds < self.poll_lease_seconds:
            raise ConfigError(
                "[telegram] poll_try_seconds must be above 0 and below poll_lease_seconds"
            )
        if self.secret_token and not _SECRET_TOKEN.fullmatch(self.secret_token):
            raise ConfigError(
                "[telegram] secret_token must be 1-256 letters, digits, _ or - (Telegram's rule)"
            )

    @property
    def webhook_secret(self) -> str:
        """The secret Telegram sends back in X-Telegram-Bot-Api-Secret-Token."""
        if self.secret_token:
            return self.secret_token
        digest = hashlib.sha256(b"certmate telegram webhook\0" + self.token.encode()).hexdigest()
        return digest[:48]


MAX_DRAIN_SECONDS: Final = 5
MAY_BE_ZERO: Final = frozenset({"[http] drain_seconds"})
"""Whole-number settings where 0 means "off"; every other must be at least 1."""


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """`[http]`: the one HTTP server (Telegram webhook, Kakao skill, upload page, /healthz)."""

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    """The base of links sent to users and of the webhook; empty: http://host:port."""
    header_timeout: int = 10
    """Seconds a client has to send a request's headers, from connecting or from its
    last answer (also how long an idle connection is kept)."""
    body_timeout: int = 60
    """Seconds a client has to send a request's body once its headers are in (408)."""
    refusals_per_minute: int = 30
    """Refused requests (wrong secret, unknown link) one address may make a minute; past
    them it gets 429."""
    trusted_proxies: tuple[str, ...] = ()
    """Reverse proxies (addresses or networks) whose X-Forwarded-For names the client."""
    metrics_from: tuple[str, ...] = ("127.0.0.1", "::1")
    """Clients (addresses or networks) that may read /metrics; empty: /metrics is off."""
    drain_seconds: int = 0
    """On a stop, seconds /healthz answers 503 while requests are still served, before the
    port closes: behind a load balancer, more than its health check interval times its
    fall count, so it stops sending requests here first (0: close at once)."""

    def __post_init__(self) -> None:
        if not 0 <= self.drain_seconds <= MAX_DRAIN_SECONDS:
            raise ConfigError(
                f"[http] drain_seconds must be between 0 and {MAX_DRAIN_SECONDS} (a stop"
                " has 10 seconds in all)"
            )
        for name in ("trusted_proxies", "metrics_from"):
            for network in getattr(self, name):
                try:
                    ipaddress.ip_network(network, strict=False)
                except ValueError as err:
                    raise ConfigError(
                        f"[http] {name}: {network!r} is not an address or network"
                    ) from err

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(p, strict=False) for p in self.trusted_proxies)

    @property
    def metrics_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(n, strict=False) for n in self.metrics_from)


KAKAO_EVENTS_PER_SECOND: Final = 5.0
"""Kakao publishes no rate limit for its Event API: a cautious guess, reasoned in
`bot.channels.kakao_events`."""


@dataclass(frozen=True, slots=True)
class KakaoSettings:
    """`[kakao]`: the KakaoTalk skill server. Kakao does not sign skill requests, so a
    secret header (set in the skill's settings) is required when the channel is on."""

    enabled: bool = False
    path: str = "/kakao/skill"
    secret_header: str = "X-Certmate-Secret"  # noqa: S105  (a header name)
    secret: str = ""
    bot_ids: tuple[str, ...] = ()
    """When set, requests for any other bot are refused."""
    event_api_key: str = ""
    """The REST API key of the Event API (reminders sent first); empty: reminders wait
    as a notice shown at the user's next message."""
    event_bot_id: str = ""
    """The bot id the Event API posts to; empty: the first of `bot_ids`."""
    event_name: str = "certmate_reminder"
    event_api_url: str = "https://bot-api.kakao.com"
    event_per_second: float = KAKAO_EVENTS_PER_SECOND
    """Event API requests a second, for all processes together."""

    def __post_init__(self) -> None:
        if not 0 < self.event_per_second < math.inf:
            raise ConfigError("[kakao] event_per_second must be a number above 0")
        if not self.path.startswith("/"):
            raise ConfigError("[kakao] path must start with /")
        if self.enabled and len(self.secret) < 16:
            raise ConfigError(
                "[kakao] secret must be set (16 characters or more) when Kakao is enabled:"
                " Kakao does not sign skill requests"
            )
        if not _HEADER_NAME.fullmatch(self.secret_header):
            raise ConfigError("[kakao] secret_header must be an HTTP header name")
        if self.event_api_key and not (self.event_bot_id or self.bot_ids):
            raise ConfigError("[kakao] event_api_key needs event_bot_id (or bot_ids)")

    @property
    def event_bot(self) -> str:
        return self.event_bot_id or (self.bot_ids[0] if self.bot_ids else "")


_HEADER_NAME: Final = re.compile(r"[A-Za-z0-9-]{1,64}")
LOG_FORMATS: Final = ("text", "json")
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True, slots=True)
class LogSettings:
    """`[log]`: how `certmate run` writes its log (standard error)."""

    format: str = "text"
    """`text`: one readable line per event; `json`: one JSON object per line."""
    level: str = "INFO"

    def __post_init__(self) -> None:
        if self.format not in LOG_FORMATS:
            raise ConfigError(f"[log] format must be one of {', '.join(LOG_FORMATS)}")
        if self.level.upper() not in LOG_LEVELS:
            raise ConfigError(f"[log] level must be one of {', '.join(LOG_LEVELS)}")


@dataclass(frozen=True, slots=True)
class Settings:
    """All settings, one field per `[section]`."""

    storage: StorageSettings = field(default_factory=StorageSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    vault: VaultSettings = field(default_factory=VaultSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    reminders: RemindersSettings = field(default_factory=RemindersSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    kakao: KakaoSettings = field(default_factory=KakaoSettings)
    npki: NpkiSettings = field(default_factory=NpkiSettings)
    log: LogSettings = field(default_factory=LogSettings)

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite+aiosqlite:///{self.storage.data_dir / 'certmate.db'}"

    @property
    def key_file(self) -> Path:
        return self.vault.key_file or self.storage.data_dir / "master.key"

    @property
    def telegram_webhook_url(self) -> str:
        return self.telegram.webhook_url or f"{self.http.base_url}/telegram/webhook"


def load_settings(path: Path | None, environ: Mapping[str, str]) -> Settings:
    """Settings from `path` (or `./config.toml` if it exists, else defaults) and `environ`."""
    raw = _read_file(path)
    _apply_environment(raw, environ)
    sections = {}
    hints = get_type_hints(Settings)
    for name, section in raw.items():
        if name not in hints:
            raise ConfigError(f"unknown section [{name}]")
        if not isinstance(section, dict):
            raise ConfigError(f"[{name}] must be a table")
        sections[name] = _build_section(name, hints[name], section)
    return Settings(**sections)


def _read_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        if not DEFAULT_CONFIG.is_file():
            return {}
        path = DEFAULT_CONFIG
    try:
        with path.open("rb") as file:
            raw = tomllib.load(file)
            mode = os.fstat(file.fileno()).st_mode
    except FileNotFoundError as err:
        raise ConfigError(f"config file {path} does not exist") from err
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"config file {path} cannot be read: {err}") from err
    _refuse_loose_secrets(path, stat.S_IMODE(mode), raw)
    return raw


SECRET_SETTINGS: Final = (
    ("vault", "key"),
    ("telegram", "token"),
    ("telegram", "secret_token"),
    ("kakao", "secret"),
    ("kakao", "event_api_key"),
)


def _refuse_loose_secrets(path: Path, mode: int, raw: dict[str, Any]) -> None:
    """A file holding a secret is refused, like the key file, when others may read it."""
    if not mode & (stat.S_IRWXG | stat.S_IRWXO):
        return
    held = [
        f"[{section}] {key}"
        for section, key in SECRET_SETTINGS
        if isinstance(raw.get(section), dict) and raw[section].get(key)
    ]
    database = raw.get("database")
    url = database.get("url") if isinstance(database, dict) else None
    if isinstance(url, str) and _url_password(url):
        held.append("[database] url (with a password)")
    if held:
        raise ConfigError(
            f"config file {path} holds {', '.join(held)} and is accessible by group or "
            f"others (mode {mode:04o}); fix it with: chmod 600 {path}"
        )


def _url_password(url: str) -> bool:
    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return False


def _apply_environment(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].partition("__")
        table = raw.setdefault(section.lower(), {})
        if not isinstance(table, dict):
            raise ConfigError(f"{name} overrides [{section.lower()}], which is not a table")
        table[key.lower()] = _EnvValue(name, value)


@dataclass(frozen=True, slots=True)
class _EnvValue:
    """A value from the environment: text, converted to the field's type on build."""

    variable: str
    text: str


def _build_section(section: str, kind: type[Any], values: dict[str, Any]) -> Any:
    hints = get_type_hints(kind)
    known = {f.name for f in dataclasses.fields(kind)}
    converted = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown setting [{section}] {key}")
        where = f"[{section}] {key}"
        converted[key] = _convert(where, hints[key], value, 0 if where in MAY_BE_ZERO else 1)
    return kind(**converted)


def _convert(where: str, kind: Any, value: Any, minimum: int) -> Any:
    if isinstance(value, _EnvValue):
        where = f"{value.variable} ({where})"
        value = _from_text(where, kind, value.text)
    if kind in (str, Path, Path | None):
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be text")
        if kind is str:
            return value
        if kind == Path | None and not value:
            return None
        return Path(value)
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} must be a number")
        return float(value)
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{where} must be a whole number")
    if kind is int and value < minimum:
        raise ConfigError(f"{where} must be at least {minimum}")
    if kind in (tuple[int, ...], tuple[str, ...]):
        return _convert_list(where, kind, value)
    return value


def _convert_list(where: str, kind: Any, value: Any) -> tuple[Any, ...]:
    if kind == tuple[int, ...]:
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise ConfigError(f"{where} must be a list of whole numbers")
        return tuple(value)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of texts")
    return tuple(value)


def _from_text(where: str, kind: Any, text: str) -> Any:
    if kind is bool:
        lowered = text.strip().lower()
        if lowered not in _BOOLEANS:
            raise ConfigError(f"{where} must be true or false")
        return _BOOLEANS[lowered]
    if kind == tuple[str, ...]:
        return [part for part in text.replace(" ", "").split(",") if part]
    if kind == tuple[int, ...]:
        try:
            return [int(part) for part in text.replace(" ", "").split(",") if part]
        except ValueError as err:
            raise ConfigError(f"{where} must be whole numbers separated by commas") from err
    if kind is int:
        try:
            return int(text.replace("_", ""))
        except ValueError as err:
            raise ConfigError(f"{where} must be a whole number") from err
    if kind is float:
        try:
            return float(text.replace("_", ""))
        except ValueError as err:
            raise ConfigError(f"{where} must be a number") from err
    return text
