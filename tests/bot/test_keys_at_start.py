"""The master key is never made up: every command that seals or opens checks, at start,
that the keyring holds every key the database's sealed records name, and makes a new key
only for a database that holds no sealed record. Real commands, real databases."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage import conversations, migrate
from storage.database import Database
from storage.keyring import create, new_keyring, write_atomically
from storage.models import Channel, ConversationState
from storage.vault import Vault
from tests import factory
from tests.conftest import Holder, free_port
from tests.storage.conftest import NOW

PASSWORD = factory.PASSWORD.decode()
COMMANDS = {
    "chat": ["chat", "--script", "script.txt"],
    "remind": ["remind", "--now", "2026-06-01T10:00+09:00"],
    "run": ["run"],
    "keys rotate": ["keys", "rotate"],
}


def _certmate(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CERTMATE_")}
    clean["CERTMATE_HTTP__PORT"] = str(free_port())  # `run` would start its server
    (folder / "script.txt").write_text("/help\n", encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=folder,
        env=clean | env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def _database_env(database_url: str) -> dict[str, str]:
    """SQLite is the default ./data/certmate.db of the fixture; PostgreSQL is named."""
    return {} if database_url.startswith("sqlite") else {"CERTMATE_DATABASE__URL": database_url}


async def _one_sealed_record(database_url: str, vault: Vault) -> None:
    database = Database.connect(database_url)
    try:
        await migrate.upgrade(database)
        async with database.write() as session:
            await conversations.save(
                session, vault, Channel.TELEGRAM, "u", flow="add", step="partner", data={},
                secret=b"waiting file", expected_version=None, expires_at=None, now=NOW,
            )  # fmt: skip
    finally:
        await database.close()


def _refused(run: subprocess.CompletedProcess[str], *names: str) -> None:
    """Exit status 1 and one line on stderr naming every one of `names`; no traceback."""
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    for name in names:
        assert name in lines[0]


@pytest.mark.parametrize("command", sorted(COMMANDS))
async def test_a_missing_key_file_is_refused_never_made_up(
    database_url: str, tmp_path: Path, command: str
) -> None:
    """A database with a sealed record and no key file: every command stops, naming the
    file to restore and the key id it must hold, and writes no new key."""
    key_file = tmp_path / "data" / "master.key"
    keyring = create(key_file)
    await _one_sealed_record(database_url, Vault(keyring))
    key_file.unlink()
    run = _certmate(tmp_path, *COMMANDS[command], **_database_env(database_url))
    _refused(run, f"master key file {Path('data') / 'master.key'} is missing", keyring.current)
    assert "restore" in run.stderr
    assert not key_file.exists()


@pytest.mark.parametrize("source", ["file", "environment"])
async def test_a_keyring_without_a_key_in_use_is_refused(
    database_url: str, tmp_path: Path, source: str
) -> None:
    """The wrong key file restored, or the wrong CERTMATE_VAULT__KEY: refused at start,
    naming where the keys came from and the missing key id (never a key itself)."""
    in_use = new_keyring()
    await _one_sealed_record(database_url, Vault(in_use))
    env = _database_env(database_url)
    wrong = base64.b64encode(secrets.token_bytes(32)).decode()
    if source == "file":
        write_atomically(tmp_path / "data" / "master.key", new_keyring())
        where = f"master key file {Path('data') / 'master.key'}"
    else:
        env["CERTMATE_VAULT__KEY"] = wrong
        where = "CERTMATE_VAULT__KEY"
    for command in ("chat", "remind", "run"):
        run = _certmate(tmp_path, *COMMANDS[command], **env)
        _refused(run, where, in_use.current, "restore")
        assert wrong not in run.stderr + run.stdout


async def test_a_key_is_made_for_a_database_without_sealed_records(
    database_url: str, tmp_path: Path
) -> None:
    """Once no sealed record is left (here the last one was deleted), a missing key file
    is simply a new deployment's: a new key is made, 0600."""
    key_file = tmp_path / "data" / "master.key"
    await _one_sealed_record(database_url, Vault(create(key_file)))
    database = Database.connect(database_url)
    async with database.write() as session:
        await session.execute(sa.delete(ConversationState))
    await database.close()
    key_file.unlink()
    run = _certmate(tmp_path, *COMMANDS["chat"], **_database_env(database_url))
    assert run.returncode == 0, run.stderr
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_a_certificate_kept_under_a_lost_key_is_not_exported_under_a_new_one(
    tmp_path: Path, holder: Holder, seed_key: bytes
) -> None:
    """The reported case: a certificate registered, master.key lost. chat used to make a
    new key and crash on /export; now it refuses to start, and the backup restores it."""
    (tmp_path / "signCert.der").write_bytes(holder.cert_der)
    (tmp_path / "signPri.key").write_bytes(seed_key)
    register = "/upload signCert.der signPri.key\n" + PASSWORD + "\n"
    (tmp_path / "register.txt").write_text(register, encoding="utf-8")
    run = _certmate(tmp_path, "chat", "--script", "register.txt")
    assert run.returncode == 0, run.stderr
    key_file = tmp_path / "data" / "master.key"
    backup = key_file.read_bytes()
    key_file.unlink()
    (tmp_path / "export.txt").write_text("/export\n/press NPKI (zip)\n", encoding="utf-8")
    export = ["chat", "--script", "export.txt", "--out", "out"]
    _refused(_certmate(tmp_path, *export), "master key file", "is missing")
    assert not key_file.exists()
    key_file.write_bytes(backup)
    key_file.chmod(0o600)
    restored = _certmate(tmp_path, *export)
    assert restored.returncode == 0, restored.stderr
    assert [p.suffix for p in (tmp_path / "out").iterdir()] == [".zip"]
