"""The main menu: every flow is one button away."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from handlers.flow import Context
from handlers.messages import Choice
from storage.models import Certificate

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


async def certificate_choices(
    ctx: Context, rows: Sequence[Certificate], action: str
) -> list[Choice]:
    """One button per certificate, `홍길동 · 2026-07-01`, sending `action` with its id."""
    return [
        await ctx.button(
            f"{row.holder} · {row.not_after.astimezone(ctx.zone).date().isoformat()}",
            action,
            id=row.id,
        )
        for row in rows
    ]
