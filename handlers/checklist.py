"""The re-registration checklist after a renewal: where the renewed certificate must
still be registered, one button per institution to tick it off.

Shown by the register flow when a proven renewal retires its predecessor, and by
the renew flow, whose spec declares `Tick`, as items are ticked off. Neither flow
imports the other: both use this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from handlers.actions import Action
from handlers.flow import Context
from storage import accounts
from storage.models import AccountState

FLOW: Final = "renew"
"""The flow whose buttons these are."""


@dataclass(frozen=True, slots=True)
class Tick(Action):
    """The renewed certificate is registered at the linked account `id` now."""

    flow = FLOW
    verb = "tick"
    id: int


async def show_checklist_after_renewal(ctx: Context, certificate_id: int) -> None:
    """Just renewed: the old certificate is replaced, and here is where to register the
    new one (or that there is nowhere)."""
    ctx.say("renew.replaced")
    await _checklist(ctx, certificate_id, "renew.checklist", "renew.checklist_empty")


async def show_checklist_left(ctx: Context, certificate_id: int) -> None:
    """An item ticked off: where is left (or that all are done)."""
    await _checklist(ctx, certificate_id, "renew.checklist_left", "renew.checklist_done")


async def _checklist(ctx: Context, certificate_id: int, listed: str, done: str) -> None:
    """The institutions where the renewed certificate must still be registered, as
    buttons, under the text `listed`; `done` (with the menu) when there are none."""
    linked = await accounts.list_for_certificate(ctx.session, ctx.user_id, certificate_id)
    pending = [a for a in linked if a.state is AccountState.NEEDS_REGISTRATION]
    if not pending:
        ctx.say(done, *await ctx.main_menu())
        return
    lines, choices = [], []
    for account in pending:
        institution = ctx.services.directory.get(account.institution_code)
        name = institution.name(ctx.texts.locale) if institution else account.institution_code
        label = f"{name} ({account.nickname})" if account.nickname else name
        lines.append(f"☐ {label}")
        assert account.id is not None  # noqa: S101  (rows come from the database)
        choices.append(await ctx.button(f"✓ {label}", Tick(account.id)))
    ctx.say(listed, *choices, items="\n".join(lines))


async def tick(ctx: Context, action: Tick) -> None:
    """Tick one item off: the renewed certificate is registered there now."""
    account = await accounts.get(ctx.session, ctx.user_id, action.id)
    await accounts.set_state(ctx.session, ctx.user_id, action.id, AccountState.LINKED, ctx.now)
    await show_checklist_left(ctx, account.certificate_id)
