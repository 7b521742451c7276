"""What `certmate run` does with every channel, the same way for each.

A channel adapter translates between one platform and the conversation core; the
run command wires the adapters in a loop: their HTTP routes on the one server,
start, a stop in two steps (take no new work, then finish what is in hand), the
notifier reminders go out through when the channel can message first, and the
roles it holds for the roll call (`certmate status`). A new channel implements
this and declares its `ChannelTraits`; nothing else in `run` changes.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from aiohttp import web

from bot.channels.pacer import Pacer
from bot.reminders.notifiers import Notifier
from storage.models import Channel


class ChannelAdapter(Protocol):
    """One platform, as `certmate run` drives it."""

    @property
    def channel(self) -> Channel:
        """Which channel its users belong to."""
        ...

    @property
    def summary(self) -> str:
        """What the log says once it is on."""
        ...

    def add_routes(self, app: web.Application) -> None:
        """Its routes on the shared HTTP server (none if it receives otherwise)."""
        ...

    async def start(self) -> None:
        """Connect and start taking messages."""
        ...

    async def stop_taking(self) -> None:
        """Take no new messages (another process may take them); work in hand goes on."""
        ...

    async def stop(self, grace: float) -> None:
        """Finish the work in hand within `grace` seconds, then disconnect."""
        ...

    def notifier(self, pacer: Pacer) -> Notifier | None:
        """How reminders reach its users first, pacing through `pacer`; None when it
        cannot message first (its users see reminders at their next message)."""
        ...

    @property
    def roles(self) -> str:
        """Roles it holds now for the roll call ("" for none)."""
        ...

    @property
    def roles_changed(self) -> asyncio.Event:
        """Set when `roles` changes, so the roll call says it at once."""
        ...
