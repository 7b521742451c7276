"""Everything the conversation core needs, passed in explicitly (no module-level singletons)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509

import npki
from handlers.i18n import Catalog
from handlers.institutions import Directory
from handlers.messages import ChannelTraits
from handlers.offload import Worker
from storage.database import Database
from storage.vault import Vault

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class UserCaps:
    """What one user may hold (`[limits]`), so that no one fills the disk or keeps the
    writer busy re-sealing a conversation that grows at every message."""

    held_files: int = 8
    held_bytes: int = 2 * 1024 * 1024
    certificates: int = 50
    open_links: int = 5
    buttons: int = 200


@dataclass(frozen=True, slots=True)
class AssistantSettings:
    """Tunables of the conversation core (from `[limits]` and friends)."""

    limits: npki.Limits = field(default_factory=npki.Limits)
    caps: UserCaps = field(default_factory=UserCaps)
    messages_per_minute: int = 20
    idle_minutes: int = 15
    """A flow left alone this long is forgotten (with a note at the next message)."""
    button_days: int = 7
    """How long a button keeps working."""
    reminder_thresholds: tuple[int, ...] = (30, 14, 7, 1)
    quiet_start: str = "21:00"
    quiet_end: str = "09:00"
    timezone: str = "Asia/Seoul"
    """New users' time zone: days are counted on their calendar."""
    public_url: str = "http://127.0.0.1:8080"
    """The base of links sent to users (the secure page)."""
    password_tries: int = 5
    """Wrong passwords on one private key (15 minutes) before it is locked for 15 minutes."""
    password_tries_per_user: int = 20
    """Wrong passwords of one user, all keys together (an hour) before all are locked an hour."""
    ca_certificates: tuple[x509.Certificate, ...] = ()
    """CA certificates the operator trusts for checking a renewal's issuer signature."""


@dataclass(frozen=True, slots=True)
class Services:
    database: Database
    vault: Vault
    catalog: Catalog
    directory: Directory
    settings: AssistantSettings
    clock: Clock
    channels: Mapping[str, ChannelTraits]
    """Each channel's traits, by its name, as the channels were wired."""
    worker: Worker = field(default_factory=Worker)
    """The thread certificate work (key derivation) runs on; closed by whoever made these."""
