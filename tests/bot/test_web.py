"""The HTTP server against hostile clients, over real sockets on 127.0.0.1: clients too
slow to send headers or bodies, floods of guessed links from one address, and what the
`Server` header gives away. (Malformed secrets and bodies are in test_kakao.py and
test_telegram.py, next to the routes they attack.)"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from bot.config import MAX_DRAIN_SECONDS, ConfigError, HttpSettings
from bot.web import Server, build_app
from bot.web_limits import MAX_TRACKED, Admission, RefusalLimiter, client_address
from tests.bot.kakao_site import Site, running_site
from tests.bot.raw_http import raw_exchange
from tests.conftest import free_port
from tests.fakes.kakao_skill import SECRET, SKILL_PATH, page_links, skill_payload

USER = "web-user"
SLOW = HttpSettings(header_timeout=1, body_timeout=1)


def _port(site: Site) -> int:
    return int(site.base.rsplit(":", 1)[1])


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes | None:
    """What the server sent before closing, or None if it was still open after `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            return await reader.read()
    except TimeoutError:
        return None


async def _trickle(writer: asyncio.StreamWriter, stop: asyncio.Event) -> None:
    """One header byte every 0.3 s, as a slowloris client does, until told or cut off."""
    try:
        while not stop.is_set():
            writer.write(b"a")
            await writer.drain()
            await asyncio.sleep(0.3)
    except ConnectionError:
        return


async def _timed_get(http: aiohttp.ClientSession, url: str) -> tuple[int, float]:
    started = time.perf_counter()
    async with http.get(url) as response:
        await response.read()
        return response.status, time.perf_counter() - started


# --- slow clients ---------------------------------------------------------------------


async def test_slow_header_clients_are_cut_and_real_requests_still_served(
    tmp_path: Path,
) -> None:
    """Fifty connections trickling their headers a byte at a time are closed once the
    header timeout (1 s here) runs out, counted from connecting; a real request in the
    meantime is answered at once."""
    async with running_site(tmp_path, SLOW) as site:
        stop = asyncio.Event()
        connections = [await asyncio.open_connection("127.0.0.1", _port(site)) for _ in range(50)]
        opened = time.monotonic()
        trickles = []
        for _reader, writer in connections:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: certmate\r\nX-Slow: ")
            trickles.append(asyncio.create_task(_trickle(writer, stop)))
        try:
            status, seconds = await _timed_get(site.client, site.base + "/healthz")
            assert status == 200
            assert seconds < 0.5
            closed = await asyncio.gather(*(_closed_within(r, 3.0) for r, _ in connections))
            elapsed = time.monotonic() - opened
        finally:
            stop.set()
            await asyncio.gather(*trickles)
            for _reader, writer in connections:
                writer.close()
        assert all(sent is not None for sent in closed), "a slow client was kept"
        assert elapsed < 3.0
        status, seconds = await _timed_get(site.client, site.base + "/healthz")
        assert status == 200


async def test_a_kept_alive_connection_gets_the_same_header_timeout(tmp_path: Path) -> None:
    """After an answer, the next request's headers are due within the timeout too."""
    async with running_site(tmp_path, SLOW) as site:
        reader, writer = await asyncio.open_connection("127.0.0.1", _port(site))
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: certmate\r\n\r\n")
        assert (await reader.readuntil(b"\r\n")).startswith(b"HTTP/1.1 200")
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: cert")
        stop = asyncio.Event()
        trickle = asyncio.create_task(_trickle(writer, stop))
        try:
            rest = await _closed_within(reader, 3.0)
        finally:
            stop.set()
            await trickle
            writer.close()
        assert rest is not None
        assert b"HTTP/1.1 200" not in rest.split(b"\r\n\r\n", 1)[1]  # no second answer


async def test_a_slow_body_is_408_and_the_connection_closed(tmp_path: Path) -> None:
    """A body trickled slower than the body timeout (1 s here) is answered 408 and the
    connection is closed, whatever route it was for."""
    async with running_site(tmp_path, SLOW) as site:
        reader, writer = await asyncio.open_connection("127.0.0.1", _port(site))
        writer.write(
            b"POST /u/AAAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: certmate\r\n"
            b"Content-Length: 1000\r\n\r\n"
        )
        stop = asyncio.Event()
        trickle = asyncio.create_task(_trickle(writer, stop))
        started = time.monotonic()
        try:
            sent = await _closed_within(reader, 5.0)
        finally:
            stop.set()
            await trickle
            writer.close()
        assert sent is not None
        assert sent.startswith(b"HTTP/1.1 408")
        assert time.monotonic() - started < 4.5  # 1 s to read, at most 2 s to drain


# --- floods from one address -----------------------------------------------------------


async def _own_link(site: Site) -> str:
    await site.say(USER, "메뉴")
    (url,) = page_links(await site.press(USER, "인증서 등록"))
    return url


async def _median_get(http: aiohttp.ClientSession, url: str, times: int) -> float:
    seconds = []
    for _ in range(times):
        status, took = await _timed_get(http, url)
        assert status == 200
        seconds.append(took)
    return statistics.median(seconds)


async def test_a_flood_of_guessed_links_gets_429_and_a_real_user_is_still_fast(
    tmp_path: Path,
) -> None:
    """A flood of made-up links from 127.0.0.2 (another process, 64 connections) uses up
    that address's allowance of refusals; then each of its requests waits a second for
    a 429, with no database work, so a user on 127.0.0.1 opening their own link is
    served about as fast as without the flood."""
    async with running_site(tmp_path, HttpSettings(refusals_per_minute=30)) as site:
        url = await _own_link(site)
        quiet = await _median_get(site.client, url, 40)
        flood = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.bot.flood", site.base, "127.0.0.2", "20000", "20",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert flood.stdout is not None
        try:
            assert await asyncio.wait_for(flood.stdout.readline(), 30) == b"started\n"
            await asyncio.sleep(1.0)  # past the allowance, into the 429s
            flooded = await _median_get(site.client, url, 60)
        finally:
            flood.terminate()
            out, _ = await flood.communicate()
        counts = {int(k): v for k, v in json.loads(out.splitlines()[-1] or b"{}").items()}
    print(f"median quiet {quiet * 1000:.1f} ms, flooded {flooded * 1000:.1f} ms, flood {counts}")  # noqa: T201
    assert set(counts) == {410, 429}
    # The allowance, the first wave in flight before any was refused, what refilled since.
    assert counts[410] <= 30 + 64 + 10
    assert flooded < quiet * 3 + 0.010


async def test_a_refused_address_gets_429_and_other_addresses_do_not(tmp_path: Path) -> None:
    """Unknown links and wrong Kakao secrets use an address's allowance; past it the
    address gets 429 with Retry-After, even for a real link or the right secret, while
    the same link from another address still opens."""
    async with running_site(tmp_path, HttpSettings(refusals_per_minute=5)) as site:
        url = await _own_link(site)
        skill = site.base + SKILL_PATH
        local2 = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=local2) as other:
            statuses = [(await _timed_get(other, f"{site.base}/u/nope{i}"))[0] for i in range(3)]
            for secret in ("wrong", SECRET[:-1]):
                headers = {"X-Certmate-Secret": secret}
                async with other.post(skill, json=skill_payload(USER), headers=headers) as answer:
                    statuses.append(answer.status)
            assert statuses == [410, 410, 410, 403, 403]
            async with other.get(url) as response:
                assert response.status == 429
                assert 1 <= int(response.headers["Retry-After"]) <= 12
            headers = {"X-Certmate-Secret": SECRET}
            async with other.post(skill, json=skill_payload(USER), headers=headers) as answer:
                assert answer.status == 429
        status, _ = await _timed_get(site.client, url)
        assert status == 200


async def test_x_forwarded_for_counts_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    """Without trusted proxies a flood cannot escape its allowance by naming other
    clients in X-Forwarded-For; behind a trusted proxy (127.0.0.1 here) each client
    it names has its own allowance."""
    async with running_site(tmp_path, HttpSettings(refusals_per_minute=3)) as site:
        statuses = []
        for i in range(5):
            headers = {"X-Forwarded-For": f"203.0.113.{i}"}
            async with site.client.get(f"{site.base}/u/nope", headers=headers) as response:
                statuses.append(response.status)
        assert statuses == [410, 410, 410, 429, 429]
    proxied = HttpSettings(refusals_per_minute=3, trusted_proxies=("127.0.0.0/8",))
    async with running_site(tmp_path / "proxied", proxied) as site:
        for client in ("203.0.113.7", "203.0.113.8"):
            statuses = []
            for _ in range(4):
                headers = {"X-Forwarded-For": f"10.9.9.9, {client}"}  # the proxy adds last
                async with site.client.get(f"{site.base}/u/nope", headers=headers) as response:
                    statuses.append(response.status)
            assert statuses == [410, 410, 410, 429]


def _refuse(limiter: RefusalLimiter, address: str) -> None:
    """One request from `address`, let in and refused."""
    admission = limiter.admit(address)
    assert admission.wait == 0
    limiter.settle(address, admission, refused=True)


def test_the_allowance_refills_over_time() -> None:
    """A token bucket: `per_minute` refusals at once, one more every 60/per_minute s."""
    now = [100.0]
    limiter = RefusalLimiter(6, lambda: now[0])
    for _ in range(6):
        _refuse(limiter, "a")
    assert limiter.admit("a").wait == 10
    assert limiter.admit("b").wait == 0
    now[0] += 9.5
    assert limiter.admit("a").wait == 1
    now[0] += 0.5
    _refuse(limiter, "a")
    assert limiter.admit("a").wait == 10
    now[0] += 60
    assert limiter.admit("a") == Admission(wait=0, reserved=False)  # whole: forgotten
    assert limiter.tracked == 0


def test_requests_in_flight_cannot_outrun_the_allowance() -> None:
    """Once an address has been refused, each request it has in flight holds a unit: a
    wave of them arriving together gets no more than what is left; the unit of one
    that succeeds comes back."""
    limiter = RefusalLimiter(3, lambda: 0.0)
    _refuse(limiter, "a")  # 2 left
    wave = [limiter.admit("a") for _ in range(5)]
    assert [a.wait == 0 for a in wave] == [True, True, False, False, False]
    limiter.settle("a", wave[0], refused=False)  # a real request: its unit comes back
    limiter.settle("a", wave[1], refused=True)
    assert limiter.admit("a").wait == 0
    assert limiter.admit("a").wait > 0
    never_refused = [limiter.admit("kakao") for _ in range(100)]
    assert all(a == Admission(wait=0, reserved=False) for a in never_refused)


def test_the_limiter_remembers_a_bounded_number_of_addresses() -> None:
    """A flood from ever new addresses cannot grow memory without bound; an address still
    out of allowance is dropped last (the oldest go first)."""
    limiter = RefusalLimiter(1, lambda: 0.0)
    addresses = [f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}" for i in range(MAX_TRACKED + 10)]
    for address in addresses:
        _refuse(limiter, address)
    assert limiter.tracked <= MAX_TRACKED
    assert limiter.admit(addresses[-1]).wait > 0
    assert limiter.admit(addresses[0]).wait == 0  # forgotten: a whole allowance again


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("192.0.2.1", ["203.0.113.5"], (), "192.0.2.1"),
        ("127.0.0.1", ["203.0.113.5"], ("127.0.0.1",), "203.0.113.5"),
        ("127.0.0.1", ["198.51.100.1, 203.0.113.5"], ("127.0.0.1",), "203.0.113.5"),
        ("127.0.0.1", ["203.0.113.5", "10.0.0.2"], ("127.0.0.1", "10.0.0.0/8"), "203.0.113.5"),
        ("127.0.0.1", ["garbage"], ("127.0.0.1",), "127.0.0.1"),
        ("127.0.0.1", [], ("127.0.0.1",), "127.0.0.1"),
        ("2001:db8:1:2:3:4:5:6", [], (), "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.9", [], (), "192.0.2.9"),
        (None, [], (), "unknown"),
    ],
)
def test_the_client_address(
    peer: str | None, forwarded: list[str], trusted: tuple[str, ...], expected: str
) -> None:
    networks = HttpSettings(trusted_proxies=trusted).proxy_networks
    assert client_address(peer, forwarded, networks) == expected


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    with pytest.raises(ConfigError, match="trusted_proxies"):
        HttpSettings(trusted_proxies=("haproxy",))


# --- malformed requests --------------------------------------------------------------


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nNot a header\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        b"GET /u/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /u/%FF%ED%A0%80 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: \xff, ::zz\r\n\r\n",
        b"POST /kakao/skill HTTP/1.1\r\nHost: x\r\nX-Certmate-Secret: "
        + SECRET.encode()
        + b"\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nnot-gzip",
        b"POST /kakao/skill HTTP/1.1\r\nHost: x\r\nX-Certmate-Secret: "
        + SECRET.encode()
        + b"\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST /u/AAAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: x\r\nContent-Encoding: deflate\r\n"
        b"Content-Length: 4\r\n\r\n\x00\x01\x02\x03",
    ],
)
async def test_malformed_requests_are_never_500_and_log_no_error(
    site: Site, caplog: pytest.LogCaptureFixture, request_bytes: bytes
) -> None:
    """Broken HTTP, bytes that are not UTF-8, broken body encodings: a 400 (or, for an
    unreadable X-Forwarded-For, which is ignored, a 200) that names no software version,
    no error or traceback in the log, and the server keeps serving."""
    caplog.set_level(logging.DEBUG)
    answer = await raw_exchange(_port(site), request_bytes)
    status = int(answer.split()[1])
    assert status < 500, answer
    assert b"\r\nServer: certmate\r\n" in answer
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    async with site.client.get(site.base + "/healthz") as response:
        assert response.status == 200


# --- what the server says about itself -------------------------------------------------


async def test_the_server_header_names_no_version(site: Site) -> None:
    """Answers of every kind say `Server: certmate`, and nothing about aiohttp or Python."""
    for path in ("/healthz", "/u/nope", "/no/such/path", "/static/secure-page.js"):
        async with site.client.get(site.base + path) as response:
            assert response.headers["Server"] == "certmate", path


# --- a stop behind a load balancer ----------------------------------------------------


async def test_a_draining_server_fails_its_health_check_and_still_answers() -> None:
    """A stop with `drain_seconds`: /healthz says 503 "stopping" (so a balancer's checks
    take the process out) while other requests are still answered, then the port closes.
    Without the drain, a rolling restart cut requests the balancer had already sent."""
    port = free_port()
    server = Server(build_app(HttpSettings()), "127.0.0.1", port, drain_seconds=1)
    await server.start()
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            assert (await _timed_get(http, base + "/healthz"))[0] == 200
            draining = asyncio.create_task(server.drain())
            await asyncio.sleep(0.2)
            async with http.get(base + "/healthz") as response:
                assert response.status == 503
                assert await response.json() == {"ok": False, "stopping": True}
            assert (await _timed_get(http, base + "/metrics"))[0] == 200
            assert not draining.done()
            await draining
    finally:
        await server.stop()


def test_drain_seconds_is_bounded_by_the_stop_grace() -> None:
    with pytest.raises(ConfigError, match="drain_seconds"):
        HttpSettings(drain_seconds=MAX_DRAIN_SECONDS + 1)
    with pytest.raises(ConfigError, match="drain_seconds"):
        HttpSettings(drain_seconds=-1)
