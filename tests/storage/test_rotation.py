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

import sqlalchemy as sa

from storage import accounts, certificates, conversations, migrate
from storage.database import Database
from storage.keyring import KeyringFile, create, load
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
from storage.vault import Sealed, Vault
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
            sa.select(sa.func.count()).where(CertificateSecret.key_id == new_key)
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
                sa.select(sa.func.count()).where(CertificateSecret.key_id == key_id)
            )
        if (done or 0) >= at_least:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("rotation made no progress")
