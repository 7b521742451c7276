"""The main menu: every flow is one button away."""

from __future__ import annotations

from typing import Final

from handlers.flow import Context
from handlers.messages import Choice

ENTRIES: Final = (
    ("menu.add", "add:start"),
    ("menu.certs", "certs:start"),
    ("menu.link", "link:start"),
    ("menu.renew", "renew:start"),
    ("menu.export", "export:start"),
    ("menu.remind", "remind:start"),
    ("menu.privacy", "privacy:start"),
    ("menu.help", "help:start"),
)


async def main_menu(ctx: Context) -> tuple[Choice, ...]:
    """Buttons for every flow, labelled in the user's language."""
    return tuple([await ctx.button(label, action) for label, action in ENTRIES])
