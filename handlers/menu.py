"""Buttons several flows show: one per certificate."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from handlers.actions import Action
from handlers.flow import Context
from handlers.messages import Choice
from storage.models import Certificate


async def certificate_choices(
    ctx: Context, rows: Sequence[Certificate], action: Callable[[int], Action]
) -> list[Choice]:
    """One button per certificate, `홍길동 · 2026-07-01`, sending `action(its id)`."""
    choices = []
    for row in rows:
        assert row.id is not None  # noqa: S101  (rows come from the database)
        label = f"{row.holder} · {row.not_after.astimezone(ctx.zone).date().isoformat()}"
        choices.append(await ctx.button(label, action(row.id)))
    return choices
