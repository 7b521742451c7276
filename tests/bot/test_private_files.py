"""Files are private: `data_dir` 0700 even when it was made 0755 before, the database and
its -wal/-shm 0600 under a loose umask, and a config file holding a secret refused when
others may read it. The real `certmate run` and `certmate chat`."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bot.processes import healthy, stop
from tests.conftest import free_port

TOKEN = "123456:AAtest-token-value"  # noqa: S105  (a test value)


def _env(**extra: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CERTMATE_")} | extra


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_run_makes_an_existing_data_dir_and_its_database_private(tmp_path: Path) -> None:
    """./data made 0755 by hand, umask 002: while `run` runs, data is 0700 (said in the
    log) and certmate.db, -wal and -shm are 0600."""
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        "/bin/sh", "-c", 'umask 002 && exec "$0" -m bot run', sys.executable,
        cwd=tmp_path, env=_env(CERTMATE_HTTP__PORT=str(port)),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await healthy(port, process)
        modes = {p.name: _mode(p) for p in data.iterdir()}
    finally:
        log = await stop(process)
    assert modes == {
        "certmate.db": 0o600,
        "certmate.db-wal": 0o600,
        "certmate.db-shm": 0o600,
        "master.key": 0o600,
    }
    assert _mode(data) == 0o700
    assert f"tightened {Path('data')} from 0755 to 0700" in log


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        (f'[telegram]\ntoken = "{TOKEN}"', "[telegram] token"),
        ('[vault]\nkey = "c2VjcmV0"', "[vault] key"),
        ('[kakao]\nsecret = "sixteen-chars-or-more"', "[kakao] secret"),
        ('[database]\nurl = "postgresql+asyncpg://me:pw@db/certmate"', "[database] url"),
    ],
)
def test_a_config_file_with_a_secret_others_can_read_is_refused(
    tmp_path: Path, setting: str, named: str
) -> None:
    """./config.toml holding a secret, mode 0644: refused before anything starts, in one
    line naming the file, the setting and the chmod that fixes it; never the value."""
    config = tmp_path / "config.toml"
    config.write_text(setting + "\n", encoding="utf-8")
    config.chmod(0o644)
    (tmp_path / "script.txt").write_text("/help\n", encoding="utf-8")
    command = [sys.executable, "-m", "bot", "chat", "--script", "script.txt"]
    run = subprocess.run(
        command, cwd=tmp_path, env=_env(), capture_output=True, text=True, check=False
    )
    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        f"certmate: configuration: config file config.toml holds {named}"
        f"{' (with a password)' if 'database' in named else ''} and is accessible by group"
        " or others (mode 0644); fix it with: chmod 600 config.toml"
    ]
    assert not (tmp_path / "data").exists()
    for value in (TOKEN, "c2VjcmV0", "sixteen-chars", ":pw@"):
        assert value not in run.stderr + run.stdout


def test_the_chmod_it_names_fixes_it_and_a_config_without_secrets_may_be_0644(
    tmp_path: Path,
) -> None:
    """After `chmod 600` the same file is accepted; a file with no secret in it (secrets
    given in the environment) may stay 0644."""
    config = tmp_path / "settings.toml"
    config.write_text(f'[telegram]\ntoken = "{TOKEN}"\n', encoding="utf-8")
    config.chmod(0o644)
    (tmp_path / "script.txt").write_text("/help\n", encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(config),
        "chat",
        "--script",
        "script.txt",
    ]
    refused = subprocess.run(
        command, cwd=tmp_path, env=_env(), capture_output=True, text=True, check=False
    )
    assert f"chmod 600 {config}" in refused.stderr
    config.chmod(0o600)
    accepted = subprocess.run(
        command, cwd=tmp_path, env=_env(), capture_output=True, text=True, check=False
    )
    assert accepted.returncode == 0, accepted.stderr
    config.write_text('[telegram]\ntoken = ""\n[limits]\nupload_bytes = 4096\n', encoding="utf-8")
    config.chmod(0o644)
    plain = subprocess.run(
        command,
        cwd=tmp_path,
        env=_env(CERTMATE_TELEGRAM__TOKEN=TOKEN),
        capture_output=True,
        text=True,
        check=False,
    )
    assert plain.returncode == 0, plain.stderr
