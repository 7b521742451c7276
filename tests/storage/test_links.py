"""Secure links on both engines: issued bound to one user, found by token only, claimed
once, their key destroyed when used, pruned when expired, re-wrapped by key rotation."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import col

from storage import links, users
from storage.database import Database
from storage.keyring import create, load
from storage.links import LIFETIME, OpenedLink, Purpose, Refusal
from storage.models import Channel, SecureLink
from storage.rotation import rotate
from storage.vault import Vault
from tests.storage.conftest import NOW


async def _owner(database: Database) -> int:
    async with database.write() as session:
        user = await users.get_or_create(session, Channel.KAKAO, "k1", NOW)
        assert user.id is not None
        return user.id


async def test_a_link_opens_for_its_token_until_used(database: Database, vault: Vault) -> None:
    """The token finds the link (its purpose, details and key); a claim takes it once; a
    settled link has no key and refuses as used; a released one opens again."""
    owner = await _owner(database)
    async with database.write() as session:
        issued = await links.issue(
            session, vault, owner, Purpose.EXPORT, NOW, details={"id": 7, "target": "pfx"}
        )
    async with database.read() as session:
        found = await links.find(session, vault, issued.token, NOW)
    assert isinstance(found, OpenedLink)
    assert (found.owner_id, found.purpose, found.details) == (
        owner,
        Purpose.EXPORT,
        {"id": 7, "target": "pfx"},
    )
    assert found.public_key == issued.public_key
    assert found.expires_at == NOW + LIFETIME
    async with database.write() as session:
        assert await links.claim(session, found.id, owner, NOW)
        assert not await links.claim(session, found.id, owner, NOW)  # taken
        await links.settle(session, found.id, keep_open=True)  # a wrong password: open again
    async with database.write() as session:
        assert not await links.claim(session, found.id, owner + 1, NOW)  # not theirs
        assert await links.claim(session, found.id, owner, NOW)
        await links.settle(session, found.id, keep_open=False)
    async with database.read() as session:
        assert await links.find(session, vault, issued.token, NOW) is Refusal.USED
        row = (await session.scalars(sa.select(SecureLink))).one()
    assert (row.sealed, row.sealed_key_id) == (None, None)
    assert row.token_hash == links.token_hash(issued.token) != issued.token


async def test_unknown_and_expired_links_are_refused(database: Database, vault: Vault) -> None:
    """A token that differs by one character, an empty one, or one past its ten minutes
    opens nothing."""
    owner = await _owner(database)
    async with database.write() as session:
        issued = await links.issue(session, vault, owner, Purpose.REGISTER, NOW)
    async with database.read() as session:
        other = ("y" if issued.token[0] == "x" else "x") + issued.token[1:]  # never the token
        assert await links.find(session, vault, other, NOW) is Refusal.UNKNOWN
        assert await links.find(session, vault, "", NOW) is Refusal.UNKNOWN
        later = NOW + LIFETIME
        assert await links.find(session, vault, issued.token, later) is Refusal.EXPIRED


async def test_expired_links_are_pruned_with_their_keys(database: Database, vault: Vault) -> None:
    """Housekeeping deletes links past their expiry, in batches, and keeps the live ones."""
    owner = await _owner(database)
    async with database.write() as session:
        for _ in range(3):
            await links.issue(session, vault, owner, Purpose.REGISTER, NOW - timedelta(hours=1))
        live = await links.issue(session, vault, owner, Purpose.REGISTER, NOW)
    async with database.write() as session:
        assert await links.prune(session, NOW, limit=2) == 2
    async with database.write() as session:
        assert await links.prune(session, NOW, limit=2) == 1
    async with database.read() as session:
        assert isinstance(await links.find(session, vault, live.token, NOW), OpenedLink)
        assert len((await session.scalars(sa.select(SecureLink))).all()) == 1


async def test_key_rotation_rewraps_open_links(database: Database, tmp_path: Path) -> None:
    """A link issued under the old master key still opens after a rotation retired it."""
    key_file = tmp_path / "master.key"
    old = Vault(create(key_file))
    owner = await _owner(database)
    async with database.write() as session:
        issued = await links.issue(session, old, owner, Purpose.REGISTER, NOW)
    report = await rotate(database, key_file, now=NOW)
    assert report.moved == 1
    new = Vault(load(key_file))
    async with database.read() as session:
        found = await links.find(session, new, issued.token, NOW)
    assert isinstance(found, OpenedLink)
    assert found.public_key == issued.public_key


async def test_a_sixth_open_link_revokes_the_oldest(database: Database, vault: Vault) -> None:
    """A user keeps at most 5 open links: the sixth revokes the oldest unused one (its
    key destroyed, its page says a newer link replaced it). A link being submitted
    (claimed) or used, and another user's links, are left alone."""
    owner = await _owner(database)
    async with database.write() as session:
        other = await users.get_or_create(session, Channel.KAKAO, "k2", NOW)
        assert other.id is not None
        theirs = await links.issue(session, vault, other.id, Purpose.REGISTER, NOW)
    issued = []
    for minute in range(5):
        async with database.write() as session:
            moment = NOW + timedelta(minutes=minute)
            issued.append(await links.issue(session, vault, owner, Purpose.REGISTER, moment))
    async with database.write() as session:  # the second is being submitted right now
        second = await links.find(session, vault, issued[1].token, NOW)
        assert isinstance(second, OpenedLink)
        assert await links.claim(session, second.id, owner, NOW)
    for minute in (5, 6):
        async with database.write() as session:
            moment = NOW + timedelta(minutes=minute)
            issued.append(await links.issue(session, vault, owner, Purpose.REGISTER, moment))
    later = NOW + timedelta(minutes=7)
    async with database.read() as session:
        found = [await links.find(session, vault, link.token, later) for link in issued]
        assert isinstance(await links.find(session, vault, theirs.token, later), OpenedLink)
    # The claimed 2nd is not open: the 6th link fits beside 1, 3, 4, 5; the 7th revokes
    # the 1st. The 2nd stays claimed (used until settled), never revoked.
    assert found[0] is Refusal.REPLACED
    assert found[1] is Refusal.USED
    assert all(isinstance(link, OpenedLink) for link in found[2:])
    async with database.read() as session:
        rows = (await session.scalars(sa.select(SecureLink).order_by(col(SecureLink.id)))).all()
    revoked = [row for row in rows if row.owner_id == owner and row.sealed is None]
    assert len(revoked) == 1


async def test_the_open_link_cap_is_a_parameter(database: Database, vault: Vault) -> None:
    """With a cap of 1, every new link revokes the previous one."""
    owner = await _owner(database)
    async with database.write() as session:
        first = await links.issue(session, vault, owner, Purpose.EXPORT, NOW, open_per_user=1)
    async with database.write() as session:
        second = await links.issue(session, vault, owner, Purpose.EXPORT, NOW, open_per_user=1)
    async with database.read() as session:
        assert await links.find(session, vault, first.token, NOW) is Refusal.REPLACED
        assert isinstance(await links.find(session, vault, second.token, NOW), OpenedLink)
