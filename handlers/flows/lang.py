"""Language (/lang): Korean or English, by button or `/lang en`.

[*] --> CHOOSE : /lang
CHOOSE --> [*] : 한국어 / English pressed
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from handlers.actions import Action
from handlers.flow import Command, Context, Event, FlowSpec, Outcome, Press, State, Unhandled
from handlers.i18n import LOCALES

NAME: Final = "lang"


@dataclass(frozen=True, slots=True)
class SetLocale(Action):
    flow = NAME
    verb = "set"
    locale: str


class Step(StrEnum):
    CHOOSE = "choose"


class LangFlow:
    async def start(self, ctx: Context, event: Event) -> Outcome:
        if isinstance(event, Command) and event.args.strip().lower() in LOCALES:
            await _set(ctx, event.args.strip().lower())
            return None
        ctx.say(
            "lang.ask",
            *[await ctx.button(f"lang.{locale}", SetLocale(locale)) for locale in LOCALES],
        )
        return State(NAME, Step.CHOOSE)

    async def resume(self, ctx: Context, state: State, event: Event) -> Outcome:
        pressed = event.action if isinstance(event, Press) else None
        if isinstance(pressed, SetLocale) and pressed.locale in LOCALES:
            await _set(ctx, pressed.locale)
            return None
        raise Unhandled


async def _set(ctx: Context, locale: str) -> None:
    ctx.user.locale = locale
    ctx.user.updated_at = ctx.now
    ctx.texts = ctx.services.catalog.texts(locale)
    ctx.say("lang.set", *await ctx.main_menu())


SPEC: Final = FlowSpec(
    NAME,
    LangFlow(),
    actions=(SetLocale,),
    steps=tuple(Step),
    commands=("lang",),
    described_as="command.lang",
    words="words.lang",
    rank=70,
)
