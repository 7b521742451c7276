"""Certificates and their sealed files. Every lookup by id is filtered by the owner."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

import npki
from storage import reminders
from storage.database import SHREDDED
from storage.errors import AlreadyRegistered, NotFound
from storage.models import (
    AccountState,
    Certificate,
    CertificateSecret,
    CertificateStatus,
    LinkedAccount,
)
from storage.packing import pack_files, unpack_files
from storage.sql import flushed_id
from storage.types import UTCDateTime
from storage.vault import Binding, Sealed, Vault


def binding(certificate_id: int | None, owner_id: int) -> Binding:
    """What a certificate's sealed files are bound to."""
    return Binding("certificate", str(flushed_id(certificate_id)), str(owner_id))


async def add(
    session: AsyncSession,
    vault: Vault,
    owner_id: int,
    facts: npki.Certificate,
    files: Mapping[str, bytes],
    *,
    key_encryption: str | None,
    now: datetime,
) -> Certificate:
    """Register a certificate with its files, sealed. `key_encryption` None: no private key kept.

    Raises `AlreadyRegistered` when the owner already has this certificate.
    """
    existing = await find_by_fingerprint(session, owner_id, facts.fingerprint_sha256)
    if existing is not None:
        raise AlreadyRegistered(facts.fingerprint_sha256)
    certificate = Certificate(
        owner_id=owner_id,
        fingerprint=facts.fingerprint_sha256,
        subject=facts.subject,
        holder=facts.holder,
        ca=facts.ca,
        issuer=npki.issuer_name(facts),
        policy_oid=facts.policy_oid,
        usage=facts.usage,
        holder_type=facts.holder_type,
        serial=facts.serial,
        not_before=facts.not_before,
        not_after=facts.not_after,
        has_private_key=key_encryption is not None,
        key_encryption=key_encryption,
        next_reminder_at=now,  # the next sweep plans its reminders
        created_at=now,
        updated_at=now,
    )
    session.add(certificate)
    await session.flush()
    sealed = vault.seal(pack_files(files), binding(certificate.id, owner_id))
    session.add(
        CertificateSecret(
            certificate_id=flushed_id(certificate.id),
            owner_id=owner_id,
            key_id=sealed.key_id,
            sealed=sealed.blob,
            created_at=now,
        )
    )
    await session.flush()
    return certificate


async def get(session: AsyncSession, owner_id: int, certificate_id: int) -> Certificate:
    """The owner's certificate; `NotFound` for an unknown or someone else's id."""
    certificate = await session.scalar(
        select(Certificate).where(
            col(Certificate.id) == certificate_id, col(Certificate.owner_id) == owner_id
        )
    )
    if certificate is None:
        raise NotFound(f"certificate {certificate_id}")
    return certificate


async def get_active(session: AsyncSession, owner_id: int, certificate_id: int) -> Certificate:
    """The owner's certificate if it is still active; `NotFound` for a replaced one too."""
    certificate = await get(session, owner_id, certificate_id)
    if certificate.status is not CertificateStatus.ACTIVE:
        raise NotFound(f"certificate {certificate_id}")
    return certificate


async def find_by_fingerprint(
    session: AsyncSession, owner_id: int, fingerprint: str
) -> Certificate | None:
    return await session.scalar(
        select(Certificate).where(
            col(Certificate.owner_id) == owner_id, col(Certificate.fingerprint) == fingerprint
        )
    )


async def count_kept(session: AsyncSession, owner_id: int) -> int:
    """How many certificates the owner keeps, replaced ones included (they keep files)."""
    total = await session.scalar(
        select(sa.func.count())
        .select_from(Certificate)
        .where(col(Certificate.owner_id) == owner_id)
    )
    return int(total or 0)


async def list_active(session: AsyncSession, owner_id: int) -> Sequence[Certificate]:
    """The owner's active certificates, soonest expiry first."""
    result = await session.scalars(
        select(Certificate)
        .where(
            col(Certificate.owner_id) == owner_id,
            col(Certificate.status) == CertificateStatus.ACTIVE,
        )
        .order_by(col(Certificate.not_after), col(Certificate.id))
    )
    return result.all()


async def open_files(
    session: AsyncSession, vault: Vault, owner_id: int, certificate_id: int
) -> dict[str, bytes]:
    """The certificate's files, unsealed (in memory only)."""
    certificate = await get(session, owner_id, certificate_id)
    secret = await session.get(CertificateSecret, certificate_id)
    if secret is None:
        raise NotFound(f"files of certificate {certificate_id}")
    sealed = Sealed(secret.key_id, secret.sealed)
    return unpack_files(vault.open(sealed, binding(certificate.id, certificate.owner_id)))


async def stored_certificate(
    session: AsyncSession, vault: Vault, owner_id: int, certificate_id: int
) -> bytes | None:
    """The certificate's own DER when it was kept as `signCert.der` (not for a PFX, whose
    certificate is encrypted under its password)."""
    return (await open_files(session, vault, owner_id, certificate_id)).get("signCert.der")


async def attach_key(
    session: AsyncSession,
    vault: Vault,
    owner_id: int,
    certificate_id: int,
    files: Mapping[str, bytes],
    *,
    key_encryption: str,
    now: datetime,
) -> Certificate:
    """A certificate kept for reminders only now comes with its key: keep its files
    sealed in place of the certificate alone (accounts and reminders stay)."""
    certificate = await get(session, owner_id, certificate_id)
    sealed = vault.seal(pack_files(files), binding(certificate.id, owner_id))
    secret = await session.get(CertificateSecret, certificate_id)
    if secret is None:
        raise NotFound(f"files of certificate {certificate_id}")
    secret.key_id, secret.sealed = sealed.key_id, sealed.blob
    certificate.has_private_key = True
    certificate.key_encryption = key_encryption
    certificate.updated_at = now
    await session.flush()
    return certificate


async def replace(
    session: AsyncSession, owner_id: int, old_id: int, new_id: int, now: datetime
) -> Sequence[LinkedAccount]:
    """Renewal: retire `old_id` in favour of `new_id`, in one transaction.

    The old certificate's files are shredded and its pending reminders
    cancelled; its linked accounts move to the new certificate marked
    "needs re-registration" (the checklist), and are returned.
    """
    old = await get(session, owner_id, old_id)
    new = await get(session, owner_id, new_id)
    old.status = CertificateStatus.REPLACED
    old.replaced_by_id = new.id
    old.next_reminder_at = None
    old.updated_at = now
    await session.execute(
        sa.delete(CertificateSecret).where(col(CertificateSecret.certificate_id) == old_id)
    )
    session.info[SHREDDED] = True
    await reminders.cancel_pending(session, old_id)
    await session.execute(
        sa.update(LinkedAccount)
        .where(col(LinkedAccount.certificate_id) == old_id, col(LinkedAccount.owner_id) == owner_id)
        .values(certificate_id=new_id, state=AccountState.NEEDS_REGISTRATION, updated_at=now)
    )
    moved = await session.scalars(
        select(LinkedAccount)
        .where(col(LinkedAccount.certificate_id) == new_id, col(LinkedAccount.owner_id) == owner_id)
        .order_by(col(LinkedAccount.id))
        .execution_options(populate_existing=True)
    )
    return moved.all()


async def delete(session: AsyncSession, owner_id: int, certificate_id: int) -> None:
    """Delete a certificate and the ones it replaced: files, accounts, reminders go too."""
    await get(session, owner_id, certificate_id)
    doomed = [certificate_id]
    frontier = [certificate_id]
    while frontier:
        frontier = [
            row.id
            for current in frontier
            for row in await predecessors(session, owner_id, current)
            if row.id is not None and row.id not in doomed
        ]
        doomed.extend(frontier)
    await session.execute(
        sa.delete(Certificate).where(
            col(Certificate.id).in_(doomed), col(Certificate.owner_id) == owner_id
        )
    )
    session.info[SHREDDED] = True


async def replan(session: AsyncSession, owner_id: int, now: datetime) -> None:
    """Reminder settings changed: the next sweep plans the owner's certificates again."""
    await session.execute(
        sa.update(Certificate)
        .where(
            col(Certificate.owner_id) == owner_id,
            col(Certificate.status) == CertificateStatus.ACTIVE,
        )
        .values(next_reminder_at=now)
    )


async def set_next_reminder(
    session: AsyncSession, owner_id: int, certificate_id: int, at: datetime | None
) -> None:
    certificate = await get(session, owner_id, certificate_id)
    certificate.next_reminder_at = at


async def find_predecessor(
    session: AsyncSession, owner_id: int, facts: npki.Certificate
) -> Certificate | None:
    """The active certificate `facts` looks like the renewal of: same subject and CA,
    expiring earlier. Only a look: whether it may retire it is the caller's proof
    (its own key opened, same issuer, the issuer's signature where known)."""
    return await session.scalar(
        select(Certificate)
        .where(
            col(Certificate.owner_id) == owner_id,
            col(Certificate.status) == CertificateStatus.ACTIVE,
            col(Certificate.subject) == facts.subject,
            col(Certificate.ca) == facts.ca,
            col(Certificate.fingerprint) != facts.fingerprint_sha256,
            col(Certificate.not_after) < facts.not_after,
        )
        .order_by(col(Certificate.not_after).desc())
        .limit(1)
    )


async def predecessors(
    session: AsyncSession, owner_id: int, certificate_id: int
) -> Sequence[Certificate]:
    """The certificates this one replaced ("renewed from …")."""
    result = await session.scalars(
        select(Certificate)
        .where(
            col(Certificate.owner_id) == owner_id,
            col(Certificate.replaced_by_id) == certificate_id,
        )
        .order_by(col(Certificate.not_after))
    )
    return result.all()


Cursor = tuple[datetime, int]
"""Where a walk over due rows stopped: (time, id) of the last row taken."""


async def due(
    session: AsyncSession, before: datetime, limit: int, after: Cursor | None = None
) -> Sequence[Certificate]:
    """Active certificates whose next reminder is due before `before` (the sweep's query),
    in (time, id) order, starting after `after` when a walk is under way."""
    result = await session.scalars(due_query(before, limit, after))
    return result.all()


def due_query(
    before: datetime, limit: int, after: Cursor | None = None
) -> SelectOfScalar[Certificate]:
    """The sweep's query; the partial index `ix_certificates_due` serves it.

    The cursor keeps a walk from revisiting index entries of rows it already
    planned (PostgreSQL keeps their old versions until vacuum).
    """
    query = select(Certificate).where(
        col(Certificate.status) == CertificateStatus.ACTIVE,
        col(Certificate.next_reminder_at).is_not(None),
        col(Certificate.next_reminder_at) <= before,
    )
    if after is not None:
        query = query.where(
            sa.tuple_(col(Certificate.next_reminder_at), col(Certificate.id))
            > sa.tuple_(sa.literal(after[0], UTCDateTime()), sa.literal(after[1]))
        )
    return query.order_by(col(Certificate.next_reminder_at), col(Certificate.id)).limit(limit)
