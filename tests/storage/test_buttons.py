"""Button tokens on both engines: each user keeps at most `per_user`; the oldest go."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import col

from storage import buttons
from storage.database import Database
from storage.models import ButtonToken, Channel
from tests.storage.conftest import NOW

ACTION = buttons.Action("menu:open", {})


async def _count(database: Database, user_key: str) -> int:
    async with database.read() as session:
        total = await session.scalar(
            sa.select(sa.func.count())
            .select_from(ButtonToken)
            .where(col(ButtonToken.user_key) == user_key)
        )
    return int(total or 0)


async def test_tokens_beyond_the_cap_are_pruned_oldest_first(database: Database) -> None:
    """30 replies of 8 buttons with a cap of 200: the user keeps the 200 newest; the
    newest reply's buttons all resolve, the first reply's none. Another user's tokens
    are not touched."""
    async with database.write() as session:
        theirs = await buttons.issue(
            session, Channel.TELEGRAM, "other", ACTION, NOW + timedelta(days=7)
        )
    replies = []
    for number in range(30):
        expires = NOW + timedelta(days=7, minutes=number)
        async with database.write() as session:
            replies.append(
                [
                    await buttons.issue(session, Channel.TELEGRAM, "u", ACTION, expires)
                    for _ in range(8)
                ]
            )
    assert await _count(database, "u") == 200
    assert await _count(database, "other") == 1
    async with database.read() as session:
        for token in replies[-1]:
            assert await buttons.resolve(session, Channel.TELEGRAM, "u", token, NOW) == ACTION
        for token in replies[0]:
            assert await buttons.resolve(session, Channel.TELEGRAM, "u", token, NOW) is None
        assert await buttons.resolve(session, Channel.TELEGRAM, "other", theirs, NOW) == ACTION


async def test_the_cap_is_a_parameter(database: Database) -> None:
    """With `per_user=3`, one reply of five buttons keeps three of them."""
    async with database.write() as session:
        for _ in range(5):
            await buttons.issue(
                session, Channel.KAKAO, "k", ACTION, NOW + timedelta(days=1), per_user=3
            )
    assert await _count(database, "k") == 3
