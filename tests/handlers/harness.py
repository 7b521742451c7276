"""Drive the real assistant through the console channel, in process, on a real SQLite file.

`Chat` plays user lines exactly as `certmate chat --script` does and returns
the transcript entries; the clock is a parameter that tests move.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import channel_traits
from bot.channels.console import ConsoleUser, transcript_entries
from bot.config import Settings
from handlers.assistant import Assistant
from handlers.dates import SEOUL
from handlers.flows import all_specs
from handlers.i18n import load_catalog
from handlers.institutions import load_directory
from handlers.messages import ChannelTraits, Inbound, Outbound
from handlers.services import AssistantSettings, Services
from storage import migrate, users
from storage.database import Database
from storage.keyring import KeyringFile, create
from storage.models import Channel
from storage.vault import Vault
from tests import factory

START = datetime(2026, 6, 1, 10, 0, tzinfo=SEOUL)  # D-30 for a 2026-07-01 expiry


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


DEFAULT_CHANNELS: Mapping[str, ChannelTraits] = channel_traits(Settings())


@dataclass
class World:
    """One deployment: a database, a key file, a clock, and the assistant over them."""

    folder: Path
    clock: Clock
    settings: AssistantSettings = field(default_factory=AssistantSettings)
    channels: Mapping[str, ChannelTraits] = field(
        default_factory=lambda: channel_traits(Settings())
    )
    """What each channel can do (as `certmate run` wires them by default)."""
    database: Database = field(init=False)
    assistant: Assistant = field(init=False)

    async def start(self) -> None:
        self.database = Database.connect(f"sqlite+aiosqlite:///{self.folder / 'certmate.db'}")
        await migrate.upgrade(self.database)
        create(self.folder / "master.key")  # a new deployment (the existing key if restarted)
        self.assistant = self._assistant()

    def _assistant(self) -> Assistant:
        services = Services(
            database=self.database,
            vault=Vault(KeyringFile(self.folder / "master.key")),
            catalog=load_catalog(),
            directory=load_directory(),
            settings=self.settings,
            clock=self.clock,
            channels=self.channels,
        )
        return Assistant(services, all_specs())

    def restart(self) -> None:
        """A new process: nothing in memory survives, only the database and key file."""
        self.assistant = self._assistant()

    async def handle(self, inbound: Inbound) -> list[Outbound]:
        return await self.assistant.handle(inbound)

    async def close(self) -> None:
        self.assistant.services.worker.close()
        await self.database.close()

    def chat(self, user: str = "console") -> Chat:
        return Chat(self, user)

    async def user_id(
        self, user: str = "console", channel: Channel = Channel.CONSOLE
    ) -> int | None:
        """The database id of a user, or None when there is no such user (yet, or any more)."""
        async with self.database.read() as session:
            row = await users.find(session, channel, user)
            return row.id if row is not None else None

    def disk_bytes(self, *, skip: tuple[Path, ...] = ()) -> dict[Path, bytes]:
        """Every file under the world's folder (database, WAL, key file, out dir …), by path."""
        return {
            path: path.read_bytes()
            for path in sorted(self.folder.rglob("*"))
            if path.is_file() and path not in skip
        }


class Chat:
    """One console user talking to the world's assistant."""

    def __init__(self, world: World, user: str) -> None:
        self.world = world
        self.console = ConsoleUser(
            lambda inbound: world.assistant.handle(inbound),  # noqa: PLW0108  (restart swaps it)
            user,
            world.folder / "out",
            upload_limit=1024 * 1024,
        )
        self.transcript: list[dict[str, Any]] = []

    async def say(self, line: str) -> list[dict[str, Any]]:
        """Send a line; returns the transcript entries (user entry first)."""
        entry, outbound = await self.console.send_line(line)
        entries = [entry, *transcript_entries(self.console, outbound)]
        self.transcript.extend(entries)
        return entries

    async def upload(self, *paths: Path) -> list[dict[str, Any]]:
        return await self.say("/upload " + " ".join(f"'{p}'" for p in paths))

    async def press(self, label: str) -> list[dict[str, Any]]:
        return await self.say(f"/press {label}")


async def register(chat: Chat, *paths: Path, password: str | None = None) -> list[dict[str, Any]]:
    """Upload files, then type the certificate password; returns all entries of both steps."""
    reply = await chat.upload(*paths)
    reply += await chat.say(password or factory.PASSWORD.decode())
    assert "등록했어요" in texts(reply), reply
    return reply


async def register_reminders_only(chat: Chat, cert: Path) -> list[dict[str, Any]]:
    """Upload a certificate alone and keep it for reminders only (no key, no password)."""
    reply = await chat.upload(cert)
    reply += await chat.press("알림용으로만 등록")
    assert "알림용으로 등록했어요" in texts(reply), reply
    return reply


async def link_account(
    chat: Chat,
    institution: str,
    *,
    number: str | None = None,
    nickname: str | None = None,
    certificate: str | None = None,
) -> list[dict[str, Any]]:
    """/link, then the certificate (its button label, when there are several), the institution
    typed (a name with one match, which goes straight on; not a bare code, which the console
    reads as a button number), the number and the nickname (each skipped when None)."""
    reply = await chat.say("/link")
    if certificate is not None:
        reply += await chat.press(certificate)
    reply += await chat.say(institution)
    reply += await (chat.say(number) if number is not None else chat.press("건너뛰기"))
    reply += await (chat.say(nickname) if nickname is not None else chat.press("건너뛰기"))
    assert "연결했어요" in texts(reply), reply
    return reply


def texts(entries: list[dict[str, Any]]) -> str:
    """All bot text of some entries, joined (for `in` checks)."""
    return "\n".join(e["text"] for e in entries if e["type"] == "text")


def buttons(entries: list[dict[str, Any]]) -> list[str]:
    """The buttons of the last bot message that had any."""
    for entry in reversed(entries):
        if entry["type"] == "text" and entry["buttons"]:
            return list(entry["buttons"])
    return []
