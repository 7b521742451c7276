"""`certmate run` as a real process, for the tests that start it: start, wait until it
serves, stop it with SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import sqlalchemy as sa
from sqlmodel import col

from storage.database import Database
from storage.models import Lease
from tests.fakes.telegram import TOKEN, FakeBotApi


async def start_run(folder: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    """`python -m bot run` in `folder`; stderr is kept for `stop` to return."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run",
        cwd=folder, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def healthy(port: int, process: asyncio.subprocess.Process, within: float = 60) -> None:
    """Wait until `/healthz` answers on `port` (fails if the process exits first)."""
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            assert process.returncode is None, "certmate run exited"
            assert time.monotonic() < deadline, "certmate run did not come up"
            await asyncio.sleep(0.1)


async def stop(process: asyncio.subprocess.Process) -> str:
    """SIGTERM, wait (killed after 20 s), assert a clean exit; returns its log."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        _out, err = await asyncio.wait_for(process.communicate(), timeout=20)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, err.decode()
    return err.decode()


async def expire_leases_of(database_url: str, pid: int) -> set[str]:
    """The leases of the process `pid` (killed) run out now, as they would a minute
    later; the names of the lanes it held (`lane:<channel>:<user>`)."""
    database = Database.connect(database_url)
    mine = col(Lease.owner).like(f"%:{pid}:%")
    try:
        async with database.write() as session:
            held = set((await session.execute(sa.select(col(Lease.name)).where(mine))).scalars())
            await session.execute(
                sa.update(Lease).where(mine).values(expires_at=datetime(2000, 1, 1, tzinfo=UTC))
            )
    finally:
        await database.close()
    return held


async def expire_leases(database_url: str) -> None:
    """Every lease runs out now, as it would a minute after its holder was killed."""
    database = Database.connect(database_url)
    try:
        async with database.write() as session:
            await session.execute(
                sa.update(Lease).values(expires_at=datetime(2000, 1, 1, tzinfo=UTC))
            )
    finally:
        await database.close()


WEBHOOK_SECRET = "s3cret-for-tests"  # noqa: S105  (the tests' webhook secret)


def telegram_env(api: FakeBotApi) -> dict[str, str]:
    """The environment of a `certmate run` polling the fake Bot API: this one's without
    any `CERTMATE_*` setting, plus the bot's token and the fake's addresses."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMATE_")}
    return env | {
        "CERTMATE_TELEGRAM__TOKEN": TOKEN,
        "CERTMATE_TELEGRAM__BASE_URL": api.base_url,
        "CERTMATE_TELEGRAM__BASE_FILE_URL": api.base_file_url,
    }


def telegram_webhook_env(api: FakeBotApi) -> dict[str, str]:
    """As `telegram_env`, in webhook mode with `WEBHOOK_SECRET`."""
    return telegram_env(api) | {
        "CERTMATE_TELEGRAM__MODE": "webhook",
        "CERTMATE_TELEGRAM__WEBHOOK_URL": "https://certmate.example/telegram/webhook",
        "CERTMATE_TELEGRAM__SECRET_TOKEN": WEBHOOK_SECRET,
    }
