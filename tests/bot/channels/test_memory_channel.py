"""A channel defined only here runs the whole path: certmate needs nothing else to know it.

`MemoryChannel` is a platform in process memory: its users type lines, send files and
press buttons, and what the bot says lands in their chat. It implements the adapter
protocol (bot/channels/adapter.py) and declares its `ChannelTraits`, and is wired as
`certmate run` wires Telegram and KakaoTalk: services and the assistant from settings
(`build_services` with its traits beside the configured ones), started by `run`'s own
loop (`start_channels`), its notifier handed to the reminder sweep (`notifiers`,
`Sweeper`). No module under handlers/ names it; the real SQLite file, the vault and a
certificate made at run time (tests/factory.py) stand behind it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Final, assert_never

import pytest
from aiohttp import web

from bot.app import (
    build_assistant,
    build_services,
    channel_traits,
    checked_keyring,
    notifiers,
    open_database,
)
from bot.channels.adapter import ChannelAdapter
from bot.channels.pacer import Pacer
from bot.config import Settings, StorageSettings
from bot.pacing import pacer_for
from bot.reminders.notifiers import Notifier
from bot.reminders.sweep import Sweeper
from bot.run_cmd import start_channels
from bot.web import build_app
from handlers.assistant import Assistant
from handlers.messages import (
    ChannelTraits,
    Choice,
    Delete,
    Document,
    Inbound,
    OpenLink,
    Outbound,
    Reply,
    SendDocument,
)
from storage import certificates, migrate, users
from storage.database import Database
from storage.models import Channel, User
from tests import factory
from tests.conftest import Holder
from tests.handlers.harness import START, Clock

MEMORY: Final = Channel("memory")
TRAITS: Final = ChannelTraits(
    takes_files=True, deletes_messages=True, messages_first=True,
    rate_limited=True, offers_page=False, sends_files=True,
)  # fmt: skip
"""Takes and sends files in the chat, deletes a typed password, messages first."""
PASSWORD: Final = factory.PASSWORD.decode()


@dataclass
class MemoryChat:
    """What one user of the memory platform sees."""

    texts: list[str] = field(default_factory=list)
    choices: tuple[Choice, ...] = ()
    """The buttons of the latest message that had any."""
    deleted: list[str] = field(default_factory=list)
    files: list[tuple[str, bytes]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


class MemoryChannel:
    """The memory platform's adapter: translates only, like every channel."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.chats: dict[str, MemoryChat] = {}
        self.taking = False
        self._refs = itertools.count(1)
        self._roles_changed = asyncio.Event()

    # --- the adapter protocol ----------------------------------------------------------

    @property
    def channel(self) -> Channel:
        return MEMORY

    @property
    def summary(self) -> str:
        return "the memory channel is on"

    def add_routes(self, app: web.Application) -> None:
        """None: its users are in this process."""

    async def start(self) -> None:
        self.taking = True

    async def stop_taking(self) -> None:
        self.taking = False

    async def stop(self, grace: float) -> None:  # noqa: ARG002  (nothing is ever in hand)
        self.taking = False

    def notifier(self, pacer: Pacer) -> Notifier:  # noqa: ARG002  (no platform limits)
        return MemoryNotifier(self)

    @property
    def roles(self) -> str:
        return ""

    @property
    def roles_changed(self) -> asyncio.Event:
        return self._roles_changed

    # --- the platform side -------------------------------------------------------------

    def chat(self, user: str) -> MemoryChat:
        return self.chats.setdefault(user, MemoryChat())

    async def say(self, user: str, line: str) -> str:
        """The user types `line` ("/word" is a command); returns its message reference."""
        ref = str(next(self._refs))
        if line.startswith("/"):
            word, _, args = line[1:].partition(" ")
            await self._handle(Inbound(MEMORY, user, ref, command=word.lower(), args=args))
        else:
            await self._handle(Inbound(MEMORY, user, ref, text=line))
        return ref

    async def send(self, user: str, *files: tuple[str, bytes]) -> None:
        """The user sends files in the chat."""
        documents = tuple(Document(name, data) for name, data in files)
        await self._handle(Inbound(MEMORY, user, str(next(self._refs)), documents=documents))

    async def press(self, user: str, label: str) -> None:
        """The user presses the button labelled `label` of their latest buttons."""
        [choice] = [c for c in self.chat(user).choices if c.label == label]
        await self._handle(Inbound(MEMORY, user, button=choice.token))

    async def _handle(self, inbound: Inbound) -> None:
        assert self.taking, "the channel is not started"
        self.render(inbound.user_key, await self.assistant.handle(inbound))

    def render(self, user: str, outbound: Sequence[Outbound]) -> None:
        chat = self.chat(user)
        for item in outbound:
            match item:
                case Reply():
                    chat.texts.append(item.text)
                    if item.choices:
                        chat.choices = item.choices
                case Delete():
                    chat.deleted.append(item.message_ref)
                case SendDocument():
                    chat.files.append((item.filename, item.data))
                case OpenLink():
                    chat.links.append(item.url)
                case _:
                    assert_never(item)


class MemoryNotifier:
    """Reminders pushed into the user's chat."""

    def __init__(self, channel: MemoryChannel) -> None:
        self.channel = channel
        self.sent = 0

    async def send(
        self,
        user: User,
        message: Reply,
        certificates: Sequence[str],  # noqa: ARG002  (the protocol's)
        now: datetime,  # noqa: ARG002
    ) -> str:
        self.channel.render(user.user_key, [message])
        self.sent += 1
        return f"memory-{self.sent}"


@dataclass
class Running:
    """`certmate run`'s wiring with the memory channel as its one channel."""

    settings: Settings
    database: Database
    clock: Clock
    memory: MemoryChannel
    sweeper: Sweeper


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    settings = replace(Settings(), storage=StorageSettings(data_dir=tmp_path / "data"))
    database = open_database(settings)
    try:
        await migrate.upgrade(database)
        keyring = await checked_keyring(settings, database)
        clock = Clock(START)
        wired = {**channel_traits(settings), MEMORY: TRAITS}
        services = build_services(settings, database, clock, keyring, channels=wired)
        memory = MemoryChannel(build_assistant(services))
        adapters: list[ChannelAdapter] = [memory]
        pushed = await start_channels(adapters, build_app(settings.http), pacer_for(database))
        sweeper = Sweeper(services, notifiers(services, pushed), "run:memory-test")
        try:
            yield Running(settings, database, clock, memory, sweeper)
        finally:
            for adapter in adapters:
                await adapter.stop_taking()
                await adapter.stop(grace=1)
    finally:
        await database.close()


async def test_a_channel_defined_in_the_tests_registers_a_certificate_and_gets_its_reminder(
    running: Running, holder: Holder, seed_key: bytes
) -> None:
    """Files sent in the memory chat, the password typed and deleted, the certificate
    kept for the memory user; at D-30 the sweep pushes the reminder into their chat,
    once, with buttons that work there."""
    memory, user = running.memory, "memory-user-1"
    await memory.send(user, ("signCert.der", holder.cert_der), ("signPri.key", seed_key))
    typed = await memory.say(user, PASSWORD)
    chat = memory.chat(user)
    assert chat.deleted == [typed]  # its traits say it deletes a typed password
    assert chat.links == []  # and offer no secure page
    async with running.database.read() as session:
        found = await users.find(session, MEMORY, user)
        assert found is not None
        assert found.id is not None
        [kept] = await certificates.list_active(session, found.id)
    assert kept.holder == "홍길동"

    shown = len(chat.texts)
    delivered = await running.sweeper.run(running.clock())
    assert [(d.channel, d.user, d.threshold_days) for d in delivered] == [("memory", user, 30)]
    [reminder] = chat.texts[shown:]
    assert "D-30" in reminder
    assert chat.choices
    assert await running.sweeper.run(running.clock()) == []  # once

    await memory.press(user, chat.choices[0].label)
    assert len(chat.texts) > shown + 1  # the reminder's button answered in the chat
