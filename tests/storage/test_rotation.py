"""Master key rotation: every record re-wrapped, resumable after SIGKILL, old key retired."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col

from storage import accounts, certificates, conversations, migrate
from storage.database import Database
from storage.keyring import Keyring, KeyringFile, create, load, write_atomically
from storage.models import (
    AccountKind,
    AccountState,
    Certificate,
    CertificateSecret,
    Channel,
    LinkedAccount,
    User,
)
from storage.rotation import rotate
from storage.sealed import SEALED
from storage.vault import Binding, Sealed, Vault, VaultError
from tests.storage.conftest import NOW

RECORDS = 10_000
ROOT = Path(__file__).resolve().parents[2]


async def _populate(db: Database, vault: Vault, count: int) -> None:
    """`count` certificates with sealed files, plus sealed account numbers and a conversation."""
    async with db.write() as session:
        await session.execute(
            sa.insert(User),
            [{"id": 1, "channel": Channel.TELEGRAM, "user_key": "u", "locale": "ko",
              "timezone": "Asia/Seoul", "reminders_enabled": True, "reachable": True,
              "created_at": NOW, "updated_at": NOW}],
        )  # fmt: skip
        rows = [
            {"id": i, "owner_id": 1, "fingerprint": f"{i:064x}", "subject": "cn=x", "holder": "x",
             "ca": "yessign", "usage": "bank", "holder_type": "personal", "serial": "1",
             "not_before": NOW, "not_after": NOW, "has_private_key": True,
             "reminders_enabled": True, "created_at": NOW, "updated_at": NOW,
             "status": "active"}
            for i in range(1, count + 1)
        ]  # fmt: skip
        await session.execute(sa.insert(Certificate), rows)
        secrets_rows = []
        for i in range(1, count + 1):
            sealed = vault.seal(f"files of {i}".encode(), certificates.binding(i, 1))
            secrets_rows.append(
                {"certificate_id": i, "owner_id": 1, "key_id": sealed.key_id,
                 "sealed": sealed.blob, "created_at": NOW}
            )  # fmt: skip
        await session.execute(sa.insert(CertificateSecret), secrets_rows)
        for i in range(1, 51):
            await accounts.link(
                session, vault, 1, i, institution_code="088", kind=AccountKind.BANK,
                nickname=None, number=f"110-000-{i:06d}", now=NOW,
            )  # fmt: skip
        await conversations.save(
            session, vault, Channel.TELEGRAM, "u", flow="add", step="partner", data={},
            secret=b"waiting file", expected_version=None, expires_at=None, now=NOW,
        )  # fmt: skip


async def _assert_all_open(db: Database, vault: Vault, count: int) -> None:
    """Every sealed record opens with `vault`, and none is wrapped by another key."""
    current = vault.current_key_id
    async with db.read() as session:
        secrets_rows = (await session.execute(sa.select(CertificateSecret))).scalars().all()
        assert len(secrets_rows) == count
        for row in secrets_rows:
            assert row.key_id == current
            plain = vault.open(
                Sealed(row.key_id, row.sealed), certificates.binding(row.certificate_id, 1)
            )
            assert plain == f"files of {row.certificate_id}".encode()
        linked = (await session.execute(sa.select(LinkedAccount))).scalars().all()
        assert len(linked) == 50
        for account in linked:
            assert account.number_key_id == current
            assert account.state == AccountState.LINKED
            number = await accounts.reveal_number(session, vault, 1, account.id or 0)
            assert number == f"110-000-{account.certificate_id:06d}"
        saved = await conversations.load(session, vault, Channel.TELEGRAM, "u")
        assert saved is not None
        assert saved.secret == b"waiting file"


async def test_rotation_of_10000_records(database: Database, tmp_path: Path) -> None:
    """All records are re-wrapped, all open with the new key alone, the old key is gone."""
    key_file = tmp_path / "master.key"
    old = create(key_file)
    await _populate(database, Vault(old), RECORDS)
    report = await rotate(database, key_file, now=NOW, batch_size=1000)
    new = load(key_file)
    assert (report.new_key_id, list(new.keys)) == (new.current, [new.current])
    assert report.retired_key_ids == (old.current,)
    assert report.moved == RECORDS + 51
    assert not report.resumed
    await _assert_all_open(database, Vault(new), RECORDS)


async def test_rotation_killed_halfway_then_run_again(database_url: str, tmp_path: Path) -> None:
    """SIGKILL in the middle of `certmate keys rotate`; a second run finishes, nothing lost."""
    key_file = tmp_path / "keys" / "master.key"
    db = Database.connect(database_url)
    await migrate.upgrade(db)
    original = create(key_file)
    await _populate(db, Vault(original), RECORDS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMATE_")}
    env |= {
        "CERTMATE_DATABASE__URL": database_url,
        "CERTMATE_VAULT__KEY_FILE": str(key_file),
    }
    command = [sys.executable, "-m", "bot", "keys", "rotate", "--batch-size", "20"]
    with subprocess.Popen(  # noqa: ASYNC220  (the test drives a real process)
        command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as process:
        try:
            new_key = await _wait_for_rotation_to_start(key_file)
            await _wait_for_rewrapped(db, new_key, at_least=200)
        finally:
            process.send_signal(signal.SIGKILL)
    async with db.read() as session:
        done = await session.scalar(
            sa.select(sa.func.count()).where(col(CertificateSecret.key_id) == new_key)
        )
    assert 0 < (done or 0) < RECORDS, "the kill must land in the middle of the rotation"
    assert len(json.loads(key_file.read_text())["keys"]) == 2

    finish = await asyncio.to_thread(
        subprocess.run, command, check=False, cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert finish.returncode == 0, finish.stderr
    assert "finished an interrupted rotation" in finish.stdout
    final = load(key_file)
    assert list(final.keys) == [new_key]
    assert original.current not in final.keys
    await _assert_all_open(db, Vault(KeyringFile(key_file)), RECORDS)
    await db.close()


async def _wait_for_rotation_to_start(key_file: Path) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        keyring = load(key_file)
        if len(keyring.keys) == 2:
            return keyring.current
        await asyncio.sleep(0.005)
    raise AssertionError("rotation did not start")


async def _wait_for_rewrapped(db: Database, key_id: str, at_least: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        async with db.read() as session:
            done = await session.scalar(
                sa.select(sa.func.count()).where(col(CertificateSecret.key_id) == key_id)
            )
        if (done or 0) >= at_least:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("rotation made no progress")


# --- re-encryption: a leaked database copy plus its key opens nothing any more ------

REENCRYPT_RECORDS = 3_000
_WRAP_PART = 1 + 12 + 48
"""Format byte, wrap nonce and wrapped data key: the part of a blob (see storage.vault)
that a copy of the database and the master key of its time turn into a data key."""


async def _snapshot(db: Database) -> dict[tuple[str, str], tuple[Sealed, Binding]]:
    """Every sealed record as a thief's copy holds it, with what it is bound to."""
    found = {}
    async with db.read() as session:
        for column in SEALED:
            rows = (await session.scalars(sa.select(column.model))).all()
            for row in rows:
                key_id = getattr(row, column.key_id)
                if key_id is None:
                    continue
                binding = column.binding(row)
                sealed = Sealed(key_id, getattr(row, column.blob))
                found[(binding.kind, binding.record)] = (sealed, binding)
    return found


def _old_data_keys_open(
    before: dict[tuple[str, str], tuple[Sealed, Binding]],
    after: dict[tuple[str, str], tuple[Sealed, Binding]],
    leaked: Keyring,
) -> int:
    """How many records of `after` open with the data keys of the leaked copy `before`:
    each old wrapped data key (opened by the leaked master key) put in front of the
    record's present nonce and ciphertext."""
    thief = Vault(leaked)
    opened = 0
    for where, (old, binding) in before.items():
        new, _ = after[where]
        mixed = Sealed(old.key_id, old.blob[:_WRAP_PART] + new.blob[_WRAP_PART:])
        try:
            thief.open(mixed, binding)
        except VaultError:
            continue
        opened += 1
    return opened


@pytest.mark.parametrize("reencrypt", [False, True], ids=["rewrap", "reencrypt"])
async def test_a_leaked_copy_and_key_open_nothing_after_reencryption(
    database: Database, tmp_path: Path, reencrypt: bool
) -> None:
    """A plain rotation keeps every data key, so a copy from before it plus the old key
    still opens every record of the database after it; `--reencrypt` gives each record a
    new data key and new ciphertext, so that pair opens none."""
    key_file = tmp_path / "master.key"
    leaked = create(key_file)
    await _populate(database, Vault(leaked), 200)
    before = await _snapshot(database)
    report = await rotate(database, key_file, now=NOW, reencrypt=reencrypt, batch_size=64)
    assert (report.moved, report.reencrypted) == (len(before), reencrypt)
    after = await _snapshot(database)
    assert after.keys() == before.keys()
    await _assert_all_open(database, Vault(load(key_file)), 200)
    opened = _old_data_keys_open(before, after, leaked)
    assert opened == (0 if reencrypt else len(before))
    assert "reencrypt" not in json.loads(key_file.read_text())


async def test_reencryption_killed_halfway_is_finished_by_a_plain_run(
    database_url: str, tmp_path: Path
) -> None:
    """SIGKILL in the middle of `keys rotate --reencrypt`; `keys rotate` run again (without
    the option) finishes it as a re-encryption, which the key file remembers."""
    key_file = tmp_path / "keys" / "master.key"
    db = Database.connect(database_url)
    await migrate.upgrade(db)
    leaked = create(key_file)
    await _populate(db, Vault(leaked), REENCRYPT_RECORDS)
    before = await _snapshot(db)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMATE_")}
    env |= {"CERTMATE_DATABASE__URL": database_url, "CERTMATE_VAULT__KEY_FILE": str(key_file)}
    command = [sys.executable, "-m", "bot", "keys", "rotate", "--batch-size", "20"]
    with subprocess.Popen(  # noqa: ASYNC220  (the test drives a real process)
        [*command, "--reencrypt"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as process:
        try:
            new_key = await _wait_for_rotation_to_start(key_file)
            await _wait_for_rewrapped(db, new_key, at_least=200)
        finally:
            process.send_signal(signal.SIGKILL)
    async with db.read() as session:
        done = await session.scalar(
            sa.select(sa.func.count()).where(col(CertificateSecret.key_id) == new_key)
        )
    assert 0 < (done or 0) < REENCRYPT_RECORDS, "the kill must land in the middle"
    assert json.loads(key_file.read_text())["reencrypt"] is True

    finish = await asyncio.to_thread(
        subprocess.run, command, check=False, cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert finish.returncode == 0, finish.stderr
    assert "finished an interrupted rotation" in finish.stdout
    assert "re-encrypted under new data keys" in finish.stdout
    assert list(load(key_file).keys) == [new_key]
    await _assert_all_open(db, Vault(KeyringFile(key_file)), REENCRYPT_RECORDS)
    assert _old_data_keys_open(before, await _snapshot(db), leaked) == 0
    await db.close()


async def test_an_interrupted_plain_rotation_asked_to_reencrypt_does_both(
    database: Database, tmp_path: Path
) -> None:
    """A plain rotation left half done (its records keep their data keys) is finished,
    then a re-encrypting one runs: no record is left with a data key the copy knew."""
    key_file = tmp_path / "master.key"
    leaked = create(key_file)
    await _populate(database, Vault(leaked), 100)
    before = await _snapshot(database)
    half = leaked.with_new_key()
    write_atomically(key_file, half)  # step 1 of a plain rotation, then a kill
    report = await rotate(database, key_file, now=NOW, reencrypt=True)
    assert (report.resumed, report.reencrypted) == (True, True)
    final = load(key_file)
    assert list(final.keys) == [report.new_key_id]
    assert report.new_key_id not in (leaked.current, half.current)
    await _assert_all_open(database, Vault(final), 100)
    assert _old_data_keys_open(before, await _snapshot(database), leaked) == 0


async def test_reencryption_leaves_no_old_ciphertext_in_the_sqlite_files(
    tmp_path: Path,
) -> None:
    """SQLite: after `--reencrypt` the old blobs are in neither the database file nor its
    WAL (secure_delete zeroes the replaced cells; the rotation checkpoints the WAL)."""
    data_dir = tmp_path / "data"
    db = Database.connect(f"sqlite+aiosqlite:///{data_dir / 'certmate.db'}")
    await migrate.upgrade(db)
    key_file = data_dir / "master.key"
    await _populate(db, Vault(create(key_file)), 300)
    before = await _snapshot(db)
    await db.checkpoint()
    tags = [sealed.blob[-16:] for sealed, _ in before.values()]  # each ciphertext's GCM tag
    content = (data_dir / "certmate.db").read_bytes()
    assert sum(tag in content for tag in tags) == len(tags)  # the scan finds them before
    await rotate(db, key_file, now=NOW, reencrypt=True)
    files = [p for p in data_dir.iterdir() if p.name.startswith("certmate.db")]
    left = [p.name for p in files if any(tag in p.read_bytes() for tag in tags)]
    await db.close()
    assert left == []
