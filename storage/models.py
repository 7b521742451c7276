"""The data model (SQLModel tables). Alembic migrations reproduce exactly this schema.

Every table that belongs to a user carries `owner_id` with ON DELETE
CASCADE, so deleting a user deletes everything of theirs. Secrets are never
columns of their own: they are vault-sealed blobs (`sealed`, with the id of
the master key that wraps their data key, which rotation walks by).
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Final, Self

import sqlalchemy as sa
from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, enum_column

metadata = SQLModel.metadata
metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


class Channel(str):
    """A channel's name: users, conversations, updates and buttons belong to one.

    Open, not an enum: any name of lowercase letters, digits and ``_`` (16 at most)
    is a channel, so a new one is its adapter and its traits where channels are wired
    (bot/channels/adapter.py), never a schema change. The three built in are
    constants; a value reads as its name (``f"{channel}"``, ``channel.value``) and
    equals it, like the enum it replaces.
    """

    __slots__ = ()
    TELEGRAM: ClassVar[Channel]
    KAKAO: ClassVar[Channel]
    CONSOLE: ClassVar[Channel]

    def __new__(cls, name: str) -> Self:
        if not CHANNEL_NAME.fullmatch(name):
            raise ValueError(f"not a channel name: {name!r}")
        return super().__new__(cls, name)

    @property
    def value(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return f"Channel({str(self)!r})"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(cls, core_schema.str_schema())


CHANNEL_NAME: Final = re.compile(r"[a-z][a-z0-9_]{0,15}")
Channel.TELEGRAM = Channel("telegram")
Channel.KAKAO = Channel("kakao")
Channel.CONSOLE = Channel("console")


class ChannelColumn(sa.TypeDecorator[Channel]):
    """A `Channel` in a VARCHAR(16), read back as a `Channel` (no list of channels in
    the schema)."""

    impl = sa.String(16)
    cache_ok = True

    def process_bind_param(
        self,
        value: str | None,
        dialect: Dialect,  # noqa: ARG002  (the interface's)
    ) -> str | None:
        return None if value is None else str(Channel(value))

    def process_result_value(
        self,
        value: str | None,
        dialect: Dialect,  # noqa: ARG002  (the interface's)
    ) -> Channel | None:
        return None if value is None else Channel(value)


class Platform(StrEnum):
    ANDROID = "android"
    IOS = "ios"
    PC = "pc"


class CertificateStatus(StrEnum):
    ACTIVE = "active"
    REPLACED = "replaced"


class AccountKind(StrEnum):
    BANK = "bank"
    SECURITIES = "securities"
    CARD = "card"
    INSURANCE = "insurance"


class AccountState(StrEnum):
    LINKED = "linked"
    NEEDS_REGISTRATION = "needs_registration"


class ReminderKind(StrEnum):
    EXPIRY = "expiry"
    EXPIRED = "expired"
    SNOOZED = "snoozed"


class ReminderStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    CANCELLED = "cancelled"
    FAILED = "failed"
    PASSED = "passed"
    """A less urgent threshold missed during downtime: recorded, never sent."""


class AuditAction(StrEnum):
    UPLOAD = "upload"
    EXPORT = "export"
    DELETE = "delete"
    DELETE_ALL = "delete_all"
    RENEW = "renew"
    KEY_ROTATION = "key_rotation"


def _utc(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable, index=index)


def _owner() -> Any:
    return Field(foreign_key="users.id", ondelete="CASCADE", index=True)


class User(SQLModel, table=True):
    """One channel identity (a Telegram user, a Kakao botUserKey, a console user)."""

    __tablename__ = "users"
    __table_args__ = (sa.UniqueConstraint("channel", "user_key"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: Channel = Field(sa_type=ChannelColumn())
    user_key: str = Field(max_length=128)
    locale: str = Field(default="ko", max_length=8)
    timezone: str = Field(default="Asia/Seoul", max_length=64)
    platform: Platform | None = Field(default=None, sa_type=enum_column(Platform, 16))
    reminders_enabled: bool = True
    reminder_thresholds: list[int] | None = Field(default=None, sa_type=sa.JSON)
    """Days before expiry; None means the configured defaults."""
    quiet_start: str | None = Field(default=None, max_length=5)
    """HH:MM local; None means the configured default."""
    quiet_end: str | None = Field(default=None, max_length=5)
    reachable: bool = True
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class Certificate(SQLModel, table=True):
    """A certificate's public facts. Its files live sealed in `CertificateSecret`."""

    __tablename__ = "certificates"
    __table_args__ = (
        sa.UniqueConstraint("owner_id", "fingerprint"),
        # The reminder sweep: active certificates whose next reminder is due.
        sa.Index(
            "ix_certificates_due",
            "next_reminder_at",
            "id",
            sqlite_where=sa.text("status = 'active' AND next_reminder_at IS NOT NULL"),
            postgresql_where=sa.text("status = 'active' AND next_reminder_at IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = _owner()
    fingerprint: str = Field(max_length=64)
    subject: str = Field(max_length=512)
    holder: str = Field(max_length=128)
    ca: str = Field(max_length=16)
    issuer: str | None = Field(default=None, max_length=512)
    """The issuer's name (folder style); None for rows kept before it was recorded."""
    policy_oid: str | None = Field(default=None, max_length=64)
    usage: str = Field(max_length=24)
    holder_type: str = Field(max_length=16)
    serial: str = Field(max_length=80)
    not_before: datetime = _utc()
    not_after: datetime = _utc()
    status: CertificateStatus = Field(
        default=CertificateStatus.ACTIVE, sa_type=enum_column(CertificateStatus, 16)
    )
    replaced_by_id: int | None = Field(
        default=None, foreign_key="certificates.id", ondelete="SET NULL"
    )
    has_private_key: bool = False
    key_encryption: str | None = Field(default=None, max_length=24)
    reminders_enabled: bool = True
    next_reminder_at: datetime | None = _utc(nullable=True)
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class CertificateSecret(SQLModel, table=True):
    """The sealed bundle of a certificate (signCert, signPri, the km pair, or a PFX)."""

    __tablename__ = "certificate_secrets"

    certificate_id: int = Field(primary_key=True, foreign_key="certificates.id", ondelete="CASCADE")
    owner_id: int = _owner()
    key_id: str = Field(max_length=32, index=True)
    sealed: bytes = Field(sa_type=sa.LargeBinary)
    created_at: datetime = _utc()


class LinkedAccount(SQLModel, table=True):
    """An institution where a certificate is registered, with an optional account number."""

    __tablename__ = "linked_accounts"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = _owner()
    certificate_id: int = Field(foreign_key="certificates.id", ondelete="CASCADE", index=True)
    institution_code: str = Field(max_length=16)
    kind: AccountKind = Field(sa_type=enum_column(AccountKind, 16))
    nickname: str | None = Field(default=None, max_length=64)
    number_masked: str | None = Field(default=None, max_length=64)
    number_key_id: str | None = Field(default=None, max_length=32, index=True)
    number_sealed: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    state: AccountState = Field(default=AccountState.LINKED, sa_type=enum_column(AccountState, 24))
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class Reminder(SQLModel, table=True):
    """The reminder outbox: one row per certificate, kind and threshold, claimed with a lease.

    `threshold_days` is days before expiry (0: the expiry day, -1: the day
    after, "expired"); a snoozed reminder carries the days left on the day it
    is due, under its own kind, so it never uses up a threshold.
    """

    __tablename__ = "reminders"
    __table_args__ = (
        sa.UniqueConstraint("certificate_id", "kind", "threshold_days"),
        sa.Index("ix_reminders_claim", "status", "due_at", "id"),
        sa.Index("ix_reminders_lease", "status", "lease_expires_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    certificate_id: int = Field(foreign_key="certificates.id", ondelete="CASCADE")
    owner_id: int = _owner()
    kind: ReminderKind = Field(sa_type=enum_column(ReminderKind, 16))
    threshold_days: int
    due_at: datetime = _utc()
    status: ReminderStatus = Field(
        default=ReminderStatus.PENDING, sa_type=enum_column(ReminderStatus, 16)
    )
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_expires_at: datetime | None = _utc(nullable=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = _utc(nullable=True)
    message_id: str | None = Field(default=None, max_length=64)
    """The message that delivered it (reminders sent together share it)."""
    created_at: datetime = _utc()


class ConversationState(SQLModel, table=True):
    """Where a user is in a flow. Files waiting in the flow are sealed, never plain."""

    __tablename__ = "conversation_states"
    __table_args__ = (sa.UniqueConstraint("channel", "user_key"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: Channel = Field(sa_type=ChannelColumn())
    user_key: str = Field(max_length=128)
    flow: str = Field(max_length=32)
    step: str = Field(max_length=32)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    sealed_key_id: str | None = Field(default=None, max_length=32, index=True)
    sealed: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    version: int = 1
    """Optimistic lock: a save must name the version it read."""
    expires_at: datetime | None = _utc(nullable=True)
    updated_at: datetime = _utc()


class ProcessedUpdate(SQLModel, table=True):
    """Platform updates taken in: the inbox. An update is recorded (its body sealed, as
    it may hold a typed password) before it is acknowledged, handled, then its body is
    dropped; the row stays a while so a redelivered duplicate is recognised."""

    __tablename__ = "processed_updates"
    __table_args__ = (
        sa.UniqueConstraint("channel", "update_id"),
        sa.Index("ix_processed_updates_pending", "channel", "handled_at", "id"),
        sa.Index("ix_processed_updates_lane", "channel", "lane", "handled_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: Channel = Field(sa_type=ChannelColumn())
    update_id: str = Field(max_length=64)
    received_at: datetime = _utc(index=True)
    sealed_key_id: str | None = Field(default=None, max_length=32, index=True)
    sealed: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    """The update's body, sealed; None once handled."""
    handled_at: datetime | None = _utc(nullable=True)
    lane: str = Field(default="", max_length=64)
    """Whose update it is (its user): one lane's updates are handled in order, by the one
    process holding the lease `lane:<channel>:<lane>`."""
    attempts: int = 0
    """Failed tries that were bugs (transient failures are not counted)."""
    last_error: str | None = Field(default=None, max_length=160)
    """The last such failure: exception type and code location, never a message."""
    dead_at: datetime | None = _utc(nullable=True)
    """Given up after `attempts` bugs: kept sealed for the operator, no longer pending."""


class AuditEvent(SQLModel, table=True):
    """What was done with a user's certificates. Never a secret, never a password."""

    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int | None = Field(
        default=None, foreign_key="users.id", ondelete="CASCADE", index=True
    )
    """None for system events such as a key rotation."""
    action: AuditAction = Field(sa_type=enum_column(AuditAction, 16))
    detail: str | None = Field(default=None, max_length=200)
    created_at: datetime = _utc()


class ButtonToken(SQLModel, table=True):
    """What a button does, kept server-side: buttons carry only this opaque token."""

    __tablename__ = "button_tokens"
    __table_args__ = (sa.Index(None, "channel", "user_key", "expires_at"),)

    token: str = Field(primary_key=True, max_length=32)
    channel: Channel = Field(sa_type=ChannelColumn())
    user_key: str = Field(max_length=128)
    action: str = Field(max_length=48)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    expires_at: datetime = _utc(index=True)
    label: str | None = Field(default=None, max_length=128)
    """What the button says, in the form typed text is compared in (the caller's); none
    when too long for anyone to type."""


class KeyAttempt(SQLModel, table=True):
    """Wrong certificate passwords per owner and private key (and per owner), for the lockout."""

    __tablename__ = "key_attempts"
    __table_args__ = (sa.UniqueConstraint("owner_id", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = _owner()
    subject: str = Field(max_length=64)
    """A private key's name (`npki.keyid`), or `user` for the owner's budget across keys."""
    failures: int = 0
    window_started_at: datetime = _utc()
    locked_until: datetime | None = _utc(nullable=True)


class Notice(SQLModel, table=True):
    """A message waiting to be shown at the user's next message (console, Kakao without the
    Event API). Reminders never carry secrets, so neither does a notice."""

    __tablename__ = "notices"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = _owner()
    message_id: str = Field(max_length=64)
    text: str = Field(sa_type=sa.Text)
    choices: list[list[str]] = Field(default_factory=list, sa_type=sa.JSON)
    """Buttons as [label, token] pairs (tokens stay in `button_tokens`)."""
    certificates: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    """Fingerprints of the certificates it is about."""
    created_at: datetime = _utc()
    shown_at: datetime | None = _utc(nullable=True)


class SecureLink(SQLModel, table=True):
    """A one-time link to the secure page (register a certificate, export one): the
    password typed there never passes through a chat. Only the token's hash is kept;
    the page's key agreement key is sealed, and dropped once the link is used."""

    __tablename__ = "secure_links"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    owner_id: int = _owner()
    purpose: str = Field(max_length=16)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    """What the page is for beyond its purpose (the certificate and format of an export)."""
    sealed_key_id: str | None = Field(default=None, max_length=32, index=True)
    sealed: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    """The page's P-256 private key, sealed; None once used."""
    created_at: datetime = _utc()
    expires_at: datetime = _utc(index=True)
    used_at: datetime | None = _utc(nullable=True)


class SendSlot(SQLModel, table=True):
    """The next free slot of one send schedule shared by every process (PostgreSQL):
    Telegram's limits are per bot, not per process."""

    __tablename__ = "send_slots"

    key: str = Field(primary_key=True, max_length=80)
    next_at: float
    """Seconds since the epoch, on the database server's clock (one clock for all)."""


class ProcessBeat(SQLModel, table=True):
    """A `certmate run` process, as it last said it was alive: the cluster's roll call
    for `certmate status`."""

    __tablename__ = "process_beats"

    name: str = Field(primary_key=True, max_length=128)
    """The process's lease owner name (`run:<host>:<pid>:<random>`)."""
    started_at: datetime = _utc()
    seen_at: datetime = _utc()
    last_sweep_at: datetime | None = _utc(nullable=True)
    last_sweep_sent: int = 0
    roles: str = Field(default="", max_length=128)
    """What it does beyond handling, e.g. `poller` (comma-separated)."""


class Lease(SQLModel, table=True):
    """A job only one process may do at a time (polling Telegram): held by `owner`
    until `expires_at`, renewed while alive, taken over only once expired."""

    __tablename__ = "leases"

    name: str = Field(primary_key=True, max_length=160)
    owner: str = Field(max_length=128)
    expires_at: datetime = _utc()
