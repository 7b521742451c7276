"""Channels are open: any channel's name is stored, not only the three built in, so a
new channel needs no schema change (migration 0011 on a database in use)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import exc
from sqlmodel import col

from storage import conversations, migrate, notices, users
from storage.database import Database
from storage.models import Channel, ConversationState, Notice, User
from storage.vault import Vault
from tests.storage.conftest import NOW

MEMORY = Channel("memory")


async def _migrate(database: Database, verb: str, revision: str) -> None:
    """`alembic upgrade|downgrade revision`, as `storage.migrate` runs it."""
    step = command.upgrade if verb == "upgrade" else command.downgrade
    async with database.write() as session:
        connection = await session.connection()
        await connection.run_sync(lambda sync: step(migrate.alembic_config(sync), revision))


async def test_a_channel_outside_the_built_in_three_is_stored_and_read_back(
    database: Database, vault: Vault
) -> None:
    """A user, a conversation and a lookup of a channel named only here, on each engine;
    read back as a `Channel` equal to its name."""
    async with database.write() as session:
        created = await users.get_or_create(session, MEMORY, "someone", NOW)
        await conversations.save(
            session, vault, MEMORY, "someone", flow="register", step="waiting", data={},
            secret=None, expected_version=None, expires_at=None, now=NOW,
        )  # fmt: skip
    async with database.read() as session:
        found = await users.find(session, MEMORY, "someone")
        assert found is not None
        assert found.id == created.id
        assert isinstance(found.channel, Channel)
        assert found.channel == "memory"
        assert found.channel.value == "memory"
        assert await users.find(session, Channel.CONSOLE, "someone") is None
        [state] = (await session.scalars(sa.select(ConversationState))).all()
        assert (state.channel, state.flow) == (MEMORY, "register")


@pytest.mark.parametrize("name", ["", "Memory", "a b", "kakao!", "x" * 17, "1st"])
def test_a_name_that_is_not_a_channel_is_refused(name: str) -> None:
    """Lowercase letters, digits and `_`, starting with a letter, 16 at most: what the
    column holds and a metric label or lease key can carry."""
    with pytest.raises(ValueError, match="not a channel name"):
        Channel(name)


def test_the_built_in_channels_read_as_their_names() -> None:
    """As the enum they replace: formatted, compared and hashed as their names."""
    assert (Channel.TELEGRAM, Channel.KAKAO, Channel.CONSOLE) == ("telegram", "kakao", "console")
    assert f"lane:{Channel.KAKAO}" == "lane:kakao"
    keyed: dict[str, int] = {Channel.CONSOLE: 1}
    assert keyed["console"] == 1
    assert repr(Channel.TELEGRAM) == "Channel('telegram')"


async def test_0011_opens_the_channels_of_a_database_in_use(database: Database) -> None:
    """At 0010 a channel outside the three is refused; 0011 keeps every row (and the
    foreign keys pointing at users) and takes it; going back refuses it again."""
    await _migrate(database, "downgrade", "0010")
    async with database.write() as session:
        kept = await users.get_or_create(session, Channel.TELEGRAM, "42", NOW)
        assert kept.id is not None
        await notices.add(session, kept.id, message_id="m", text="t", choices=[],
                          certificates=[], now=NOW)  # fmt: skip
    with pytest.raises(exc.IntegrityError):
        async with database.write() as session:
            await users.get_or_create(session, MEMORY, "someone", NOW)

    await _migrate(database, "upgrade", "head")
    async with database.write() as session:
        assert (await session.scalars(sa.select(col(Notice.owner_id)))).all() == [kept.id]
        [user] = (await session.scalars(sa.select(User))).all()
        assert user.channel == Channel.TELEGRAM
        added = await users.get_or_create(session, MEMORY, "someone", NOW)
    if database.is_sqlite:
        async with database.read() as session:
            broken = (await session.execute(sa.text("PRAGMA foreign_key_check"))).all()
            assert broken == []

    async with database.write() as session:
        await users.delete(session, added.id or 0)
    await _migrate(database, "downgrade", "0010")
    with pytest.raises(exc.IntegrityError):
        async with database.write() as session:
            await users.get_or_create(session, MEMORY, "someone", NOW)
    await _migrate(database, "upgrade", "head")
