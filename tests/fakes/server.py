"""The lifecycle every fake server shares: aiohttp on 127.0.0.1, a free port.

A fake stands for a server the tests cannot reach (Telegram's Bot API, Kakao's
Event API, the Kakao callback URL); the code under test talks to it over real
HTTP. Each fake adds its routes and keeps what it received; this base starts it,
says where it listens, and stops it so that nothing it holds (a long poll, a
delayed answer) outlives the test::

    async with FakeKakaoEventApi() as api:
        notifier = KakaoEventNotifier(..., base_url=api.url)
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Self

from aiohttp import web


class FakeServer:
    """Start, `url`, stop, or ``async with``; subclasses implement `add_routes`."""

    def __init__(self, *, client_max_size: int = 1024**2, shutdown_timeout: float = 1.0) -> None:
        """`client_max_size`: the largest request body taken (aiohttp's default 1 MiB);
        `shutdown_timeout`: how long `stop` lets requests in flight finish."""
        self._client_max_size = client_max_size
        self._shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._stopping = asyncio.Event()

    def add_routes(self, app: web.Application) -> None:
        """The fake's routes on its app."""
        raise NotImplementedError

    async def start(self) -> str:
        """Listen on a free port of 127.0.0.1 (parallel runs never collide); return `url`."""
        app = web.Application(client_max_size=self._client_max_size)
        self.add_routes(app)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=self._shutdown_timeout)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        self._stopping.clear()
        return self.url

    async def stop(self) -> None:
        """Stop serving; whatever waits in `pause` (or `wake_waiters`) ends at once."""
        self._stopping.set()
        self.wake_waiters()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def wake_waiters(self) -> None:
        """Wake requests the fake holds by its own means (a long poll) at `stop`."""

    @property
    def stopping(self) -> bool:
        """True from `stop` until the next `start`."""
        return self._stopping.is_set()

    async def pause(self, seconds: float) -> None:
        """Hold a request `seconds` (a slow server), ending early on `stop` so the fake
        never hangs its own shutdown."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, once started."""
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._port}"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


__all__ = ["FakeServer"]
