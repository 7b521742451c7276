"""`certmate keys rotate`: a new master key, every data key re-wrapped, the old key retired.

Resumable by construction:

1. the keyring file gains a new key, made current (written atomically);
2. rows still wrapped by another key are moved to the new key in batches,
   each batch its own transaction; a row is always wrapped by a key the
   file holds;
3. when no row uses an old key, the file is rewritten with the new key only.

Killed at any point (even SIGKILL), running it again finishes the job: a
keyring holding more than one key means a rotation is under way.

A plain rotation re-wraps data keys: payloads keep their ciphertext and data
key, so a database copy from before it plus the old master key still opens
the records of the database after it. `reencrypt` opens each record and
seals it anew (a fresh data key, new ciphertext) under the new master key,
so that such a leaked pair opens nothing of the database any more. The
keyring file says which kind of rotation is under way (`"reencrypt": true`),
so a resumed run finishes it the same way whatever it was asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from sqlmodel import select

from storage import audit
from storage.database import Database
from storage.keyring import Keyring, load, write_atomically
from storage.models import AuditAction
from storage.sealed import SEALED, SealedColumn
from storage.vault import Sealed, Vault

DEFAULT_BATCH: Final = 500


@dataclass(frozen=True, slots=True)
class RotationReport:
    new_key_id: str
    retired_key_ids: tuple[str, ...]
    moved: int
    """Records moved to the new key: re-wrapped, or re-encrypted when `reencrypted`."""
    resumed: bool
    """True when this run finished a rotation an earlier run had started."""
    reencrypted: bool


async def rotate(
    database: Database,
    key_file: Path,
    *,
    now: datetime,
    reencrypt: bool = False,
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
) -> RotationReport:
    """Rotate the master key in `key_file`, moving every sealed record in `database` to it.

    An interrupted plain rotation asked to re-encrypt is finished first, then a
    re-encrypting one runs: records it re-wrapped kept their data keys.
    """
    keyring = load(key_file)
    resumed = len(keyring.keys) > 1
    if resumed and reencrypt and not keyring.reencrypting:
        await _finish(
            database,
            key_file,
            keyring,
            now=now,
            batch_size=batch_size,
            progress=progress,
            resumed=True,
        )
        keyring = load(key_file)
    if len(keyring.keys) == 1:
        keyring = keyring.with_new_key(reencrypting=reencrypt)
        write_atomically(key_file, keyring)
    return await _finish(
        database,
        key_file,
        keyring,
        now=now,
        batch_size=batch_size,
        progress=progress,
        resumed=resumed,
    )


async def _finish(
    database: Database,
    key_file: Path,
    keyring: Keyring,
    *,
    now: datetime,
    batch_size: int,
    progress: Callable[[int], None] | None,
    resumed: bool,
) -> RotationReport:
    vault = Vault(keyring)
    moved = 0
    for column in SEALED:
        while count := await _move_batch(database, vault, column, keyring, batch_size):
            moved += count
            if progress is not None:
                progress(moved)
    retired = tuple(key_id for key_id in keyring.keys if key_id != keyring.current)
    verb = "re-encrypted" if keyring.reencrypting else "re-wrapped"
    async with database.write() as session:
        await audit.record(
            session,
            None,
            AuditAction.KEY_ROTATION,
            now,
            detail=f"new key {keyring.current}; {moved} {verb}; retired {len(retired)}",
        )
    # SQLite: the old blobs' page images leave the WAL now, not when it is next reused.
    await database.checkpoint()
    write_atomically(key_file, keyring.only_current())
    return RotationReport(keyring.current, retired, moved, resumed, keyring.reencrypting)


async def _move_batch(
    database: Database, vault: Vault, column: SealedColumn, keyring: Keyring, batch_size: int
) -> int:
    key_column = column.key_column
    async with database.write() as session:
        rows = (
            await session.scalars(
                select(column.model)
                .where(key_column.is_not(None), key_column != keyring.current)
                .limit(batch_size)
                .with_for_update()
            )
        ).all()
        for row in rows:
            sealed = Sealed(getattr(row, column.key_id), getattr(row, column.blob))
            binding = column.binding(row)
            if keyring.reencrypting:
                fresh = vault.seal(vault.open(sealed, binding), binding)
            else:
                fresh = vault.rewrap(sealed, binding)
            setattr(row, column.key_id, fresh.key_id)
            setattr(row, column.blob, fresh.blob)
        return len(rows)
