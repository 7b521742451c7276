"""A dropped secret leaves no recoverable copy in SQLite's files, not even for the key holder.

Each test writes secrets the way certmate does, drops them, copies
certmate.db, -wal and -shm as a thief would and carves the copies
(tests/carver.py) with the master key: the dropped secrets must be gone,
the live ones still found (so the carver can see).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage import conversations, migrate, updates, users
from storage.database import Database
from storage.keyring import Keyring, new_keyring
from storage.models import Channel
from storage.vault import Vault
from tests import carver
from tests.storage.conftest import NOW

PASSWORD = "typed-in-chat-6Wd!"  # noqa: S105  (a test password)
FIRST = "first-secret-2Hh%"
SECOND = "second-secret-9Rk&"
USER = "5151"
DAY = timedelta(days=1)


@pytest.fixture
def keyring() -> Keyring:
    return new_keyring()


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'certmate.db'}")
    await migrate.upgrade(db)
    try:
        yield db
    finally:
        await db.close()


def _carve(tmp_path: Path, keyring: Keyring, update_ids: range, into: str) -> list[carver.Find]:
    copied = carver.copy_sqlite_files(tmp_path / "data", tmp_path / into)
    bindings = carver.bindings_for(Channel.TELEGRAM, [USER], update_ids)
    return carver.carve(copied, keyring, bindings, [PASSWORD, FIRST, SECOND])


def _body(update_id: int, text: str, padding: int) -> bytes:
    """A Telegram update; `padding` makes it span SQLite overflow pages when large."""
    message = {"chat": {"id": int(USER)}, "text": text, "entities": "x" * padding}
    return json.dumps({"update_id": update_id, "message": message}).encode()


@pytest.mark.parametrize("padding", [0, 20_000], ids=["one page", "overflow pages"])
async def test_handled_update_bodies_cannot_be_carved(
    sqlite: Database, keyring: Keyring, tmp_path: Path, padding: int
) -> None:
    """Updates recorded (one carrying a typed password), then marked handled in one
    batch: the copy gives up nothing; before, it gave up the password."""
    vault = Vault(keyring)
    async with sqlite.write() as session:
        row_ids = [
            await updates.record(
                session, vault, Channel.TELEGRAM, str(n), _body(n, text, padding), now=NOW
            )
            for n, text in ((1, "/add"), (2, PASSWORD), (3, "/help"))
        ]
    assert carver.Find(PASSWORD, "certmate.db-wal", "update telegram:2") in _carve(
        tmp_path, keyring, range(1, 4), "before"
    )
    async with sqlite.write() as session:
        await updates.mark_handled(session, [r for r in row_ids if r is not None], NOW)
    assert _carve(tmp_path, keyring, range(1, 4), "after") == []


@pytest.mark.parametrize("size", [200, 30_000], ids=["one page", "overflow pages"])
async def test_a_replaced_or_dropped_conversation_secret_cannot_be_carved(
    sqlite: Database, keyring: Keyring, tmp_path: Path, size: int
) -> None:
    """A conversation re-saved with another secret, then with none (the flow still on):
    each dropped secret is gone at once, the one still held is found."""
    vault = Vault(keyring)
    async with sqlite.write() as session:
        await users.get_or_create(session, Channel.TELEGRAM, USER, NOW)
    version = None
    for secret in (FIRST, SECOND, None):
        async with sqlite.write() as session:
            version = await conversations.save(
                session, vault, Channel.TELEGRAM, USER, flow="export", step="current",
                data={}, secret=secret.encode().ljust(size, b".") if secret else None,
                expected_version=version, expires_at=None, now=NOW,
            )  # fmt: skip
        found = {f.secret for f in _carve(tmp_path, keyring, range(0), f"after-{secret}")}
        assert found == ({secret} if secret else set())


async def test_a_reader_open_during_the_drop_delays_the_shredding_but_not_for_ever(
    sqlite: Database, keyring: Keyring, tmp_path: Path
) -> None:
    """A read transaction still open when the body is dropped keeps the old page
    readable to it; the checkpoint waits for it to end instead of leaving the WAL."""
    vault = Vault(keyring)
    async with sqlite.write() as session:
        row_id = await updates.record(
            session, vault, Channel.TELEGRAM, "7", _body(7, PASSWORD, 0), now=NOW
        )
    assert row_id is not None
    reading = asyncio.Event()
    release = asyncio.Event()

    async def long_reader() -> None:
        async with sqlite.read() as session:
            await session.execute(sa.text("SELECT count(*) FROM processed_updates"))
            reading.set()
            await release.wait()

    reader = asyncio.create_task(long_reader())
    await reading.wait()

    async def drop() -> None:
        async with sqlite.write() as session:
            await updates.mark_handled(session, [row_id], NOW)

    dropping = asyncio.create_task(drop())
    await asyncio.sleep(0.3)
    assert not dropping.done()  # the checkpoint waits for the reader
    release.set()
    await asyncio.gather(reader, dropping)
    assert _carve(tmp_path, keyring, range(7, 8), "after") == []


async def test_what_an_abandoned_flow_holds_is_shredded_once_it_expired(
    sqlite: Database, keyring: Keyring, tmp_path: Path
) -> None:
    """A flow that holds a secret and is never answered again: once it expired, the
    housekeeping drop leaves nothing to carve (before, the sealed files stayed for good);
    a flow still running keeps its secret."""
    vault = Vault(keyring)
    async with sqlite.write() as session:
        for user_key, secret, expires in ((USER, FIRST, NOW), ("6262", SECOND, NOW + DAY)):
            await users.get_or_create(session, Channel.TELEGRAM, user_key, NOW)
            await conversations.save(
                session, vault, Channel.TELEGRAM, user_key, flow="add", step="collect",
                data={}, secret=secret.encode(), expected_version=None, expires_at=expires,
                now=NOW - DAY,
            )  # fmt: skip
    async with sqlite.write() as session:
        assert await conversations.drop_expired_secrets(session, NOW) == 1
    copied = carver.copy_sqlite_files(tmp_path / "data", tmp_path / "after")
    bindings = carver.bindings_for(Channel.TELEGRAM, [USER, "6262"], range(0))
    found = {find.secret for find in carver.carve(copied, keyring, bindings, [FIRST, SECOND])}
    assert found == {SECOND}
    async with sqlite.read() as session:
        left = await conversations.load(session, vault, Channel.TELEGRAM, USER)
    assert left is not None  # the row stays: the next message hears the flow was forgotten
    assert (left.flow, left.secret) == ("add", None)
