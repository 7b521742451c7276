"""Onboarding (/start): what certmate does and does not do, privacy, and the user's phone.

[*] --> PLATFORM : /start (greeting, privacy summary, "which phone?")
PLATFORM --> [*] : Android / iPhone / PC pressed (guidance is tailored to it)
"""

from __future__ import annotations

from enum import StrEnum

from handlers.flow import Context, Event, Press, State, Unhandled
from handlers.menu import main_menu
from handlers.messages import Choice
from storage.models import Platform


class Step(StrEnum):
    PLATFORM = "platform"


NAME = "start"


class StartFlow:
    name = NAME

    async def start(self, ctx: Context, event: Event) -> State | None:
        ctx.say("start.greeting")
        ctx.say("start.privacy")
        ctx.say("start.ask_platform", *await platform_choices(ctx, NAME))
        return State(NAME, Step.PLATFORM)

    async def resume(self, ctx: Context, state: State, event: Event) -> State | None:
        if isinstance(event, Press) and event.verb == "platform":
            await set_platform(ctx, event)
            return None
        raise Unhandled


async def platform_choices(ctx: Context, flow: str) -> tuple[Choice, ...]:
    """Android / iPhone / PC buttons that send `<flow>:platform`."""
    return (
        await ctx.button("platform.android", f"{flow}:platform", platform=Platform.ANDROID.value),
        await ctx.button("platform.ios", f"{flow}:platform", platform=Platform.IOS.value),
        await ctx.button("platform.pc", f"{flow}:platform", platform=Platform.PC.value),
    )


async def set_platform(ctx: Context, event: Press) -> None:
    """Remember the user's phone and say what comes next."""
    try:
        platform = Platform(str(event.payload.get("platform")))
    except ValueError as err:
        raise Unhandled from err
    ctx.user.platform = platform
    ctx.user.updated_at = ctx.now
    ctx.say(f"start.platform_set.{platform.value}", *await main_menu(ctx))
