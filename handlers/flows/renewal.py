"""Renew (/renew, 인증서 갱신): the rules, the steps for the user's phone, then the checklist.

    [*] --> PICK : /renew with several certificates (one: straight to the guide)
    PICK --> GUIDE : a certificate pressed
    GUIDE --> add.COLLECT : "register the renewed certificate" (its button belongs to the
                            register flow), or files sent (handed over to it)
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

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from handlers import checklist
from handlers.actions import Action
from handlers.flow import (
    Context,
    Event,
    Files,
    FlowSpec,
    HandOver,
    MenuEntry,
    Outcome,
    Press,
    State,
    Unhandled,
)
from handlers.flows import register
from handlers.menu import certificate_choices
from handlers.present import Window, renewal_window, row_facts, summary
from storage import certificates
from storage.models import Certificate

NAME: Final = checklist.FLOW


@dataclass(frozen=True, slots=True)
class Open(Action):
    flow = NAME
    verb = "start"
    restarts = True


@dataclass(frozen=True, slots=True)
class Pick(Action):
    """The guide for the certificate `id`."""

    flow = NAME
    verb = "pick"
    id: int


class Step(StrEnum):
    PICK = "pick"
    GUIDE = "guide"


class RenewFlow:
    async def start(self, ctx: Context, event: Event) -> Outcome:
        if isinstance(event, Press) and not isinstance(event.action, Open):
            return await self._press(ctx, event.action)
        active = await certificates.list_active(ctx.session, ctx.user_id)
        if not active:
            ctx.say("renew.none", *await ctx.main_menu())
            return None
        if len(active) == 1:
            return await _guide(ctx, active[0])
        ctx.say("renew.pick", *await certificate_choices(ctx, active, Pick))
        return State(NAME, Step.PICK)

    async def resume(self, ctx: Context, state: State, event: Event) -> Outcome:
        if isinstance(event, Press):
            return await self._press(ctx, event.action)
        if isinstance(event, Files):  # the renewed certificate: to the flow that takes files
            return HandOver(event)
        raise Unhandled

    async def _press(self, ctx: Context, action: Action) -> Outcome:
        match action:
            case Pick(id=chosen):
                certificate = await certificates.get_active(ctx.session, ctx.user_id, chosen)
                return await _guide(ctx, certificate)
            case checklist.Tick():
                await checklist.tick(ctx, action)
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
    ctx.say("renew.then_upload", await ctx.button("renew.upload_button", register.Open()))
    return State(NAME, Step.GUIDE)


SPEC: Final = FlowSpec(
    NAME,
    RenewFlow(),
    actions=(Open, Pick, checklist.Tick),
    steps=tuple(Step),
    commands=("renew",),
    described_as="command.renew",
    menu=MenuEntry("menu.renew", Open()),
    words="words.renew",
    rank=40,
)
