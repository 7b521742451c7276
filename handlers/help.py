"""Help (/help, /menu): what certmate can do, the commands, and the main menu. No state."""

from __future__ import annotations

from handlers.flow import Context, Event, State
from handlers.menu import main_menu

NAME = "help"


class HelpFlow:
    name = NAME

    async def start(self, ctx: Context, event: Event) -> State | None:
        ctx.say("help.text", *await main_menu(ctx))
        return None

    async def resume(self, ctx: Context, state: State, event: Event) -> State | None:
        return await self.start(ctx, event)
