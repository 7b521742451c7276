"""`certmate run` with a Telegram token, as a process, against the local fake Bot API."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from tests import factory
from tests.bot.processes import (
    WEBHOOK_SECRET,
    expire_leases,
    healthy,
    start_run,
    stop,
    telegram_env,
    telegram_webhook_env,
)
from tests.conftest import Holder, free_port
from tests.fakes.telegram import TOKEN, FakeBotApi

USER = 777


async def test_run_serves_telegram_and_stops_gracefully(tmp_path: Path) -> None:
    """`certmate run` connects, publishes the menu, answers /start by polling, serves
    /healthz, and on SIGTERM finishes the update in hand (its reply goes out) and exits 0
    within 10 s; nothing of the conversation or the token reaches its log."""
    async with FakeBotApi() as api:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMATE_")}
        env |= {
            "CERTMATE_TELEGRAM__TOKEN": TOKEN,
            "CERTMATE_TELEGRAM__BASE_URL": api.base_url,
            "CERTMATE_TELEGRAM__BASE_FILE_URL": api.base_file_url,
            "CERTMATE_HTTP__PORT": str(port),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run",
            cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await api.wait_for(lambda: bool(api.calls_of("getUpdates")), timeout=60)
            assert set(api.commands) == {None, "en"}
            api.queue(api.text_update(USER, "/start"))
            await api.wait_for(lambda: bool(api.sent_messages(USER)), timeout=30)
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"http://127.0.0.1:{port}/healthz") as response,
            ):
                assert response.status == 200

            api.delay("sendMessage", 1.5)  # the reply to /help is in flight at the stop
            update = api.text_update(USER, "/help")
            api.queue(update)
            await api.wait_for(
                lambda: any(
                    int(c.params.get("offset") or 0) > update["update_id"]
                    for c in api.calls_of("getUpdates")
                )
            )
            process.send_signal(signal.SIGTERM)
            started = time.monotonic()
            _out, err = await asyncio.wait_for(process.communicate(), timeout=20)
            assert process.returncode == 0, err.decode()
            assert time.monotonic() - started < 10
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        helped = [m for m in api.sent_messages(USER) if "이렇게 도와드릴 수 있어요" in m["text"]]
        assert len(helped) == 1
        log = err.decode()
        assert "Telegram is on (polling)" in log
        assert TOKEN not in log
        assert "/help" not in log


async def test_a_webhook_update_survives_sigkill_after_its_200(tmp_path: Path) -> None:
    """Webhook mode: the 200 is given once the update is committed; certmate is then
    killed (SIGKILL) while handling it, before any reply. Once the dead process's lane
    lease has run out (a minute; made to pass here), the next `certmate run` handles it
    from the inbox: the user gets their answer exactly once, nothing was lost."""
    async with FakeBotApi() as api:
        port = free_port()
        env = telegram_webhook_env(api)
        env["CERTMATE_HTTP__PORT"] = str(port)
        url = f"http://127.0.0.1:{port}/telegram/webhook"
        headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
        first = await start_run(tmp_path, env)
        try:
            await healthy(port, first)
            assert api.webhook is not None
            api.delay("sendMessage", 300)  # handling reaches the reply, then hangs there
            update = api.text_update(USER, "/help")
            async with (
                aiohttp.ClientSession() as http,
                http.post(url, json=update, headers=headers) as response,
            ):
                assert response.status == 200
            await api.wait_for(lambda: bool(api.calls_of("sendMessage")), timeout=30)
            first.kill()
            await first.wait()
        finally:
            if first.returncode is None:
                first.kill()
                await first.wait()
        assert api.sent_messages(USER) == []  # the reply never completed
        await expire_leases(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'certmate.db'}")

        api.delay("sendMessage", 0)
        second = await start_run(tmp_path, env)
        try:
            await api.wait_for(lambda: bool(api.sent_messages(USER)), timeout=60)
            second.send_signal(signal.SIGTERM)
            await asyncio.wait_for(second.wait(), timeout=20)
        finally:
            if second.returncode is None:
                second.kill()
                await second.wait()
        assert second.returncode == 0
        replies = [m for m in api.sent_messages(USER) if "이렇게 도와드릴 수 있어요" in m["text"]]
        assert len(replies) == 1


async def test_run_delivers_a_due_reminder_through_telegram(
    tmp_path: Path, ca: factory.Authority, holder: Holder
) -> None:
    """A Telegram user registers a certificate that expires in 20 days; the next
    `certmate run` sweeps at start and the reminder (renewal is open) reaches their chat,
    with its buttons."""
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=20)
    cert = factory.cert_der(
        factory.make_cert(
            ca, holder.key, not_before=expires - timedelta(days=365), not_after=expires
        )
    )
    key = factory.seed_cbc_sha1_key(holder.plain, factory.PASSWORD)
    async with FakeBotApi() as api:
        env = telegram_env(api) | {"CERTMATE_HTTP__PORT": str(free_port())}
        env["CERTMATE_REMINDERS__QUIET_START"] = env["CERTMATE_REMINDERS__QUIET_END"] = "00:00"
        first = await start_run(tmp_path, env)
        try:
            await api.wait_for(lambda: bool(api.calls_of("getUpdates")), timeout=60)
            api.queue(api.document_update(USER, "signCert.der", cert))
            api.queue(api.document_update(USER, "signPri.key", key))
            api.queue(api.text_update(USER, factory.PASSWORD.decode()))
            registered = "인증서를 등록했어요"
            await api.wait_for(
                lambda: any(registered in m["text"] for m in api.sent_messages(USER)), timeout=30
            )
        finally:
            await stop(first)
        before = len(api.sent_messages(USER))
        second = await start_run(tmp_path, env)
        try:
            await api.wait_for(lambda: len(api.sent_messages(USER)) > before, timeout=60)
        finally:
            await stop(second)
        [reminder] = api.sent_messages(USER)[before:]
        assert "D-20" in reminder["text"]
        assert reminder.get("reply_markup")


async def test_run_with_a_wrong_token_says_so_and_exits_1(tmp_path: Path) -> None:
    """Telegram refuses the token (401): one clear line, exit status 1, no traceback."""
    async with FakeBotApi() as api:
        env = telegram_env(api) | {"CERTMATE_HTTP__PORT": str(free_port())}
        env["CERTMATE_TELEGRAM__TOKEN"] = "999:wrong"  # noqa: S105  (a refused one)
        process = await start_run(tmp_path, env)
        _out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    log = err.decode()
    assert process.returncode == 1, log
    assert "certmate run: Telegram: InvalidToken" in log
    assert "Traceback" not in log
    assert "999:wrong" not in log
