"""The test balancer itself: HAProxy spreads requests and drops a dead backend."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.balancer import Balancer
from tests.conftest import free_port


async def _backend(name: str) -> tuple[web.AppRunner, int]:
    async def hello(_request: web.Request) -> web.Response:
        return web.Response(text=name)

    app = web.Application()
    app.router.add_get("/healthz", hello)
    app.router.add_get("/who", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


async def test_requests_are_spread_and_a_stopped_backend_is_left_out(tmp_path: Path) -> None:
    """Round robin over two backends; once one stops, every request reaches the other
    (HAProxy retries and takes it out of rotation)."""
    (first, first_port), (second, second_port) = await _backend("a"), await _backend("b")
    try:
        async with (
            Balancer(tmp_path, [first_port, second_port]) as balancer,
            aiohttp.ClientSession() as http,
        ):
            seen: Counter[str] = Counter()
            for _ in range(20):
                async with http.get(f"{balancer.url}/who") as response:
                    seen[await response.text()] += 1
            assert seen == {"a": 10, "b": 10}
            await first.cleanup()
            after: Counter[str] = Counter()
            for _ in range(20):
                async with http.get(f"{balancer.url}/who") as response:
                    after[await response.text()] += response.status == 200
            assert after == {"b": 20}
    finally:
        await first.cleanup()
        await second.cleanup()
