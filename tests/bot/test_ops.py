"""The operator's view of `certmate run`: /healthz asks the database, /metrics counts
without telling who, and the log can be JSON lines."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from bot.config import ConfigError, HttpSettings, load_settings
from bot.health import DatabaseCheck
from bot.logs import JsonLines
from bot.web import Server, build_app
from storage.database import Database
from tests.bot.processes import healthy, start_run, stop
from tests.conftest import PostgresDatabases, free_port
from tests.faults import FlakyProxy


def _env(port: int, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMATE_")}
    env["CERTMATE_HTTP__PORT"] = str(port)
    return env | {f"CERTMATE_{key.upper()}": value for key, value in settings.items()}


async def _get(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    async with http.get(url, headers=headers) as response:
        return response.status, await response.text()


async def _until(
    http: aiohttp.ClientSession, url: str, status: int, within: float = 30
) -> tuple[int, str]:
    """GET `url` until it answers `status`; that answer."""
    deadline = time.monotonic() + within
    while True:
        answer = await _get(http, url)
        if answer[0] == status or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(0.2)


async def test_healthz_says_the_database_is_down_while_it_is(
    tmp_path: Path, postgres_databases: PostgresDatabases
) -> None:
    """A real `certmate run` on PostgreSQL through a proxy that cuts the line: /healthz is
    200 while the database answers, 503 naming the database while it is cut (no URL, no
    stack trace), and 200 again once it is back; the process survives and stops cleanly."""
    url = await postgres_databases.create()
    try:
        async with FlakyProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
            through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(
                hide_password=False
            )
            port = free_port()
            process = await start_run(tmp_path, _env(port, database__url=through))
            try:
                await healthy(port, process)
                base = f"http://127.0.0.1:{port}/healthz"
                async with aiohttp.ClientSession() as http:
                    assert await _get(http, base) == (200, '{"ok": true, "database": "ok"}')
                    outage = asyncio.create_task(proxy.outage(6))
                    status, body = await _until(http, base, 503, within=5)
                    assert status == 503
                    assert json.loads(body) == {"ok": False, "database": "unreachable"}
                    await outage
                    status, body = await _until(http, base, 200)
                    assert (status, json.loads(body)) == (200, {"ok": True, "database": "ok"})
            finally:
                log = await stop(process)
    finally:
        await postgres_databases.drop(url)
    assert "the database is unreachable" in log


async def test_metrics_count_requests_by_route_and_never_show_a_link(tmp_path: Path) -> None:
    """After traffic (a guessed secure link, /healthz, an unknown path) a scrape from
    127.0.0.1 parses as Prometheus text: the latency histogram counted each route by its
    template and status class, the token of the link appears nowhere, and the reminder,
    update and Telegram counters are exposed. The log, in JSON at DEBUG, is one object a
    line, and holds no token either."""
    port = free_port()
    process = await start_run(tmp_path, _env(port, log__format="json", log__level="debug"))
    token = secrets.token_urlsafe(24)
    try:
        await healthy(port, process)
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            assert (await _get(http, f"{base}/u/{token}"))[0] in {404, 410}
            assert (await _get(http, f"{base}/no-such-{token}"))[0] == 404
            status, text = await _get(http, f"{base}/metrics")
            proxied = await _get(http, f"{base}/metrics", {"X-Forwarded-For": "203.0.113.9"})
        assert status == 200
        assert proxied[0] == 200  # from 127.0.0.1, not a trusted proxy: the header is ignored
    finally:
        log = await stop(process)
    assert token not in text
    families = {family.name: family for family in text_string_to_metric_families(text)}
    counts = {
        (sample.labels["route"], sample.labels["status"]): sample.value
        for sample in families["certmate_http_request_duration_seconds"].samples
        if sample.name.endswith("_count")
    }
    assert counts[("/u/{token}", "4xx")] == 1
    assert counts[("unmatched", "4xx")] == 1
    assert counts[("/healthz", "2xx")] >= 1
    for name in (
        "certmate_reminders_planned",
        "certmate_reminders_sent",
        "certmate_reminders_failed",
        "certmate_updates_received",
        "certmate_updates_handled",
        "certmate_updates_retried",
        "certmate_updates_dead",
        "certmate_telegram_sends",
        "certmate_telegram_retry_after",
        "certmate_telegram_send_queue",
        "process_cpu_seconds",
    ):
        assert name in families, name
    lines = log.splitlines()
    assert lines
    for line in lines:
        record = json.loads(line)
        assert set(record) >= {"time", "level", "logger", "message"}
        assert datetime.fromisoformat(record["time"]).utcoffset() is not None
        assert token not in line


def test_a_bad_log_setting_is_a_clear_configuration_error(tmp_path: Path) -> None:
    """`[log] format = "xml"` stops `certmate run` at once, naming the key and the choices."""
    run = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=_env(free_port(), log__format="xml"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1
    assert "[log] format must be one of text, json" in run.stderr
    assert "Traceback" not in run.stderr
    with pytest.raises(ConfigError, match=r"\[log\] level must be one of DEBUG, INFO"):
        load_settings(None, {"CERTMATE_LOG__LEVEL": "LOUD"})
    assert load_settings(None, {"CERTMATE_LOG__LEVEL": "warning"}).log.level == "warning"


async def test_metrics_are_not_shown_to_other_addresses() -> None:
    """With `[http] metrics_from` naming another network, a scrape from 127.0.0.1 finds
    nothing (404, like any unknown path); an empty list turns /metrics off; and behind a
    local reverse proxy (a trusted proxy), a public client it forwards finds nothing while
    the proxy's own scrape succeeds."""
    public = {"X-Forwarded-For": "203.0.113.9"}
    cases = [
        (HttpSettings(metrics_from=("10.0.0.0/8",)), None, 404),
        (HttpSettings(metrics_from=()), None, 404),
        (HttpSettings(trusted_proxies=("127.0.0.1",)), public, 404),
        (HttpSettings(trusted_proxies=("127.0.0.1",)), None, 200),
    ]
    for settings, headers, expected in cases:
        port = free_port()
        server = Server(build_app(settings), "127.0.0.1", port)
        await server.start()
        try:
            async with aiohttp.ClientSession() as http:
                status, text = await _get(http, f"http://127.0.0.1:{port}/metrics", headers)
        finally:
            await server.stop()
        assert status == expected, (settings, headers)
        assert ("certmate_" in text) == (expected == 200)


def test_a_json_log_line_names_an_exception_but_never_its_text() -> None:
    """An error logged with its exception: the line has the exception's type and where it
    was raised, not its message (which may quote a token or a statement's values)."""
    try:
        raise ValueError("token 123456:SECRET")  # noqa: TRY301
    except ValueError:
        record = logging.getLogger("certmate").makeRecord(
            "certmate", logging.ERROR, __file__, 1, "sending failed", (), sys.exc_info()
        )
    line = json.loads(JsonLines().format(record))
    assert line["message"] == "sending failed"
    assert line["exception"] == "ValueError"
    assert line["where"].startswith(f"{__file__}:")
    assert "SECRET" not in json.dumps(line)


async def test_healthz_answers_an_address_out_of_its_refusal_allowance() -> None:
    """An address that used up its refusals gets 429 everywhere but /healthz: a monitor
    sharing an address with a scanner (one NAT, one proxy) still learns the truth."""
    port = free_port()
    settings = HttpSettings(refusals_per_minute=2)
    server = Server(build_app(settings, clock=lambda: 0.0), "127.0.0.1", port)
    await server.start()
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            assert [(await _get(http, f"{base}/guess{i}"))[0] for i in range(3)] == [
                404,
                404,
                429,
            ]
            assert (await _get(http, f"{base}/healthz"))[0] == 200
            assert (await _get(http, f"{base}/healthz"))[0] == 200
    finally:
        await server.stop()


async def test_healthz_without_a_reachable_database_says_so_quickly() -> None:
    """A database nobody answers at: /healthz gives 503 within its timeout, not a hang."""
    held: list[asyncio.StreamWriter] = []

    async def never_answer(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    listener = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    silent = int(listener.sockets[0].getsockname()[1])
    database = Database.connect(
        sa.URL.create(
            "postgresql+asyncpg", "certmate", "s3cret", "127.0.0.1", silent, "x"
        ).render_as_string(hide_password=False)
    )
    try:
        check = DatabaseCheck(database, time.monotonic, timeout=0.5)
        started = time.monotonic()
        assert await check.status() == "timeout"
        assert time.monotonic() - started < 2
    finally:
        await database.close()
        for writer in held:
            writer.close()
        listener.close()
        await listener.wait_closed()
