"""Privacy and data (/privacy, /deleteme): what is kept and how; delete one or everything.

[*] --> [*] : /privacy (what is kept, with buttons)
[*] --> CONFIRM_ALL : /deleteme, or "delete everything" pressed
CONFIRM_ALL --> [*] : confirmed (button, or typed yes/예): everything crypto-shredded
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from handlers.certs import YES, show_list
from handlers.flow import Command, Context, Event, Press, State, Text, Unhandled
from handlers.menu import main_menu
from storage import accounts, certificates, users

NAME: Final = "privacy"


class Step(StrEnum):
    CONFIRM_ALL = "confirm_all"


class PrivacyFlow:
    name = NAME

    async def start(self, ctx: Context, event: Event) -> State | None:
        if (isinstance(event, Command) and event.name == "deleteme") or (
            isinstance(event, Press) and event.verb == "delete_all"
        ):
            return await _confirm_all(ctx)
        if isinstance(event, Press) and event.verb in ("delete_one", "delete_yes", "delete_no"):
            return await self.resume(ctx, State(NAME, Step.CONFIRM_ALL), event)
        kept = await _counts(ctx)
        ctx.say(
            "privacy.text",
            await ctx.button("privacy.delete_one", f"{NAME}:delete_one"),
            await ctx.button("privacy.delete_all", f"{NAME}:delete_all"),
            **kept,
        )
        return None

    async def resume(self, ctx: Context, state: State, event: Event) -> State | None:
        if isinstance(event, Press):
            if event.verb == "delete_one":
                await show_list(ctx)
                return None
            if event.verb == "delete_yes":
                await _delete_all(ctx)
                return None
            if event.verb == "delete_no":
                ctx.say("privacy.kept", *await main_menu(ctx))
                return None
            if event.verb == "delete_all":
                return await _confirm_all(ctx)
        if isinstance(event, Text) and state.step == Step.CONFIRM_ALL:
            if event.text.strip().lower() in YES:
                await _delete_all(ctx)
            else:
                ctx.say("privacy.kept", *await main_menu(ctx))
            return None
        raise Unhandled


async def _confirm_all(ctx: Context) -> State:
    ctx.say(
        "privacy.confirm_all",
        await ctx.button("privacy.delete_yes", f"{NAME}:delete_yes"),
        await ctx.button("privacy.delete_no", f"{NAME}:delete_no"),
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
