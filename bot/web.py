"""The one HTTP server of `certmate run`: the Telegram webhook, the Kakao skill, the
upload page and `/healthz` all live on it, so there is one port to open and one
place that sets limits on what a request may send.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

MAX_BODY: Final = 2 * 1024 * 1024
"""Largest request body accepted; webhook updates carry file ids, not files."""


def build_app() -> web.Application:
    """The application with `/healthz`; channels add their routes before it starts."""
    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_get("/healthz", _healthz)
    return app


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


class Server:
    """Starts the app on host:port and stops it, letting requests in flight finish."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = self._runner.addresses
        if sockets and self.port == 0:
            self.port = int(sockets[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
