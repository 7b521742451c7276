"""Every column that holds a vault-sealed blob, and which master keys the database uses.

One list, used by the rotation (which must reach every sealed record) and by
the start-up check (which must know whether any sealed record exists, and
under which key ids). A new sealed column belongs here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlmodel import col

from storage import accounts, certificates, conversations, links, updates
from storage.database import Database
from storage.models import (
    CertificateSecret,
    ConversationState,
    LinkedAccount,
    ProcessedUpdate,
    SecureLink,
)
from storage.vault import Binding


@dataclass(frozen=True, slots=True)
class SealedColumn:
    """Where one kind of sealed blob lives, and what it is bound to."""

    model: Any
    key_id: str
    blob: str
    binding: Callable[[Any], Binding]

    @property
    def key_column(self) -> Any:
        return col(getattr(self.model, self.key_id))


SEALED: Final = (
    SealedColumn(
        CertificateSecret,
        "key_id",
        "sealed",
        lambda row: certificates.binding(row.certificate_id, row.owner_id),
    ),
    SealedColumn(
        LinkedAccount,
        "number_key_id",
        "number_sealed",
        lambda row: accounts.binding(row.id, row.owner_id),
    ),
    SealedColumn(
        ConversationState,
        "sealed_key_id",
        "sealed",
        lambda row: conversations.binding(row.channel, row.user_key),
    ),
    SealedColumn(
        ProcessedUpdate,
        "sealed_key_id",
        "sealed",
        lambda row: updates.binding(row.channel, row.update_id),
    ),
    SealedColumn(
        SecureLink,
        "sealed_key_id",
        "sealed",
        lambda row: links.binding(row.token_hash, row.owner_id),
    ),
)


async def key_ids_in_use(database: Database) -> dict[str, int]:
    """How many sealed records each master key id wraps, over every sealed column."""
    counts: dict[str, int] = {}
    async with database.read() as session:
        for column in SEALED:
            key = column.key_column
            rows = await session.execute(
                sa.select(key, sa.func.count()).where(key.is_not(None)).group_by(key)
            )
            for key_id, count in rows:
                counts[key_id] = counts.get(key_id, 0) + count
    return counts
