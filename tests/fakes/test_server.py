"""The lifecycle every fake shares (`FakeServer`): where it listens, and a stop that
nothing it holds can delay."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.fakes.kakao_events import API_KEY, BOT_ID, FakeKakaoEventApi
from tests.fakes.kakao_skill import FakeKakaoCallback
from tests.fakes.server import FakeServer
from tests.fakes.telegram import TOKEN, FakeBotApi

FAKES = [FakeBotApi, FakeKakaoEventApi, FakeKakaoCallback]


@pytest.mark.parametrize("fake", FAKES)
async def test_each_fake_listens_on_its_own_free_port_of_127_0_0_1(
    fake: type[FakeServer],
) -> None:
    """Two of a kind run side by side; `url` names the port each got, and is refused
    before start and after stop."""
    unstarted = fake()
    with pytest.raises(RuntimeError, match=f"{fake.__name__} is not started"):
        _ = unstarted.url
    async with fake() as one, fake() as two:
        assert one.url.startswith("http://127.0.0.1:")
        assert one.url != two.url
        async with aiohttp.ClientSession() as client, client.get(one.url + "/nothing") as got:
            assert got.status in {404, 405}
        url = one.url
    async with aiohttp.ClientSession() as client:
        with pytest.raises(aiohttp.ClientConnectionError):
            await client.get(url + "/nothing")


@pytest.mark.parametrize("fake", FAKES)
async def test_a_fake_starts_again_after_a_stop(fake: type[FakeServer]) -> None:
    """`start` after `stop` serves again (and a stopped fake's pause no longer ends
    at once)."""
    server = fake()
    await server.start()
    await server.stop()
    url = await server.start()
    try:
        assert not server.stopping
        started = time.monotonic()
        await server.pause(0.05)
        assert time.monotonic() - started >= 0.05
        async with aiohttp.ClientSession() as client, client.get(url + "/nothing") as got:
            assert got.status in {404, 405}
    finally:
        await server.stop()


async def test_a_held_request_does_not_hold_the_stop() -> None:
    """A request the fake holds for a minute (a slow server) ends when the fake stops,
    so a test's teardown never waits on its own fake."""
    api = FakeKakaoEventApi()
    await api.start()
    api.delay_next(60)
    body = {"event": {"name": "x"}, "user": [{"type": "botUserKey", "id": "u"}]}
    async with aiohttp.ClientSession() as client:
        held = asyncio.create_task(
            client.post(
                f"{api.url}/v2/bots/{BOT_ID}/talk",
                json=body,
                headers={"Authorization": f"KakaoAK {API_KEY}"},
            )
        )
        while not api.requests:  # noqa: ASYNC110  (the fake has no event to wait on)
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await api.stop()
        assert time.monotonic() - started < 5
        response = await held
        response.release()
    assert api.requests[0]["status"] == 200  # answered as usual, only sooner


async def test_a_long_poll_does_not_hold_the_stop() -> None:
    """A getUpdates waiting 60 s for updates is answered when the fake stops."""
    api = FakeBotApi()
    await api.start()
    async with aiohttp.ClientSession() as client:
        poll = asyncio.create_task(
            client.post(f"{api.base_url}{TOKEN}/getUpdates", data={"timeout": "60"})
        )
        await api.wait_for(lambda: bool(api.calls_of("getUpdates")))
        started = time.monotonic()
        await api.stop()
        assert time.monotonic() - started < 5
        response = await poll
        response.release()
    assert api.calls_of("getUpdates")[0].status == 200
