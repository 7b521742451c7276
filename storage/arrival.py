"""What the conversation engine reads first for every message, in one statement.

The user, their saved step and whether notices wait for them are three
lookups on the path of every message; one statement (a join and an EXISTS)
saves two round trips to the database on each.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select
from sqlmodel.sql.expression import Select

from storage import conversations
from storage.conversations import Saved
from storage.models import Channel, ConversationState, Notice, User
from storage.vault import Vault


@dataclass(frozen=True, slots=True)
class Arrival:
    user: User | None
    """None on first contact."""
    saved: Saved | None
    notices_waiting: bool


async def look_up(session: AsyncSession, vault: Vault, channel: Channel, user_key: str) -> Arrival:
    """The user behind (channel, user_key), their saved step, and whether notices wait."""
    found = await session.execute(_statement(), {"channel": channel, "user_key": user_key})
    row = found.first()
    if row is None:  # first contact: a step is only ever saved for an existing user
        return Arrival(None, None, False)
    user, state, notices_waiting = row
    return Arrival(user, conversations.saved_from(vault, state), bool(notices_waiting))


@cache
def _statement() -> Select[User, ConversationState, bool]:
    """Built once: it runs for every message, and building costs more than executing."""
    waiting = (
        sa.exists()
        .where(col(Notice.owner_id) == col(User.id), col(Notice.shown_at).is_(None))
        .label("notices_waiting")
    )
    return (
        select(User, ConversationState, waiting)
        .outerjoin(
            ConversationState,
            sa.and_(
                col(ConversationState.channel) == col(User.channel),
                col(ConversationState.user_key) == col(User.user_key),
            ),
        )
        .where(col(User.channel) == sa.bindparam("channel"))
        .where(col(User.user_key) == sa.bindparam("user_key"))
        .execution_options(populate_existing=True)
    )
