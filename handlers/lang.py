"""Language (/lang): Korean or English, by button or `/lang en`.

[*] --> CHOOSE : /lang
CHOOSE --> [*] : 한국어 / English pressed
"""

from __future__ import annotations

from enum import StrEnum

from handlers.flow import Command, Context, Event, Press, State, Unhandled
from handlers.i18n import LOCALES
from handlers.menu import main_menu

NAME = "lang"


class Step(StrEnum):
    CHOOSE = "choose"


class LangFlow:
    name = NAME

    async def start(self, ctx: Context, event: Event) -> State | None:
        if isinstance(event, Command) and event.args.strip().lower() in LOCALES:
            await _set(ctx, event.args.strip().lower())
            return None
        ctx.say(
            "lang.ask",
            await ctx.button("lang.ko", f"{NAME}:set", locale="ko"),
            await ctx.button("lang.en", f"{NAME}:set", locale="en"),
        )
        return State(NAME, Step.CHOOSE)

    async def resume(self, ctx: Context, state: State, event: Event) -> State | None:
        if isinstance(event, Press) and event.payload.get("locale") in LOCALES:
            await _set(ctx, str(event.payload["locale"]))
            return None
        raise Unhandled


async def _set(ctx: Context, locale: str) -> None:
    ctx.user.locale = locale
    ctx.user.updated_at = ctx.now
    ctx.texts = ctx.services.catalog.texts(locale)
    ctx.say("lang.set", *await main_menu(ctx))
