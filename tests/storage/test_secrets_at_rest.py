"""After a realistic run, no secret is anywhere on disk in the clear, and shredding shreds."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

import npki
from storage import accounts, certificates, conversations, migrate, users
from storage.database import Database
from storage.keyring import KeyringFile, create
from storage.models import AccountKind, Channel, metadata
from storage.vault import Vault
from tests import factory
from tests.conftest import Holder
from tests.storage.conftest import NOW

NUMBERS = ["110-123-456789", "1002-345-678901", "3333011234567"]


def _windows(data: bytes, size: int = 16) -> list[bytes]:
    """Every `size`-byte slice of `data` at a stride: a leak of any part is caught."""
    return [data[i : i + size] for i in range(0, max(len(data) - size, 1), 8)]


def _needles(holder: Holder, key_file: bytes) -> dict[str, list[bytes]]:
    digits = [n.replace("-", "") for n in NUMBERS]
    return {
        "account number": [n.encode() for n in NUMBERS + digits],
        "signPri.key bytes": _windows(key_file),
        "decrypted key material": _windows(holder.plain),
        "password": [factory.PASSWORD],
    }


async def _realistic_run(db: Database, vault: Vault, holder: Holder, key_file: bytes) -> None:
    """Users register certificates with keys, link accounts, leave a file waiting; one deletes."""
    opened = npki.open_pair(holder.cert_der, key_file, factory.PASSWORD)
    files = {"signCert.der": holder.cert_der, "signPri.key": key_file}
    doomed = doomed_owner = 0
    for index, user_key in enumerate(["alice", "bob", "carol"]):
        async with db.write() as session:
            user = await users.get_or_create(session, Channel.TELEGRAM, user_key, NOW)
            assert user.id is not None
            cert = await certificates.add(
                session, vault, user.id, opened.certificate, files,
                key_encryption=opened.encryption, now=NOW,
            )  # fmt: skip
            assert cert.id is not None
            await accounts.link(
                session, vault, user.id, cert.id, institution_code="088",
                kind=AccountKind.BANK, nickname="급여", number=NUMBERS[index], now=NOW,
            )  # fmt: skip
            await conversations.save(
                session, vault, Channel.TELEGRAM, user_key, flow="add", step="partner",
                data={"waiting_for": "signPri.key"}, secret=key_file,
                expected_version=None, expires_at=None, now=NOW,
            )  # fmt: skip
            if user_key == "carol":
                doomed = cert.id
                doomed_owner = user.id
    async with db.write() as session:
        await certificates.delete(session, doomed_owner, doomed)
        await conversations.clear(session, Channel.TELEGRAM, "carol")


async def test_sqlite_files_hold_no_secret_in_the_clear(
    tmp_path: Path, holder: Holder, seed_key: bytes
) -> None:
    """Scan the database, its WAL and the whole data directory byte by byte."""
    data_dir = tmp_path / "data"
    db = Database.connect(f"sqlite+aiosqlite:///{data_dir / 'certmate.db'}")
    await migrate.upgrade(db)
    create(data_dir / "master.key")
    vault = Vault(KeyringFile(data_dir / "master.key"))
    try:
        await _realistic_run(db, vault, holder, seed_key)
        # While open, the WAL and shared-memory files are there too.
        assert _scan(data_dir, _needles(holder, seed_key)) == []
    finally:
        await db.close()
    assert _scan(data_dir, _needles(holder, seed_key)) == []


def _scan(folder: Path, needles: dict[str, list[bytes]]) -> list[str]:
    found = []
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert any(p.name == "certmate.db" for p in files)
    for path in files:
        content = path.read_bytes()
        for what, patterns in needles.items():
            if any(pattern in content for pattern in patterns):
                found.append(f"{what} in {path.name}")
    return found


async def test_deleted_secrets_leave_no_trace_in_sqlite_files(
    tmp_path: Path, holder: Holder, seed_key: bytes
) -> None:
    """A deleted certificate's sealed blob (and wrapped key) is gone from every file."""
    data_dir = tmp_path / "data"
    db = Database.connect(f"sqlite+aiosqlite:///{data_dir / 'certmate.db'}")
    await migrate.upgrade(db)
    create(data_dir / "master.key")
    vault = Vault(KeyringFile(data_dir / "master.key"))
    try:
        async with db.write() as session:
            user = await users.get_or_create(session, Channel.TELEGRAM, "dave", NOW)
            assert user.id is not None
            cert = await certificates.add(
                session, vault, user.id, npki.read_certificate(holder.cert_der),
                {"signCert.der": holder.cert_der, "signPri.key": seed_key},
                key_encryption="seed-cbc-sha1", now=NOW,
            )  # fmt: skip
        async with db.read() as session:
            blob = await session.scalar(sa.text("SELECT sealed FROM certificate_secrets"))
        assert blob
        assert _scan(data_dir, {"blob": _windows(bytes(blob), 24)})
        async with db.write() as session:
            await certificates.delete(session, user.id, cert.id or 0)
        assert _scan(data_dir, {"blob": _windows(bytes(blob), 24)}) == []
    finally:
        await db.close()


async def test_no_column_holds_a_secret_in_the_clear(
    database: Database, vault: Vault, holder: Holder, seed_key: bytes
) -> None:
    """On every engine: no value in any table contains a secret's bytes."""
    await _realistic_run(database, vault, holder, seed_key)
    needles = _needles(holder, seed_key)
    async with database.read() as session:
        for table in metadata.sorted_tables:
            for row in (await session.execute(sa.select(table))).all():
                for value in row:
                    raw = value if isinstance(value, bytes) else str(value).encode()
                    for what, patterns in needles.items():
                        if any(p in raw for p in patterns):
                            pytest.fail(f"{what} in {table.name}")


async def test_database_errors_name_no_values(database: Database) -> None:
    """A failing statement's error (which a log may show) carries no bound value: a user
    key, a name or a text never reaches a log through a database error."""
    async with database.write() as session:
        await users.get_or_create(session, Channel.TELEGRAM, "user-key-4242", NOW)
    with pytest.raises(sa.exc.IntegrityError) as raised:
        async with database.write() as session:
            await session.execute(
                sa.insert(metadata.tables["users"]),
                {
                    "channel": Channel.TELEGRAM,
                    "user_key": "user-key-4242",
                    "locale": "ko",
                    "timezone": "Asia/Seoul",
                    "reminders_enabled": True,
                    "reachable": True,
                    "created_at": NOW,
                    "updated_at": NOW,
                },
            )
    assert "user-key-4242" not in str(raised.value)
