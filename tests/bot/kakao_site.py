"""A running certmate site for Kakao and secure-page tests: the real assistant on a real
SQLite file, the Kakao skill and the secure page on a real aiohttp server on 127.0.0.1,
called by Kakao's chatbot server (`tests.fakes.kakao_skill.KakaoCaller`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.channels.kakao import KakaoChannel
from bot.config import HttpSettings, KakaoSettings
from bot.secure_page import add_routes
from bot.web import Server, build_app
from handlers.pages import SecurePages
from handlers.services import AssistantSettings
from tests.conftest import free_port
from tests.fakes.kakao_skill import BOT_ID, SECRET, KakaoCaller
from tests.handlers.harness import START, Clock, World


@dataclass(kw_only=True)
class Site(KakaoCaller):
    """Kakao calling a running site: the world behind it and its Kakao channel."""

    world: World
    channel: KakaoChannel


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async with running_site(tmp_path) as started:
        yield started


@asynccontextmanager
async def running_site(
    folder: Path, http: HttpSettings | None = None, **channel_options: Any
) -> AsyncIterator[Site]:
    """Start a site with `http`'s limits (the defaults without); `channel_options` reach
    `KakaoChannel`."""
    http = http or HttpSettings()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    world = World(folder, Clock(START), replace(AssistantSettings(), public_url=base))
    await world.start()
    settings = KakaoSettings(enabled=True, secret=SECRET, bot_ids=(BOT_ID,))
    async with aiohttp.ClientSession() as client:
        channel = KakaoChannel(world.assistant, settings, client, **channel_options)
        app = build_app(http)
        add_routes(app, SecurePages(world.assistant))
        channel.add_routes(app)
        server = Server(app, "127.0.0.1", port, header_timeout=http.header_timeout)
        await server.start()
        try:
            yield Site(world=world, base=base, channel=channel, client=client)
        finally:
            await server.stop()
            await channel.stop(1)
            await world.close()
