"""Conversation state: where each user is in a flow, saved after every step.

Saves are optimistic: a save names the version it read, and fails with
`StaleState` if another message saved in between. Secret data waiting in a
flow (the first file of a pair, an upload waiting for its password) is
sealed by the vault, never stored in the clear, not even for a moment. A
save that replaces or drops a sealed secret, and every `clear`, shreds the
old blob: `secure_delete` zeroes it and the write checkpoints the WAL. A flow
left alone past its expiry has its secret shredded by housekeeping
(`drop_expired_secrets`): a user who never writes again leaves no files held.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.database import SHREDDED
from storage.errors import StaleState
from storage.models import Channel, ConversationState
from storage.sql import affected, insert_ignore
from storage.vault import Binding, Sealed, Vault


@dataclass(frozen=True, slots=True)
class Saved:
    """A conversation step as stored: public data, and the secret part if any (unsealed)."""

    flow: str
    step: str
    data: dict[str, Any]
    secret: bytes | None
    version: int
    expires_at: datetime | None
    awaiting_secret: bool = False
    """Its last reply asked for a password: the next text is one (taken off the chat,
    even late or rate-limited)."""


AWAITING_SECRET: Final = "_secret_next"  # noqa: S105  (a field's name, not a secret)
"""Where `awaiting_secret` is kept in the stored data (the name processes of every
version read, so a rolling upgrade loses no password prompt)."""


def binding(channel: Channel, user_key: str) -> Binding:
    identity = f"{channel.value}:{user_key}"
    return Binding("conversation", identity, identity)


async def load(
    session: AsyncSession, vault: Vault, channel: Channel, user_key: str
) -> Saved | None:
    """The user's saved step, or None when they are not in a flow."""
    return saved_from(vault, await _row(session, channel, user_key))


def saved_from(vault: Vault, state: ConversationState | None) -> Saved | None:
    """A stored row as a `Saved` step, its secret part unsealed."""
    if state is None:
        return None
    channel, user_key = state.channel, state.user_key
    secret = None
    if state.sealed is not None and state.sealed_key_id is not None:
        secret = vault.open(Sealed(state.sealed_key_id, state.sealed), binding(channel, user_key))
    data = dict(state.data)
    awaiting = bool(data.pop(AWAITING_SECRET, False))
    return Saved(state.flow, state.step, data, secret, state.version, state.expires_at, awaiting)


async def save(
    session: AsyncSession,
    vault: Vault,
    channel: Channel,
    user_key: str,
    *,
    flow: str,
    step: str,
    data: dict[str, Any],
    secret: bytes | None,
    expected_version: int | None,
    expires_at: datetime | None,
    now: datetime,
    awaiting_secret: bool = False,
) -> int:
    """Save a step; returns the new version.

    `expected_version` is the version that was loaded (None: there was none).
    Raises `StaleState` when the stored state moved on meanwhile.
    """
    sealed = vault.seal(secret, binding(channel, user_key)) if secret is not None else None
    values: dict[str, Any] = {
        "flow": flow,
        "step": step,
        "data": {**data, AWAITING_SECRET: True} if awaiting_secret else data,
        "sealed_key_id": sealed.key_id if sealed else None,
        "sealed": sealed.blob if sealed else None,
        "expires_at": expires_at,
        "updated_at": now,
    }
    if expected_version is None:
        statement = insert_ignore(
            session,
            ConversationState,
            {"channel": channel, "user_key": user_key, "version": 1, **values},
            ["channel", "user_key"],
        )
        inserted = await session.execute(statement)
        if not affected(inserted):
            raise StaleState(f"{channel.value}:{user_key}")
        return 1
    had_secret = await session.scalar(
        select(col(ConversationState.sealed).is_not(None)).where(
            col(ConversationState.channel) == channel, col(ConversationState.user_key) == user_key
        )
    )
    updated = await session.execute(
        sa.update(ConversationState)
        .where(
            col(ConversationState.channel) == channel,
            col(ConversationState.user_key) == user_key,
            col(ConversationState.version) == expected_version,
        )
        .values(version=expected_version + 1, **values)
    )
    if not affected(updated):
        raise StaleState(f"{channel.value}:{user_key}")
    if had_secret:
        session.info[SHREDDED] = True
    return expected_version + 1


async def clear(session: AsyncSession, channel: Channel, user_key: str) -> None:
    """Leave any flow; a sealed secret waiting in it is shredded."""
    await session.execute(
        sa.delete(ConversationState).where(
            col(ConversationState.channel) == channel,
            col(ConversationState.user_key) == user_key,
        )
    )
    session.info[SHREDDED] = True


async def drop_expired_secrets(session: AsyncSession, now: datetime, limit: int = 5_000) -> int:
    """Shred the secrets of up to `limit` conversations expired by `now`; returns how
    many (call again while it returns `limit`). The row stays: the user's next message
    still hears that the flow was forgotten, which never needs the secret."""
    expired = (
        select(ConversationState.id)
        .where(
            col(ConversationState.expires_at) <= now,
            col(ConversationState.sealed).is_not(None),
        )
        .limit(limit)
    )
    result = await session.execute(
        sa.update(ConversationState)
        .where(col(ConversationState.id).in_(expired.scalar_subquery()))
        .values(sealed=None, sealed_key_id=None)
    )
    dropped = affected(result)
    if dropped:
        session.info[SHREDDED] = True
    return dropped


async def _row(session: AsyncSession, channel: Channel, user_key: str) -> ConversationState | None:
    return await session.scalar(
        select(ConversationState)
        .where(
            col(ConversationState.channel) == channel, col(ConversationState.user_key) == user_key
        )
        .execution_options(populate_existing=True)
    )
