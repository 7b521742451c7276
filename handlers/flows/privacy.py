"""Privacy and data (/privacy, /deleteme): what is kept and how; delete one or everything.

[*] --> [*] : /privacy (what is kept, with buttons)
[*] --> CONFIRM_ALL : /deleteme, or "delete everything" pressed
CONFIRM_ALL --> [*] : confirmed (button, or typed yes/예): everything crypto-shredded
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from handlers.actions import Action
from handlers.flow import (
    Command,
    Context,
    Event,
    FlowSpec,
    HandOver,
    MenuEntry,
    Outcome,
    Press,
    State,
    Text,
    Unhandled,
)
from storage import accounts, certificates, users

NAME: Final = "privacy"
CERTIFICATES_COMMAND: Final = "certs"
"""Where "delete one certificate" hands over: the list, whose details have "delete"."""


class Step(StrEnum):
    CONFIRM_ALL = "confirm_all"


@dataclass(frozen=True, slots=True)
class Open(Action):
    flow = NAME
    verb = "start"
    restarts = True


@dataclass(frozen=True, slots=True)
class DeleteOne(Action):
    flow = NAME
    verb = "delete_one"


@dataclass(frozen=True, slots=True)
class DeleteAll(Action):
    flow = NAME
    verb = "delete_all"


@dataclass(frozen=True, slots=True)
class DeleteYes(Action):
    flow = NAME
    verb = "delete_yes"


@dataclass(frozen=True, slots=True)
class DeleteNo(Action):
    flow = NAME
    verb = "delete_no"


class PrivacyFlow:
    async def start(self, ctx: Context, event: Event) -> Outcome:
        if isinstance(event, Command) and event.name == "deleteme":
            return await _confirm_all(ctx)
        if isinstance(event, Press) and not isinstance(event.action, Open):
            return await self.resume(ctx, State(NAME, Step.CONFIRM_ALL), event)
        kept = await _counts(ctx)
        ctx.say(
            "privacy.text",
            await ctx.button("privacy.delete_one", DeleteOne()),
            await ctx.button("privacy.delete_all", DeleteAll()),
            **kept,
        )
        return None

    async def resume(self, ctx: Context, state: State, event: Event) -> Outcome:
        if isinstance(event, Press):
            match event.action:
                case DeleteOne():
                    return HandOver(Command(CERTIFICATES_COMMAND))
                case DeleteYes():
                    await _delete_all(ctx)
                    return None
                case DeleteNo():
                    ctx.say("privacy.kept", *await ctx.main_menu())
                    return None
                case DeleteAll():
                    return await _confirm_all(ctx)
        if isinstance(event, Text) and state.step == Step.CONFIRM_ALL:
            if ctx.is_yes(event.text):
                await _delete_all(ctx)
            else:
                ctx.say("privacy.kept", *await ctx.main_menu())
            return None
        raise Unhandled


async def _confirm_all(ctx: Context) -> State:
    ctx.say(
        "privacy.confirm_all",
        await ctx.button("privacy.delete_yes", DeleteYes()),
        await ctx.button("privacy.delete_no", DeleteNo()),
        **await _counts(ctx),
    )
    return State(NAME, Step.CONFIRM_ALL)


async def _delete_all(ctx: Context) -> None:
    """Delete the user and everything of theirs; the next message starts afresh."""
    kept = await _counts(ctx)
    await users.delete(ctx.session, ctx.user_id)
    ctx.session.expunge(ctx.user)  # gone from the database; never flush it again
    ctx.say("privacy.deleted_all", **kept)


async def _counts(ctx: Context) -> dict[str, int]:
    active = await certificates.list_active(ctx.session, ctx.user_id)
    return {
        "certificates": len(active),
        "with_keys": sum(1 for row in active if row.has_private_key),
        "accounts": await accounts.count(ctx.session, ctx.user_id),
    }


SPEC: Final = FlowSpec(
    NAME,
    PrivacyFlow(),
    actions=(Open, DeleteOne, DeleteAll, DeleteYes, DeleteNo),
    steps=tuple(Step),
    commands=("privacy", "deleteme"),
    described_as="command.privacy",
    menu=MenuEntry("menu.privacy", Open()),
    words="words.privacy",
    rank=65,
)
