"""Renew (/renew, 인증서 갱신): the rules, the steps for the user's phone, then the checklist.

    [*] --> PICK : /renew with several certificates (one: straight to the guide)
    PICK --> GUIDE : a certificate pressed
    GUIDE --> add.COLLECT : "register the renewed certificate" (or files sent)
    any --> [*] : a checklist item ticked (stateless: the checklist is its own message)

The renewed certificate is taken by the register flow, which recognises it
as the renewal of the old one (same subject and CA, later expiry) and, only
with proof (its own key opened with its password, the same issuer, the
issuer's signature where the CA certificate is known: `handlers.succession`),
moves the linked accounts to it marked "needs re-registration", retires the
old one (files shredded, reminders cancelled) and shows the checklist built
here. Without proof the new one is kept beside the old one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from handlers.flow import Context, Event, Files, Press, State, Unhandled
from handlers.menu import certificate_choices, main_menu
from handlers.present import Window, renewal_window, row_facts, summary
from storage import accounts, certificates
from storage.models import AccountState, Certificate

NAME: Final = "renew"


class Step(StrEnum):
    PICK = "pick"
    GUIDE = "guide"


class RenewFlow:
    name = NAME

    async def start(self, ctx: Context, event: Event) -> State | None:
        if isinstance(event, Press) and event.verb != "start":
            return await self._press(ctx, event)
        active = await certificates.list_active(ctx.session, ctx.user_id)
        if not active:
            ctx.say("renew.none", *await main_menu(ctx))
            return None
        if len(active) == 1:
            return await _guide(ctx, active[0])
        ctx.say("renew.pick", *await certificate_choices(ctx, active, f"{NAME}:pick"))
        return State(NAME, Step.PICK)

    async def resume(self, ctx: Context, state: State, event: Event) -> State | None:
        if isinstance(event, Press):
            return await self._press(ctx, event)
        if isinstance(event, Files):
            from handlers.register import RegisterFlow  # noqa: PLC0415  (flows hand over)

            return await RegisterFlow().start(ctx, event)
        raise Unhandled

    async def _press(self, ctx: Context, event: Press) -> State | None:
        if event.verb == "pick":
            certificate = await certificates.get_active(ctx.session, ctx.user_id, _id(event))
            return await _guide(ctx, certificate)
        if event.verb == "upload":
            from handlers.register import RegisterFlow  # noqa: PLC0415

            return await RegisterFlow().start(ctx, event)
        if event.verb == "tick":
            await _tick(ctx, event)
            return None
        raise Unhandled


async def _guide(ctx: Context, certificate: Certificate) -> State:
    """The rules for this certificate and the steps for the user's phone."""
    window, _opens = renewal_window(certificate.not_after, ctx.now, ctx.zone)
    ctx.say_text(summary(row_facts(certificate), ctx.texts, ctx.now, ctx.zone))
    ctx.say("renew.rules")
    if window is Window.EXPIRED:
        ctx.say("renew.expired_steps")
    else:
        platform = ctx.user.platform.value if ctx.user.platform else "all"
        ctx.say(f"renew.steps.{platform}")
    ctx.say("renew.then_upload", await ctx.button("renew.upload_button", f"{NAME}:upload"))
    return State(NAME, Step.GUIDE)


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
        ctx.say(done, *await main_menu(ctx))
        return
    lines, choices = [], []
    for account in pending:
        institution = ctx.services.directory.get(account.institution_code)
        name = institution.name(ctx.texts.locale) if institution else account.institution_code
        label = f"{name} ({account.nickname})" if account.nickname else name
        lines.append(f"☐ {label}")
        choices.append(await ctx.button(f"✓ {label}", f"{NAME}:tick", id=account.id))
    ctx.say(listed, *choices, items="\n".join(lines))


async def _tick(ctx: Context, event: Press) -> None:
    """Tick one item off: the renewed certificate is registered there now."""
    account = await accounts.get(ctx.session, ctx.user_id, _id(event))
    await accounts.set_state(ctx.session, ctx.user_id, _id(event), AccountState.LINKED, ctx.now)
    await show_checklist_left(ctx, account.certificate_id)


def _id(event: Press) -> int:
    value = event.payload.get("id")
    if not isinstance(value, int):
        raise Unhandled
    return value
