"""Users: one row per channel identity. Deleting one deletes everything of theirs."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage import buttons
from storage.database import SHREDDED
from storage.errors import NotFound
from storage.models import ButtonToken, Channel, ConversationState, User


async def find(session: AsyncSession, channel: Channel, user_key: str) -> User | None:
    return await session.scalar(
        select(User).where(col(User.channel) == channel, col(User.user_key) == user_key)
    )


async def get(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id}")
    return user


async def get_many(session: AsyncSession, user_ids: Collection[int]) -> dict[int, User]:
    rows = await session.scalars(select(User).where(col(User.id).in_(list(user_ids))))
    return {user.id: user for user in rows.all() if user.id is not None}


async def get_or_create(
    session: AsyncSession,
    channel: Channel,
    user_key: str,
    now: datetime,
    *,
    timezone: str = "Asia/Seoul",
) -> User:
    """The user for this identity, created on first contact (in `timezone`).
    Writing marks them reachable again."""
    return await ensure(
        session, await find(session, channel, user_key), channel, user_key, now, timezone=timezone
    )


async def ensure(
    session: AsyncSession,
    found: User | None,
    channel: Channel,
    user_key: str,
    now: datetime,
    *,
    timezone: str = "Asia/Seoul",
) -> User:
    """`found` (the user of this identity, already looked up) marked reachable, or the
    user created on first contact."""
    user = found
    if user is None:
        user = User(
            channel=channel,
            user_key=user_key,
            timezone=timezone,
            created_at=now,
            updated_at=now,
        )
        session.add(user)
        await session.flush()
    elif not user.reachable:
        user.reachable = True
        user.updated_at = now
    return user


async def set_reachable(
    session: AsyncSession, user_id: int, reachable: bool, now: datetime
) -> None:
    """Mark a user (un)reachable, e.g. after they blocked the bot."""
    user = await get(session, user_id)
    user.reachable = reachable
    user.updated_at = now


async def delete(session: AsyncSession, user_id: int) -> None:
    """Delete a user and, by cascade, their certificates, secrets, accounts, reminders, audit."""
    user = await get(session, user_id)
    await buttons.write_pending(session)  # so that the delete below takes them too
    for model in (ConversationState, ButtonToken):
        await session.execute(
            sa.delete(model).where(
                col(model.channel) == user.channel, col(model.user_key) == user.user_key
            )
        )
    await session.execute(sa.delete(User).where(col(User.id) == user_id))
    session.info[SHREDDED] = True
