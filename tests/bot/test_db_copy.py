"""`certmate db copy --to postgresql+asyncpg://…`: moving up from SQLite, as an operator
would, with the real commands in subprocesses."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage import accounts
from storage.database import Database
from storage.keyring import KeyringFile
from storage.models import LinkedAccount, Notice
from storage.vault import Vault
from tests import factory
from tests.bot.test_chat_cli import _environment, chat, npki_files
from tests.conftest import Holder, PostgresDatabases

PASSWORD = factory.PASSWORD.decode()
__all__ = ["npki_files"]  # the fixture, shared with the chat tests
NOW = "2026-06-21T10:00:00+09:00"
SHOWN = datetime(2026, 6, 20, tzinfo=UTC)


def _copy(cwd: Path, target: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "db", "copy", "--to", target, *options],
        cwd=cwd, env=_environment(), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


async def _add_shown_notices(database_file: Path, count: int) -> None:
    """Bulk rows (notices already shown), so the copy has something to be killed in."""
    database = Database.connect(f"sqlite+aiosqlite:///{database_file}")
    try:
        async with database.write() as session:
            owner = int(await session.scalar(sa.text("SELECT min(id) FROM users")) or 0)
            rows = [
                {"owner_id": owner, "message_id": f"m{i}", "text": f"notice {i}",
                 "choices": [], "certificates": [], "created_at": SHOWN, "shown_at": SHOWN}
                for i in range(count)
            ]  # fmt: skip
            await session.execute(sa.insert(Notice), rows)
    finally:
        await database.close()


async def _account_numbers(url: str, key_file: Path) -> list[str]:
    """Every linked account number in `url`, unsealed with the key file."""
    database = Database.connect(url)
    vault = Vault(KeyringFile(key_file))
    try:
        async with database.read() as session:
            linked = (await session.scalars(sa.select(LinkedAccount))).all()
            return [
                await accounts.reveal_number(session, vault, row.owner_id, row.id or 0) or ""
                for row in linked
            ]
    finally:
        await database.close()


@pytest.mark.usefixtures("npki_files")
async def test_a_copy_to_postgresql_carries_everything_and_survives_a_kill(
    tmp_path: Path, holder: Holder, seed_key: bytes, postgres_databases: PostgresDatabases
) -> None:
    """A certificate registered on SQLite (sealed files, a linked account) is copied to
    PostgreSQL by `db copy`, killed once mid-copy and run again: the counts match, and
    `certmate chat` on PostgreSQL with the same key file lists the certificate, exports
    the very same files, and registers new rows past the copied ids."""
    first = chat(tmp_path, ["/upload npki/signCert.der npki/signPri.key", PASSWORD,
                            "/link", "088", "1101234567", "월급통장"], "--now", NOW)  # fmt: skip
    assert first.code == 0, first.stderr
    await _add_shown_notices(tmp_path / "data" / "certmate.db", 30_000)
    url = await postgres_databases.create()
    target = url.render_as_string(hide_password=False)
    try:
        with subprocess.Popen(  # noqa: ASYNC220  (a real process to kill)
            [sys.executable, "-m", "bot", "db", "copy", "--to", target, "--batch-size", "500"],
            cwd=tmp_path, env=_environment(),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        ) as interrupted:  # fmt: skip
            assert interrupted.stderr is not None
            deadline = time.monotonic() + 120
            while "copied users" not in (interrupted.stderr.readline() or "copied users"):
                assert time.monotonic() < deadline
            interrupted.send_signal(signal.SIGKILL)  # in the middle of the notices
        done = _copy(tmp_path, target)
        assert done.returncode == 0, done.stderr
        assert "copied and verified" in done.stdout
        assert "DIFFERS" not in done.stdout
        again = _copy(tmp_path, target)  # nothing left to copy: still verified
        assert again.returncode == 0, again.stderr

        on_postgres = {"CERTMATE_DATABASE__URL": target}
        out = tmp_path / "out"
        second = chat(tmp_path, ["/certs", "/export", "/press NPKI (zip)", "/link"],
                      "--now", NOW, "--out", str(out), env=on_postgres)  # fmt: skip
        assert second.code == 0, second.stderr
        texts = "\n".join(e["text"] for e in second.entries if e["type"] == "text")
        assert "홍길동" in texts
        assert "연결된" in texts
        assert await _account_numbers(target, tmp_path / "data" / "master.key") == ["1101234567"]
        (document,) = [e for e in second.entries if e["type"] == "document"]
        with zipfile.ZipFile(document["path"]) as archive:
            contents = {n.rsplit("/", 1)[1]: archive.read(n) for n in archive.namelist()}
        assert contents == {"signCert.der": holder.cert_der, "signPri.key": seed_key}
    finally:
        await postgres_databases.drop(url)


def test_copy_refuses_its_own_database(tmp_path: Path) -> None:
    """Copying a database into itself is refused before anything is opened."""
    own = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'certmate.db'}"
    env = _environment() | {"CERTMATE_DATABASE__URL": own}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "db", "copy", "--to", own],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "is the database being copied" in done.stderr
