"""The conversation core decides by what a channel can do, never by its name.

A new channel is its traits and its adapter: these tests give the console other
traits and watch the core follow them, and read every module of `handlers/` to
check none names a channel.
"""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

from bot.app import channel_traits
from bot.channels import console, kakao
from bot.config import Settings
from handlers.messages import Inbound, OpenLink, Reply
from handlers.services import AssistantSettings
from storage.models import Channel
from tests.handlers.harness import START, Clock, World

HANDLERS = Path(__file__).resolve().parents[2] / "handlers"


def test_no_module_of_the_core_names_a_channel() -> None:
    """No `Channel.X` anywhere under handlers/, and `Channel` imported only where an
    inbound message carries it as its sender's identity."""
    for path in sorted(HANDLERS.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                assert node.value.id != "Channel", f"{path.name}:{node.lineno} names a channel"
            if isinstance(node, ast.ImportFrom) and path.name != "messages.py":
                names = {alias.name for alias in node.names}
                assert "Channel" not in names, f"{path.name} imports Channel"


async def _world(tmp_path: Path, **console_traits: bool) -> World:
    channels = channel_traits(Settings())
    channels[Channel.CONSOLE] = replace(console.TRAITS, **console_traits)
    world = World(tmp_path, Clock(START), AssistantSettings(messages_per_minute=3), channels)
    await world.start()
    return world


async def test_a_channel_that_takes_no_files_gets_the_secure_page(tmp_path: Path) -> None:
    """The console given KakaoTalk's traits: /add offers the secure page instead of
    asking for files in the chat; with its own traits it asks for them."""
    page_only = await _world(tmp_path / "page", **_kakao_traits())
    as_console = await _world(tmp_path / "chat")
    try:
        out = await page_only.handle(Inbound(Channel.CONSOLE, "u1", command="add"))
        assert [item for item in out if isinstance(item, OpenLink)], out
        out = await as_console.handle(Inbound(Channel.CONSOLE, "u1", command="add"))
        assert not [item for item in out if isinstance(item, OpenLink)], out
    finally:
        await page_only.close()
        await as_console.close()


async def test_a_rate_limited_channel_is_limited_whatever_its_name(tmp_path: Path) -> None:
    """`messages_per_minute` = 3: the console, not rate-limited, answers a fourth
    message; given `rate_limited`, its fourth gets the polite refusal."""
    limited = await _world(tmp_path / "limited", rate_limited=True)
    free = await _world(tmp_path / "free")
    try:
        for world, expected in ((free, False), (limited, True)):
            answers = [
                await world.handle(Inbound(Channel.CONSOLE, "u1", f"m{n}", text="도움말"))
                for n in range(4)
            ]
            last = " ".join(item.text for item in answers[-1] if isinstance(item, Reply))
            refused = world.assistant.services.catalog.texts("ko")("rate.limited") in last
            assert refused is expected, last
    finally:
        await limited.close()
        await free.close()


def _kakao_traits() -> dict[str, bool]:
    traits = kakao.traits(event_api=False)
    return {"takes_files": traits.takes_files, "deletes_messages": traits.deletes_messages}
