"""`certmate db upgrade` and `certmate keys rotate`, run as a user would."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

from storage import migrate


def _certmate(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CERTMATE_")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        check=False,
        cwd=cwd,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_db_upgrade_creates_the_default_sqlite_database(tmp_path: Path) -> None:
    """With no config, the database is ./data/certmate.db in a 0700 folder, migrated."""
    run = _certmate(tmp_path, "db", "upgrade")
    assert run.returncode == 0, run.stderr
    assert f"is at revision {migrate.head()}" in run.stdout
    database = tmp_path / "data" / "certmate.db"
    assert stat.S_IMODE(database.parent.stat().st_mode) == 0o700
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"users", "certificates", "certificate_secrets", "reminders"} <= tables
    assert _certmate(tmp_path, "db", "upgrade").returncode == 0


def test_keys_rotate_writes_a_new_0600_key_file(tmp_path: Path) -> None:
    """Rotation replaces the key with a new one, file mode 0600, no prompt."""
    assert _certmate(tmp_path, "keys", "rotate").returncode == 0
    key_file = tmp_path / "data" / "master.key"
    first = json.loads(key_file.read_text())["current"]
    run = _certmate(tmp_path, "keys", "rotate")
    assert run.returncode == 0, run.stderr
    keyring = json.loads(key_file.read_text())
    assert keyring["current"] != first
    assert list(keyring["keys"]) == [keyring["current"]]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_keys_rotate_refuses_a_key_file_others_can_read(tmp_path: Path) -> None:
    """A loose key file stops the command, naming the file and the chmod that fixes it."""
    assert _certmate(tmp_path, "keys", "rotate").returncode == 0
    key_file = tmp_path / "data" / "master.key"
    before = key_file.read_text()
    key_file.chmod(0o644)
    run = _certmate(tmp_path, "keys", "rotate")
    assert run.returncode == 1
    assert "chmod 600" in run.stderr
    assert "master.key" in run.stderr
    assert key_file.read_text() == before


def test_keys_rotate_with_key_from_environment_is_refused(tmp_path: Path) -> None:
    """A key given in CERTMATE_VAULT__KEY cannot be rotated by rewriting a file."""
    run = _certmate(tmp_path, "keys", "rotate", CERTMATE_VAULT__KEY="AAAA")
    assert run.returncode == 1
    assert "CERTMATE_VAULT__KEY" in run.stderr
    assert "AAAA" not in run.stderr + run.stdout


def test_batch_size_must_be_positive(tmp_path: Path) -> None:
    """--batch-size 0 is a usage error, not an endless loop."""
    assert _certmate(tmp_path, "keys", "rotate", "--batch-size", "0").returncode == 1
