"""The one HTTP server of `certmate run`: the Telegram webhook, the Kakao skill, the
upload page and `/healthz` all live on it, so there is one port to open and one
place that sets limits on what a request may send.

What every route can rely on: a client that is slow to send its headers is cut
after `[http] header_timeout` (aiohttp's idle timer, which runs from the moment
of connecting), a body that has not arrived within `[http] body_timeout` is a
408, an address that keeps failing authentication gets 429 (bot/web_limits.py),
and the `Server` header names no software version. `/healthz` is exempt from that
allowance (a monitor behind the same address as a scanner still gets its answer), and
`/metrics` answers only `[http] metrics_from` (404 to anyone else). Every request is
timed into the process's metrics by its route's template, never its raw path.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web, web_response
from aiohttp.http_exceptions import HttpProcessingError

from bot.config import HttpSettings
from bot.health import OK, DatabaseCheck
from bot.metrics import CONTENT_TYPE, UNMATCHED, Metrics
from bot.web_limits import IPNetwork, RefusalLimiter, client_address, client_ip, refused, within
from storage.database import Database

MAX_BODY: Final = 2 * 1024 * 1024
"""Largest request body accepted; webhook updates carry file ids, not files."""
MAX_JSON_DEPTH: Final = 32
"""Deepest nesting of a JSON body; real updates and skill payloads stay under 12."""
SERVER_NAME: Final = "certmate"
TARPIT_SECONDS: Final = 1.0
"""How long a request from an address out of allowance waits for its 429."""
LINGER_SECONDS: Final = 2.0
"""How long an unread body is drained after an early answer (aiohttp's default is 10)."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_LIMITER_KEY: Final = web.AppKey("refusal_limiter", RefusalLimiter)
_SETTINGS_KEY: Final = web.AppKey("http_settings", HttpSettings)
_PROXIES_KEY: Final = web.AppKey("trusted_proxies", tuple[IPNetwork, ...])
_METRICS_KEY: Final = web.AppKey("metrics", Metrics)
_CHECK_KEY: Final = web.AppKey("database_check", DatabaseCheck)
_STOPPING_KEY: Final = web.AppKey("stopping", asyncio.Event)
HEALTHZ: Final = "/healthz"
METRICS: Final = "/metrics"


class BadJson(ValueError):
    """A body that is not JSON, or nested deeper than `MAX_JSON_DEPTH` (answered 400)."""


def parse_json(data: bytes) -> Any:
    """The JSON value in `data`; raises `BadJson`, never `RecursionError`."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as err:
        raise BadJson("not JSON") from err
    if _deeper_than(value, MAX_JSON_DEPTH):
        raise BadJson("nested too deeply")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and arrays nest more than `limit` levels (without recursion, so
    a body that json accepted near Python's recursion limit cannot break json.dumps)."""
    pending: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while pending:
        item, depth = pending.pop()
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                if depth >= limit:
                    return True
                pending.append((child, depth + 1))
    return False


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a secret header with the configured secret. aiohttp
    keeps a header's non-UTF-8 bytes as surrogates: such a value is simply wrong."""
    if given is None or not expected:
        return False
    try:
        raw = given.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(raw, expected.encode())


def build_app(
    settings: HttpSettings | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
    metrics: Metrics | None = None,
    database: Database | None = None,
) -> web.Application:
    """The application with `/healthz` and `/metrics`; channels add their routes before
    it starts. `clock` drives the per-address allowance of refused requests; `metrics`
    are the process's (a fresh set when not given); `/healthz` checks `database` (without
    one it only says the server is up)."""
    settings = settings or HttpSettings()
    app = web.Application(client_max_size=MAX_BODY, middlewares=[_timed, _limit, _body_in_time])
    app[_SETTINGS_KEY] = settings
    app[_LIMITER_KEY] = RefusalLimiter(settings.refusals_per_minute, clock)
    app[_PROXIES_KEY] = settings.proxy_networks
    app[_METRICS_KEY] = metrics if metrics is not None else Metrics()
    if database is not None:
        app[_CHECK_KEY] = DatabaseCheck(database, clock)
    app[_STOPPING_KEY] = asyncio.Event()
    app.router.add_get(HEALTHZ, _healthz)
    app.router.add_get(METRICS, _metrics)
    return app


async def _healthz(request: web.Request) -> web.Response:
    """200 when the database answers `SELECT 1` in time, else 503 naming how it fails;
    503 "stopping" once the process drains before a stop."""
    if request.app[_STOPPING_KEY].is_set():
        return web.json_response({"ok": False, "stopping": True}, status=503)
    check = request.app.get(_CHECK_KEY)
    if check is None:
        return web.json_response({"ok": True})
    database = await check.status()
    return web.json_response(
        {"ok": database == OK, "database": database}, status=200 if database == OK else 503
    )


async def _metrics(request: web.Request) -> web.Response:
    """The process's metrics, for `[http] metrics_from` only: to anyone else there is
    nothing here (activity volume is not public)."""
    settings = request.app[_SETTINGS_KEY]
    forwarded = request.headers.getall("X-Forwarded-For", [])
    address = client_ip(request.remote, forwarded, request.app[_PROXIES_KEY])
    if address is None or not within(address, settings.metrics_networks):
        raise web.HTTPNotFound
    body = request.app[_METRICS_KEY].render()
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


@web.middleware
async def _timed(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Time every request into the latency histogram, by route template and status class."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
    except web.HTTPException as err:
        status = err.status
        raise
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else UNMATCHED
        request.app[_METRICS_KEY].http_seconds.labels(route, f"{status // 100}xx").observe(
            time.perf_counter() - started
        )
    return response


@web.middleware
async def _limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """429 (after `TARPIT_SECONDS`, closing the connection) for an address that used up
    its allowance of refused requests; every refusal (a wrong secret, an unknown link,
    an unknown path) uses one."""
    if request.path == HEALTHZ:
        return await handler(request)  # a monitor's question is never refused nor counted
    limiter = request.app[_LIMITER_KEY]
    forwarded = request.headers.getall("X-Forwarded-For", [])
    address = client_address(request.remote, forwarded, request.app[_PROXIES_KEY])
    admission = limiter.admit(address)
    if admission.wait > 0:
        # Held, then closed: a flood waits on itself instead of taking the loop's time.
        await asyncio.sleep(TARPIT_SECONDS)
        too_many = _closing(429)
        too_many.headers["Retry-After"] = str(admission.wait)
        return too_many
    try:
        response = await handler(request)
    except web.HTTPException as err:
        limiter.settle(address, admission, refused=refused(err.status))
        raise
    except BaseException:
        limiter.settle(address, admission, refused=False)
        raise
    limiter.settle(address, admission, refused=refused(response.status))
    return response


@web.middleware
async def _body_in_time(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The whole body, read before the route runs, within `[http] body_timeout`; a client
    that trickles it gets 408, one whose body cannot be read (a broken chunked or gzip
    encoding) 400, and either has its connection closed."""
    if request.body_exists:
        try:
            async with asyncio.timeout(request.app[_SETTINGS_KEY].body_timeout):
                await request.read()  # kept by aiohttp: the route's read() returns it
        except TimeoutError:
            return _closing(408)
        except web.RequestPayloadError:
            return _closing(400)
    return await handler(request)


def _closing(status: int) -> web.Response:
    response = web.Response(status=status)
    response.force_close()
    return response


def _hide_versions_and_client_errors() -> None:
    """`Server: certmate` on every answer, the parser's own 400s included (they reach no
    signal or middleware, so aiohttp's default itself is replaced), and a malformed
    request or body logged as one line at DEBUG, as aiohttp logs garbage, not as an
    ERROR with a traceback: it is the client's fault, and a flood of them must not
    flood the log."""
    web_response.SERVER_SOFTWARE = SERVER_NAME  # type: ignore[attr-defined]
    logging.getLogger("aiohttp.server").addFilter(_client_error_as_one_line)


def _client_error_as_one_line(record: logging.LogRecord) -> bool:
    error = record.exc_info[1] if record.exc_info else None
    if isinstance(error, HttpProcessingError | web.RequestPayloadError):
        record.exc_info = None
        record.exc_text = None
        record.msg = f"{record.msg} (malformed HTTP)"
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
    return True


class Server:
    """Starts the app on host:port and stops it, letting requests in flight finish.
    A connection that has not sent a whole request's headers `header_timeout` seconds
    after connecting (or after its last answer) is closed."""

    def __init__(
        self,
        app: web.Application,
        host: str,
        port: int,
        *,
        header_timeout: float = 10.0,
        drain_seconds: float = 0,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.header_timeout = header_timeout
        self.drain_seconds = drain_seconds
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        _hide_versions_and_client_errors()
        self._runner = web.AppRunner(
            self.app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=5,
            # aiohttp closes a connection still waiting for a request when this runs
            # out, counted from connecting: a header timeout against slow clients.
            keepalive_timeout=self.header_timeout,
            lingering_time=LINGER_SECONDS,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = self._runner.addresses
        if sockets and self.port == 0:
            self.port = int(sockets[0][1])

    async def drain(self) -> None:
        """For `drain_seconds`, `/healthz` answers 503 "stopping" while every other
        request is still served: a load balancer's health checks take the process out of
        rotation before its port closes, so no request is cut on a connection it was
        about to reuse (for an app from `build_app`)."""
        if self.drain_seconds > 0:
            self.app[_STOPPING_KEY].set()
            await asyncio.sleep(self.drain_seconds)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
