"""Secure links: one-time pages where a user types a certificate password outside the chat.

A link is a random token (128 bits) bound to one user, one purpose and ten
minutes. Only its SHA-256 is stored, so the database alone opens no page.
Each link has its own P-256 key pair: the page encrypts to the public key,
the private key is sealed by the vault and dropped when the link is used,
so a used link's uploads can never be decrypted again. A user has at most
`OPEN_PER_USER` open links: a new one revokes the oldest (its key dropped).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.database import SHREDDED
from storage.models import SecureLink
from storage.sql import affected
from storage.vault import Binding, Sealed, Vault

TOKEN_BYTES: Final = 16
LIFETIME: Final = timedelta(minutes=10)
OPEN_PER_USER: Final = 5


class Purpose(StrEnum):
    REGISTER = "register"
    EXPORT = "export"


class Refusal(StrEnum):
    """Why a link does not open a page."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    REPLACED = "replaced"
    """Revoked unused, when the owner asked for more links than they may keep open."""


@dataclass(frozen=True, slots=True)
class IssuedLink:
    token: str
    public_key: bytes
    """The page's key, as an uncompressed P-256 point (65 bytes)."""


@dataclass(frozen=True, slots=True)
class OpenedLink:
    """A link that is open: whose, what for, and the key its page encrypts to."""

    id: int
    owner_id: int
    purpose: Purpose
    details: dict[str, Any]
    expires_at: datetime
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)

    @property
    def public_key(self) -> bytes:
        return _point(self.private_key)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def binding(token_digest: str, owner_id: int) -> Binding:
    return Binding("secure_link", token_digest, str(owner_id))


async def issue(
    session: AsyncSession,
    vault: Vault,
    owner_id: int,
    purpose: Purpose,
    now: datetime,
    *,
    details: dict[str, Any] | None = None,
    token_factory: Callable[[int], str] = secrets.token_urlsafe,
    open_per_user: int = OPEN_PER_USER,
) -> IssuedLink:
    """A new link for `owner_id`, valid `LIFETIME` from `now`; the owner's oldest open
    links beyond `open_per_user` (this one included) are revoked."""
    await _revoke_oldest(session, owner_id, now, keep=open_per_user - 1)
    token = token_factory(TOKEN_BYTES)
    digest = token_hash(token)
    private_key = ec.generate_private_key(ec.SECP256R1())
    scalar = private_key.private_numbers().private_value.to_bytes(32, "big")
    sealed = vault.seal(scalar, binding(digest, owner_id))
    session.add(
        SecureLink(
            token_hash=digest,
            owner_id=owner_id,
            purpose=purpose.value,
            details=details or {},
            sealed_key_id=sealed.key_id,
            sealed=sealed.blob,
            created_at=now,
            expires_at=now + LIFETIME,
        )
    )
    return IssuedLink(token, _point(private_key))


async def find(
    session: AsyncSession, vault: Vault, token: str, now: datetime
) -> OpenedLink | Refusal:
    """The open link behind `token`, or why there is none."""
    if not token or len(token) > 64:
        return Refusal.UNKNOWN
    digest = token_hash(token)
    row = await session.scalar(select(SecureLink).where(col(SecureLink.token_hash) == digest))
    if row is None or row.id is None:
        return Refusal.UNKNOWN
    if row.used_at is None and row.sealed is None:
        return Refusal.REPLACED
    if row.used_at is not None or row.sealed is None or row.sealed_key_id is None:
        return Refusal.USED
    if row.expires_at <= now:
        return Refusal.EXPIRED
    scalar = vault.open(Sealed(row.sealed_key_id, row.sealed), binding(digest, row.owner_id))
    private_key = ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())
    return OpenedLink(
        row.id, row.owner_id, Purpose(row.purpose), dict(row.details), row.expires_at, private_key
    )


async def claim(session: AsyncSession, link_id: int, owner_id: int, now: datetime) -> bool:
    """Take the link for one submission (the row stays locked until the transaction
    ends); False when another submission used it first."""
    result = await session.execute(
        sa.update(SecureLink)
        .where(
            col(SecureLink.id) == link_id,
            col(SecureLink.owner_id) == owner_id,
            col(SecureLink.used_at).is_(None),
            col(SecureLink.sealed).is_not(None),
        )
        .values(used_at=now)
    )
    return affected(result) == 1


async def settle(session: AsyncSession, link_id: int, *, keep_open: bool) -> None:
    """After a claimed submission: open again for a retry (a wrong password), or used
    for good, its key destroyed so nothing sent to it can be decrypted again."""
    values: dict[str, Any] = (
        {"used_at": None} if keep_open else {"sealed": None, "sealed_key_id": None}
    )
    await session.execute(
        sa.update(SecureLink).where(col(SecureLink.id) == link_id).values(**values)
    )
    if not keep_open:
        session.info[SHREDDED] = True


async def _revoke_oldest(session: AsyncSession, owner_id: int, now: datetime, keep: int) -> None:
    """Drop the keys of the owner's open (unused, unexpired) links but the newest `keep`.
    A link being submitted right now (claimed) is not open, and is left alone."""
    opened = (
        select(SecureLink.id)
        .where(
            col(SecureLink.owner_id) == owner_id,
            col(SecureLink.used_at).is_(None),
            col(SecureLink.sealed).is_not(None),
            col(SecureLink.expires_at) > now,
        )
        .order_by(col(SecureLink.id).desc())
        .offset(max(keep, 0))
    )
    await session.execute(
        sa.update(SecureLink)
        .where(col(SecureLink.id).in_(opened.scalar_subquery()), col(SecureLink.used_at).is_(None))
        .values(sealed=None, sealed_key_id=None)
    )


async def prune(session: AsyncSession, before: datetime, limit: int = 5_000) -> int:
    """Forget up to `limit` links that expired before `before`; returns how many."""
    old = select(SecureLink.id).where(col(SecureLink.expires_at) < before).limit(limit)
    result = await session.execute(
        sa.delete(SecureLink).where(col(SecureLink.id).in_(old.scalar_subquery()))
    )
    if affected(result):  # an unused link's sealed key goes with it
        session.info[SHREDDED] = True
    return affected(result)


def _point(private_key: ec.EllipticCurvePrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
