"""Reminder settings (/remind): when to be reminded, quiet hours, on/off.

    [*] --> [*] : /remind (current settings, with buttons for each change)
    [*] --> CUSTOM : "my own days" pressed
    CUSTOM --> [*] : days typed (e.g. "30 10 3"), checked

Thresholds are days before expiry (the expiry day itself and the day after
are always reminded when reminders are on). Quiet hours are in the user's
time zone; reminders due inside them wait until they end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from handlers.actions import Action
from handlers.flow import (
    Context,
    Event,
    FlowSpec,
    MenuEntry,
    Outcome,
    Press,
    State,
    Text,
    Unhandled,
)
from handlers.reminder_plan import preferences_for, snooze_slot
from storage import certificates, reminders
from storage.errors import NotFound

NAME: Final = "remind"
SNOOZE_DAYS: Final = (1, 3)
"""A reminder's "remind me in N days" buttons."""
PRESETS: Final = ((30, 14, 7, 1), (30, 7, 1), (14, 7, 3, 1))
QUIET_PRESETS: Final = (("21:00", "09:00"), ("22:00", "08:00"))
MAX_DAYS: Final = 60
MAX_THRESHOLDS: Final = 6
_TIME: Final = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


class Step(StrEnum):
    CUSTOM = "custom"


@dataclass(frozen=True, slots=True)
class Open(Action):
    flow = NAME
    verb = "start"
    restarts = True


@dataclass(frozen=True, slots=True)
class Thresholds(Action):
    """Remind this many days before expiry."""

    flow = NAME
    verb = "thresholds"
    days: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Custom(Action):
    """Ask for the user's own days."""

    flow = NAME
    verb = "custom"


@dataclass(frozen=True, slots=True)
class Quiet(Action):
    """Quiet hours (`start` == `end`: none)."""

    flow = NAME
    verb = "quiet"
    start: str
    end: str


@dataclass(frozen=True, slots=True)
class AllReminders(Action):
    flow = NAME
    verb = "all"
    on: bool


@dataclass(frozen=True, slots=True)
class CertificateReminders(Action):
    """Reminders on or off for the certificate `id`."""

    flow = NAME
    verb = "certificate"
    id: int
    on: bool


@dataclass(frozen=True, slots=True)
class Snooze(Action):
    """Remind again about the certificates `ids` in `days` days (a reminder's button)."""

    flow = NAME
    verb = "snooze"
    ids: tuple[int, ...]
    days: int


Change = Quiet | AllReminders | CertificateReminders


class RemindFlow:
    async def start(self, ctx: Context, event: Event) -> Outcome:
        if isinstance(event, Press) and not isinstance(event.action, Open):
            return await self._press(ctx, event.action)
        await _show(ctx)
        return None

    async def resume(self, ctx: Context, state: State, event: Event) -> Outcome:
        if isinstance(event, Press):
            return await self._press(ctx, event.action)
        if isinstance(event, Text) and state.step == Step.CUSTOM:
            days = parse_days(event.text)
            if days is None:
                ctx.say("remind.custom_invalid", maximum=MAX_DAYS, count=MAX_THRESHOLDS)
                return state
            await _set_thresholds(ctx, days)
            return None
        raise Unhandled

    async def _press(self, ctx: Context, action: Action) -> State | None:
        match action:
            case Thresholds(days=chosen):
                days = parse_days(" ".join(str(d) for d in chosen))
                if days is None:
                    raise Unhandled
                await _set_thresholds(ctx, days)
                return None
            case Custom():
                ctx.say("remind.custom_ask", maximum=MAX_DAYS, count=MAX_THRESHOLDS)
                return State(NAME, Step.CUSTOM)
            case Snooze(ids=ids, days=days):
                await _snooze(ctx, ids, days)
                return None
            case Quiet() | AllReminders() | CertificateReminders():
                await _change(ctx, action)
                ctx.user.updated_at = ctx.now
                await certificates.replan(ctx.session, ctx.user_id, ctx.now)
                ctx.say("remind.saved")
                await _show(ctx)
                return None
        raise Unhandled


async def _change(ctx: Context, action: Change) -> None:
    """Quiet hours, all on/off, or one certificate on/off."""
    match action:
        case Quiet(start=start, end=end):
            if not (_TIME.fullmatch(start) and _TIME.fullmatch(end)):
                raise Unhandled
            ctx.user.quiet_start, ctx.user.quiet_end = start, end
        case AllReminders(on=on):
            ctx.user.reminders_enabled = on
            if not on:
                for row in await certificates.list_active(ctx.session, ctx.user_id):
                    await reminders.cancel_pending(ctx.session, row.id or 0)
        case CertificateReminders(id=chosen, on=on):
            row = await certificates.get_active(ctx.session, ctx.user_id, chosen)
            row.reminders_enabled = on
            row.updated_at = ctx.now
            if not on:
                await reminders.cancel_pending(ctx.session, row.id or 0)


def parse_days(text: str) -> tuple[int, ...] | None:
    """`"30 14, 7 1"` → (30, 14, 7, 1); None unless 1–6 distinct whole days in 1..60."""
    parts = [p for p in re.split(r"[\s,·/]+", text.strip()) if p]
    if not parts or len(parts) > MAX_THRESHOLDS or not all(p.isdigit() for p in parts):
        return None
    days = sorted({int(p) for p in parts}, reverse=True)
    if len(days) != len(parts) or not all(1 <= d <= MAX_DAYS for d in days):
        return None
    return tuple(days)


async def _set_thresholds(ctx: Context, days: tuple[int, ...]) -> None:
    ctx.user.reminder_thresholds = list(days)
    ctx.user.updated_at = ctx.now
    await certificates.replan(ctx.session, ctx.user_id, ctx.now)
    ctx.say("remind.saved_days", days=_days_label(ctx, days))


async def _snooze(ctx: Context, ids: tuple[int, ...], days: int) -> None:
    """Remind again in `days` days, without using up a threshold."""
    if days not in SNOOZE_DAYS:
        raise Unhandled
    preferences = preferences_for(ctx.user, ctx.services.settings)
    for certificate_id in ids:
        try:
            row = await certificates.get_active(ctx.session, ctx.user_id, certificate_id)
        except NotFound:
            continue
        slot = snooze_slot(row.not_after, ctx.now, days, preferences)
        await reminders.plan(
            ctx.session,
            certificate_id=row.id or 0,
            owner_id=ctx.user_id,
            kind=slot.kind,
            threshold_days=slot.threshold,
            due_at=slot.due_at,
            now=ctx.now,
        )
    ctx.say("reminder.snoozed", *await ctx.main_menu(), days=days)


async def _show(ctx: Context) -> None:
    user = ctx.user
    days = tuple(user.reminder_thresholds or ctx.services.settings.reminder_thresholds)
    quiet_start = user.quiet_start or ctx.services.settings.quiet_start
    quiet_end = user.quiet_end or ctx.services.settings.quiet_end
    quiet = (
        ctx.texts("remind.quiet_off")
        if quiet_start == quiet_end
        else ctx.texts("remind.quiet_range", start=quiet_start, end=quiet_end)
    )
    rows = await certificates.list_active(ctx.session, ctx.user_id)
    per_certificate = "\n".join(
        ctx.texts(
            "remind.certificate_on" if row.reminders_enabled else "remind.certificate_off",
            holder=row.holder,
        )
        for row in rows
    )
    choices = [await ctx.button(_days_label(ctx, preset), Thresholds(preset)) for preset in PRESETS]
    choices.append(await ctx.button("remind.custom_button", Custom()))
    for start, end in QUIET_PRESETS:
        label = ctx.texts("remind.quiet_button", start=start, end=end)
        choices.append(await ctx.button(label, Quiet(start, end)))
    choices.append(await ctx.button("remind.quiet_off_button", Quiet("00:00", "00:00")))
    choices.append(
        await ctx.button(
            "remind.all_off" if user.reminders_enabled else "remind.all_on",
            AllReminders(on=not user.reminders_enabled),
        )
    )
    for row in rows:
        key = "remind.turn_off_for" if row.reminders_enabled else "remind.turn_on_for"
        assert row.id is not None  # noqa: S101  (rows come from the database)
        label = ctx.texts(key, holder=row.holder)
        choices.append(
            await ctx.button(label, CertificateReminders(row.id, not row.reminders_enabled))
        )
    ctx.say(
        "remind.settings",
        *choices,
        state=ctx.texts("remind.on" if user.reminders_enabled else "remind.off"),
        days=_days_label(ctx, days),
        quiet=quiet,
        certificates=per_certificate or ctx.texts("remind.no_certificates"),
    )


def _days_label(ctx: Context, days: tuple[int, ...]) -> str:
    return ctx.texts("remind.days", days="·".join(str(d) for d in days))


SPEC: Final = FlowSpec(
    NAME,
    RemindFlow(),
    actions=(Open, Thresholds, Custom, Quiet, AllReminders, CertificateReminders, Snooze),
    steps=tuple(Step),
    commands=("remind",),
    described_as="command.remind",
    menu=MenuEntry("menu.remind", Open()),
    words="words.remind",
    rank=60,
)
