"""`certmate keys rotate`: a new master key, every data key re-wrapped, the old key retired.

Resumable by construction:

1. the keyring file gains a new key, made current (written atomically);
2. rows still wrapped by another key are re-wrapped in batches, each batch
   its own transaction; a row is always wrapped by a key the file holds;
3. when no row uses an old key, the file is rewritten with the new key only.

Killed at any point (even SIGKILL), running it again finishes the job: a
keyring holding more than one key means a rotation is under way. Payloads
are never re-encrypted; only their data keys are re-wrapped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from sqlmodel import col, select

from storage import accounts, audit, certificates, conversations, links, updates
from storage.database import Database
from storage.keyring import load_or_create, write_atomically
from storage.models import (
    AuditAction,
    CertificateSecret,
    ConversationState,
    LinkedAccount,
    ProcessedUpdate,
    SecureLink,
)
from storage.vault import Binding, Sealed, Vault

DEFAULT_BATCH: Final = 500


@dataclass(frozen=True, slots=True)
class _SealedColumn:
    """Where one kind of sealed blob lives, and what it is bound to."""

    model: Any
    key_id: str
    blob: str
    binding: Callable[[Any], Binding]


_SEALED: Final = (
    _SealedColumn(
        CertificateSecret,
        "key_id",
        "sealed",
        lambda row: certificates.binding(row.certificate_id, row.owner_id),
    ),
    _SealedColumn(
        LinkedAccount,
        "number_key_id",
        "number_sealed",
        lambda row: accounts.binding(row.id, row.owner_id),
    ),
    _SealedColumn(
        ConversationState,
        "sealed_key_id",
        "sealed",
        lambda row: conversations.binding(row.channel, row.user_key),
    ),
    _SealedColumn(
        ProcessedUpdate,
        "sealed_key_id",
        "sealed",
        lambda row: updates.binding(row.channel, row.update_id),
    ),
    _SealedColumn(
        SecureLink,
        "sealed_key_id",
        "sealed",
        lambda row: links.binding(row.token_hash, row.owner_id),
    ),
)


@dataclass(frozen=True, slots=True)
class RotationReport:
    new_key_id: str
    retired_key_ids: tuple[str, ...]
    rewrapped: int
    resumed: bool
    """True when this run finished a rotation an earlier run had started."""


async def rotate(
    database: Database,
    key_file: Path,
    *,
    now: datetime,
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
) -> RotationReport:
    """Rotate the master key in `key_file`, re-wrapping every sealed record in `database`."""
    keyring = load_or_create(key_file)
    resumed = len(keyring.keys) > 1
    if not resumed:
        keyring = keyring.with_new_key()
        write_atomically(key_file, keyring)
    vault = Vault(keyring)
    rewrapped = 0
    for column in _SEALED:
        while count := await _rewrap_batch(database, vault, column, keyring.current, batch_size):
            rewrapped += count
            if progress is not None:
                progress(rewrapped)
    retired = tuple(key_id for key_id in keyring.keys if key_id != keyring.current)
    async with database.write() as session:
        await audit.record(
            session,
            None,
            AuditAction.KEY_ROTATION,
            now,
            detail=f"new key {keyring.current}; {rewrapped} re-wrapped; retired {len(retired)}",
        )
    write_atomically(key_file, keyring.only_current())
    return RotationReport(keyring.current, retired, rewrapped, resumed)


async def _rewrap_batch(
    database: Database, vault: Vault, column: _SealedColumn, current: str, batch_size: int
) -> int:
    key_column = col(getattr(column.model, column.key_id))
    async with database.write() as session:
        rows = (
            await session.scalars(
                select(column.model)
                .where(key_column.is_not(None), key_column != current)
                .limit(batch_size)
                .with_for_update()
            )
        ).all()
        for row in rows:
            sealed = Sealed(getattr(row, column.key_id), getattr(row, column.blob))
            fresh = vault.rewrap(sealed, column.binding(row))
            setattr(row, column.key_id, fresh.key_id)
            setattr(row, column.blob, fresh.blob)
        return len(rows)
