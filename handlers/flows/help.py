"""Help (/help, /menu): what certmate can do, the commands, and the main menu. No state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from handlers.actions import Action
from handlers.flow import Context, Event, FlowSpec, MenuEntry, Outcome, State

NAME: Final = "help"


@dataclass(frozen=True, slots=True)
class Open(Action):
    flow = NAME
    verb = "start"
    restarts = True


class HelpFlow:
    async def start(self, ctx: Context, event: Event) -> Outcome:
        ctx.say("help.text", *await ctx.main_menu())
        return None

    async def resume(self, ctx: Context, state: State, event: Event) -> Outcome:
        return await self.start(ctx, event)


SPEC: Final = FlowSpec(
    NAME,
    HelpFlow(),
    actions=(Open,),
    commands=("help", "menu"),
    described_as="command.help",
    menu=MenuEntry("menu.help", Open()),
    words="words.help",
    rank=80,
)
