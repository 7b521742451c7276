"""`certmate status`: the cluster read from the database, beside a real `certmate run`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storage import migrate, updates
from storage.database import Database
from storage.keyring import new_keyring
from storage.models import Channel
from storage.vault import Vault
from tests.bot.processes import healthy, start_run, stop
from tests.conftest import free_port


async def _status(folder: Path, env: dict[str, str], *options: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "status", *options,
        cwd=folder, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, (out or err).decode()


async def _until(folder: Path, env: dict[str, str], done: Any) -> dict[str, Any]:
    for _ in range(100):
        code, out = await _status(folder, env, "--json")
        assert code == 0, out
        report: dict[str, Any] = json.loads(out)
        if done(report):
            return report
        await asyncio.sleep(0.2)
    raise AssertionError(f"status never showed it: {report}")


async def test_status_shows_a_running_process_and_its_sweep_then_its_leaving(
    database_url: str, tmp_path: Path
) -> None:
    """While `certmate run` is up, `status` lists it with its first sweep; after SIGTERM
    it is gone from the roll call at once (it left, it did not just stop beating)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMATE_")}
    env |= {
        "CERTMATE_DATABASE__URL": database_url,
        "CERTMATE_VAULT__KEY_FILE": str(tmp_path / "master.key"),
        "CERTMATE_HTTP__PORT": str(port),
    }
    process = await start_run(tmp_path, env)
    try:
        await healthy(port, process)
        report = await _until(
            tmp_path, env, lambda r: r["processes"] and r["processes"][0]["last_sweep_at"]
        )
        (running,) = report["processes"]
        assert running["name"].startswith("run:")
        assert running["seen_seconds_ago"] <= 10
        assert report["schema_current"] is True
        assert report["updates"]["pending"] == {}
        code, text = await _status(tmp_path, env)
        assert code == 0
        assert "processes 1 alive" in text
        assert running["name"] in text
    finally:
        await stop(process)
    code, out = await _status(tmp_path, env, "--json")
    assert code == 0, out
    assert json.loads(out)["processes"] == []


async def test_status_says_when_the_database_cannot_be_reached(tmp_path: Path) -> None:
    """An unreachable database is one line on stderr and exit status 1, no traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMATE_")}
    env["CERTMATE_DATABASE__URL"] = f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/x"
    code, err = await _status(tmp_path, env)
    assert code == 1
    assert "Traceback" not in err
    assert err.startswith("certmate status: database postgresql+asyncpg://nobody@127.0.0.1")


async def test_status_counts_dead_updates_for_the_operator(tmp_path: Path) -> None:
    """An update given up after failing as a bug 3 times is counted, with when and its
    error's kind (type and place, never a message), and never as pending."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'certmate.db'}"
    vault = Vault(new_keyring())
    database = Database.connect(url)
    now = datetime.now(UTC)
    try:
        await migrate.upgrade(database)
        async with database.write() as session:
            row_id = await updates.record(session, vault, Channel.TELEGRAM, "9", b"{}", now=now)
            assert row_id is not None
            for _ in range(updates.MAX_ATTEMPTS):
                await updates.failed(session, row_id=row_id, error="ValueError at x.py:7", now=now)
    finally:
        await database.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMATE_")}
    env["CERTMATE_DATABASE__URL"] = url
    code, out = await _status(tmp_path, env, "--json")
    assert code == 0, out
    seen = json.loads(out)["updates"]
    assert seen["pending"] == {}
    assert seen["dead"] == 1
    assert seen["dead_errors"] == {"ValueError at x.py:7": 1}
    assert seen["oldest_dead_at"] is not None
    code, text = await _status(tmp_path, env)
    assert code == 0
    assert "dead: 1" in text
    assert "ValueError at x.py:7 x1" in text
