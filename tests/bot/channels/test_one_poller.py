"""Two `certmate run` processes in polling mode on one database: exactly one polls.

Real processes against the local fake Bot API, which answers a getUpdates
superseded by another one with 409 Conflict, as Telegram does. Each process
tries for the poller lease every `TRY` seconds; the test settings shorten
the lease through `[telegram] poll_lease_seconds` / `poll_try_seconds`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from tests.bot.processes import healthy, start_run, stop
from tests.conftest import free_port
from tests.fakes.telegram import TOKEN, FakeBotApi

USER = 777
TRY = 1
HELP = "이렇게 도와드릴 수 있어요"


def _env(api: FakeBotApi, database_url: str, folder: Path, lease: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMATE_")}
    return env | {
        "CERTMATE_DATABASE__URL": database_url,
        "CERTMATE_VAULT__KEY_FILE": str(folder / "master.key"),
        "CERTMATE_TELEGRAM__TOKEN": TOKEN,
        "CERTMATE_TELEGRAM__BASE_URL": api.base_url,
        "CERTMATE_TELEGRAM__BASE_FILE_URL": api.base_file_url,
        "CERTMATE_TELEGRAM__POLL_LEASE_SECONDS": str(lease),
        "CERTMATE_TELEGRAM__POLL_TRY_SECONDS": str(TRY),
    }


async def _two(
    api: FakeBotApi, database_url: str, folder: Path, lease: int
) -> list[asyncio.subprocess.Process]:
    """Two processes on one database, the second started once the first serves."""
    env = _env(api, database_url, folder, lease)
    started = []
    for _ in range(2):
        port = free_port()
        process = await start_run(folder, env | {"CERTMATE_HTTP__PORT": str(port)})
        started.append(process)
        await healthy(port, process)
    return started


async def _kill_all(processes: list[asyncio.subprocess.Process]) -> None:
    for process in processes:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _pollers(env: dict[str, str], folder: Path) -> list[int]:
    """The pids `certmate status --json` lists with the role poller."""
    status = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "status", "--json",
        cwd=folder, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await status.communicate()
    assert status.returncode == 0, err.decode()
    report: dict[str, Any] = json.loads(out)
    return [int(p["name"].split(":")[2]) for p in report["processes"] if "poller" in p["roles"]]


async def _one_poller(env: dict[str, str], folder: Path, among: set[int]) -> int:
    """Wait until status lists exactly one poller, one of `among`; its pid."""
    deadline = time.monotonic() + 15
    while True:
        pollers = await _pollers(env, folder)
        if len(pollers) == 1 and pollers[0] in among:
            return pollers[0]
        assert time.monotonic() < deadline, f"status lists pollers {pollers}, not one of {among}"
        await asyncio.sleep(0.2)


def _conflicts(api: FakeBotApi) -> int:
    return sum(1 for call in api.calls_of("getUpdates") if call.status == 409)


async def _polled_after(api: FakeBotApi, since: float, within: float) -> float:
    """Seconds from `since` until a getUpdates arrived after it (fails past `within`)."""
    await api.wait_for(
        lambda: any(call.at > since for call in api.calls_of("getUpdates")), timeout=within
    )
    return min(call.at for call in api.calls_of("getUpdates") if call.at > since) - since


async def _answered_once(api: FakeBotApi, text: str = "/help") -> None:
    api.queue(api.text_update(USER, text))
    await api.wait_for(lambda: any(HELP in m["text"] for m in api.sent_messages(USER)), 20)
    await asyncio.sleep(1.5)  # a second answer would have come by now
    assert sum(HELP in m["text"] for m in api.sent_messages(USER)) == 1


async def test_two_processes_poll_without_a_conflict(database_url: str, tmp_path: Path) -> None:
    """Both stay up; over 8 s no getUpdates is answered 409 (both used to poll, ending
    each other's long poll every few seconds); `status` lists exactly one poller; a
    message is answered once."""
    async with FakeBotApi() as api:
        processes = await _two(api, database_url, tmp_path, lease=30)
        try:
            env = _env(api, database_url, tmp_path, lease=30)
            await _one_poller(env, tmp_path, {p.pid for p in processes})
            await asyncio.sleep(8)
            assert _conflicts(api) == 0
            assert all(process.returncode is None for process in processes)
            assert len(await _pollers(env, tmp_path)) == 1
            await _answered_once(api)
            for process in processes:
                await stop(process)
        finally:
            await _kill_all(processes)


async def test_a_killed_poller_is_replaced_within_lease_and_try(
    database_url: str, tmp_path: Path
) -> None:
    """kill -9 of the poller (no release): the other process polls within the lease
    (3 s) + one try (1 s), and answers the next message once."""
    lease = 3
    async with FakeBotApi() as api:
        processes = await _two(api, database_url, tmp_path, lease=lease)
        try:
            env = _env(api, database_url, tmp_path, lease=lease)
            by_pid = {p.pid: p for p in processes}
            poller = await _one_poller(env, tmp_path, set(by_pid))
            by_pid[poller].kill()
            await by_pid[poller].wait()
            killed_at = time.monotonic()
            took = await _polled_after(api, killed_at, within=lease + TRY + 5)
            assert took <= lease + TRY + 1  # +1: the killed one's long poll answered late
            (other,) = set(by_pid) - {poller}
            assert await _one_poller(env, tmp_path, {other}) == other
            await _answered_once(api)
            await stop(by_pid[other])
        finally:
            await _kill_all(processes)


async def test_a_stopped_poller_hands_over_at_once(database_url: str, tmp_path: Path) -> None:
    """SIGTERM of the poller frees the lease: the other polls within one try (1 s), not
    the lease (30 s), and answers the next message once."""
    async with FakeBotApi() as api:
        processes = await _two(api, database_url, tmp_path, lease=30)
        try:
            env = _env(api, database_url, tmp_path, lease=30)
            by_pid = {p.pid: p for p in processes}
            poller = await _one_poller(env, tmp_path, set(by_pid))
            stopping = asyncio.create_task(stop(by_pid[poller]))
            stopped_at = time.monotonic()
            await asyncio.sleep(0)  # SIGTERM sent
            took = await _polled_after(api, stopped_at + 0.05, within=10)
            assert took <= TRY + 1.5
            await stopping
            (other,) = set(by_pid) - {poller}
            assert await _one_poller(env, tmp_path, {other}) == other
            await _answered_once(api)
            await stop(by_pid[other])
        finally:
            await _kill_all(processes)
