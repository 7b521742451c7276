"""Onboarding (/start): what certmate does and does not do, privacy, and the user's phone.

[*] --> PLATFORM : /start (greeting, privacy summary, "which phone?")
PLATFORM --> [*] : Android / iPhone / PC pressed (guidance is tailored to it)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from handlers.actions import Action
from handlers.flow import Context, Event, FlowSpec, Outcome, Press, State, Unhandled
from handlers.messages import Choice
from storage.models import Platform


class Step(StrEnum):
    PLATFORM = "platform"


NAME: Final = "start"


@dataclass(frozen=True, slots=True)
class SetPlatform(Action):
    flow = NAME
    verb = "platform"
    platform: Platform


class StartFlow:
    async def start(self, ctx: Context, event: Event) -> Outcome:
        ctx.say("start.greeting")
        ctx.say("start.privacy")
        ctx.say("start.ask_platform", *await _platform_choices(ctx))
        return State(NAME, Step.PLATFORM)

    async def resume(self, ctx: Context, state: State, event: Event) -> Outcome:
        if isinstance(event, Press) and isinstance(event.action, SetPlatform):
            await _set_platform(ctx, event.action.platform)
            return None
        raise Unhandled


async def _platform_choices(ctx: Context) -> tuple[Choice, ...]:
    """Android / iPhone / PC buttons."""
    return (
        await ctx.button("platform.android", SetPlatform(Platform.ANDROID)),
        await ctx.button("platform.ios", SetPlatform(Platform.IOS)),
        await ctx.button("platform.pc", SetPlatform(Platform.PC)),
    )


async def _set_platform(ctx: Context, platform: Platform) -> None:
    """Remember the user's phone and say what comes next."""
    ctx.user.platform = platform
    ctx.user.updated_at = ctx.now
    ctx.say(f"start.platform_set.{platform.value}", *await ctx.main_menu())


SPEC: Final = FlowSpec(
    NAME,
    StartFlow(),
    actions=(SetPlatform,),
    steps=tuple(Step),
    commands=("start",),
    words="words.start",
    rank=90,
)
