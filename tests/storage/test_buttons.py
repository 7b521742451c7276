"""Button tokens on both engines: each user keeps at most `per_user`; the oldest go."""

from __future__ import annotations

from datetime import datetime, timedelta

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


async def test_a_typed_label_finds_only_the_latest_answers_button(database: Database) -> None:
    """Typing what a button says finds it among the latest answer's buttons only: not an
    older answer's, not another user's, not an expired one, and not when two different
    buttons of the answer say the same."""
    older = buttons.Action("old:press", {})
    renew_a = buttons.Action("renew:start", {"certificate": 1})
    renew_b = buttons.Action("renew:start", {"certificate": 2})
    first, latest = NOW + timedelta(days=7), NOW + timedelta(days=7, minutes=1)
    async with database.write() as session:
        await buttons.issue(session, Channel.KAKAO, "u", older, first, label="예전")
        await buttons.issue(session, Channel.KAKAO, "other", older, latest, label="남의것")
    async with database.write() as session:
        for action, label in ((ACTION, "메뉴"), (renew_a, "갱신"), (renew_b, "갱신")):
            await buttons.issue(session, Channel.KAKAO, "u", action, latest, label=label)
        await buttons.issue(session, Channel.KAKAO, "u", ACTION, latest, label="메뉴")

    async def typed(label: str, now: datetime = NOW, user: str = "u") -> buttons.Action | None:
        async with database.read() as session:
            return await buttons.typed(session, Channel.KAKAO, user, label, now)

    assert await typed("메뉴") == ACTION  # shown twice, the same action: no doubt
    assert await typed("예전") is None  # an older answer's
    assert await typed("남의것") is None  # another user's
    assert await typed("남의것", user="other") == older
    assert await typed("갱신") is None  # two certificates' buttons: ambiguous
    assert await typed("없는말") is None
    assert await typed("메뉴", now=latest) is None  # expired
