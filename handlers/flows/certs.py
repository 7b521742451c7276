"""My certificates (/certs): the list, details, and per-certificate actions.

    [*] --> [*] : /certs (the list; buttons open details)
    details --> CONFIRM_DELETE : "delete" pressed
    CONFIRM_DELETE --> [*] : confirmed (button, or typed yes/예) or declined

Only active certificates are listed; a replaced one shows up only in its
successor's details ("renewed from …").
"""

from __future__ import annotations

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
from handlers.flows import export, link, register, renewal
from handlers.menu import certificate_choices
from handlers.present import row_facts, summary
from storage import accounts, audit, certificates
from storage.models import AccountState, AuditAction, Certificate

NAME: Final = "certs"


@dataclass(frozen=True, slots=True)
class Open(Action):
    flow = NAME
    verb = "start"
    restarts = True


@dataclass(frozen=True, slots=True)
class Details(Action):
    flow = NAME
    verb = "details"
    id: int


@dataclass(frozen=True, slots=True)
class Toggle(Action):
    """Reminders on or off for this certificate."""

    flow = NAME
    verb = "toggle"
    id: int


@dataclass(frozen=True, slots=True)
class Delete(Action):
    flow = NAME
    verb = "delete"
    id: int


@dataclass(frozen=True, slots=True)
class DeleteYes(Action):
    flow = NAME
    verb = "delete_yes"
    id: int


@dataclass(frozen=True, slots=True)
class DeleteNo(Action):
    flow = NAME
    verb = "delete_no"
    id: int


_ABOUT_ONE = (Details, Toggle, Delete, DeleteYes, DeleteNo)


class Step(StrEnum):
    CONFIRM_DELETE = "confirm_delete"


class CertsFlow:
    async def start(self, ctx: Context, event: Event) -> Outcome:
        if isinstance(event, Press) and isinstance(event.action, _ABOUT_ONE):
            return await self._press(ctx, event.action)
        await show_list(ctx)
        return None

    async def resume(self, ctx: Context, state: State, event: Event) -> Outcome:
        if isinstance(event, Press) and isinstance(event.action, _ABOUT_ONE):
            return await self._press(ctx, event.action)
        if isinstance(event, Text) and state.step == Step.CONFIRM_DELETE:
            if ctx.is_yes(event.text):
                await _delete(ctx, int(state.data["id"]))
            else:
                ctx.say("certs.delete_kept", *await ctx.main_menu())
            return None
        raise Unhandled

    async def _press(
        self, ctx: Context, action: Details | Toggle | Delete | DeleteYes | DeleteNo
    ) -> Outcome:
        certificate = await certificates.get_active(ctx.session, ctx.user_id, action.id)
        match action:
            case Details():
                await show_details(ctx, certificate)
                return None
            case Toggle():
                certificate.reminders_enabled = not certificate.reminders_enabled
                certificate.updated_at = ctx.now
                await show_details(ctx, certificate)
                return None
            case Delete(id=chosen):
                ctx.say(
                    "certs.delete_confirm",
                    await ctx.button("certs.delete_yes", DeleteYes(chosen)),
                    await ctx.button("certs.delete_no", DeleteNo(chosen)),
                    holder=certificate.holder,
                )
                return State(NAME, Step.CONFIRM_DELETE, {"id": chosen})
            case DeleteYes(id=chosen):
                await _delete(ctx, chosen)
                return None
            case DeleteNo():
                ctx.say("certs.delete_kept", *await ctx.main_menu())
                return None


async def show_list(ctx: Context) -> None:
    active = await certificates.list_active(ctx.session, ctx.user_id)
    if not active:
        ctx.say("certs.none", await ctx.button("menu.add", register.Open()))
        return
    blocks = []
    for row in active:
        linked = await accounts.list_for_certificate(ctx.session, ctx.user_id, row.id or 0)
        blocks.append(await _block(ctx, row, len(linked)))
    choices = await certificate_choices(ctx, active, Details)
    ctx.say("certs.list", *choices, items="\n\n".join(blocks))


async def show_details(ctx: Context, row: Certificate) -> None:
    assert row.id is not None  # noqa: S101  (rows come from the database)
    lines = [await _block(ctx, row, None)]
    lines.extend(
        ctx.texts("certs.renewed_from", expiry=_expiry(ctx, old))
        for old in await certificates.predecessors(ctx.session, ctx.user_id, row.id)
    )
    linked = await accounts.list_for_certificate(ctx.session, ctx.user_id, row.id)
    if linked:
        names = []
        for account in linked:
            institution = ctx.services.directory.get(account.institution_code)
            name = institution.name(ctx.texts.locale) if institution else account.institution_code
            extra = " ".join(filter(None, [account.nickname, account.number_masked]))
            mark = " ⚠" if account.state is AccountState.NEEDS_REGISTRATION else ""
            names.append(f"• {name}{' ' + extra if extra else ''}{mark}")
        lines.append(ctx.texts("certs.linked", items="\n".join(names)))
    else:
        lines.append(ctx.texts("certs.no_links"))
    lines.append(ctx.texts("certs.key_kept" if row.has_private_key else "certs.key_not_kept"))
    toggle = "certs.reminders_off" if row.reminders_enabled else "certs.reminders_on"
    ctx.say_text(
        "\n".join(lines),
        await ctx.button("menu.link", link.Open(row.id)),
        await ctx.button("menu.renew", renewal.Pick(row.id)),
        await ctx.button("menu.export", export.Pick(row.id)),
        await ctx.button(toggle, Toggle(row.id)),
        await ctx.button("certs.delete", Delete(row.id)),
    )


async def _block(ctx: Context, row: Certificate, link_count: int | None) -> str:
    text = summary(row_facts(row), ctx.texts, ctx.now, ctx.zone)
    state = "certs.reminders_state_on" if row.reminders_enabled else "certs.reminders_state_off"
    text += "\n" + ctx.texts(state)
    if link_count is not None:
        text += "\n" + ctx.texts("certs.link_count", count=link_count)
    return text


async def _delete(ctx: Context, certificate_id: int) -> None:
    row = await certificates.get_active(ctx.session, ctx.user_id, certificate_id)
    linked = await accounts.list_for_certificate(ctx.session, ctx.user_id, certificate_id)
    await certificates.delete(ctx.session, ctx.user_id, certificate_id)
    await audit.record(ctx.session, ctx.user_id, AuditAction.DELETE, ctx.now, row.fingerprint)
    said = "certs.deleted" if linked else "certs.deleted_no_accounts"  # no "0곳 … 지웠어요"
    ctx.say(said, *await ctx.main_menu(), holder=row.holder, accounts=len(linked))


def _expiry(ctx: Context, row: Certificate) -> str:
    return row.not_after.astimezone(ctx.zone).date().isoformat()


SPEC: Final = FlowSpec(
    NAME,
    CertsFlow(),
    actions=(Open, *_ABOUT_ONE),
    steps=tuple(Step),
    commands=("certs",),
    described_as="command.certs",
    menu=MenuEntry("menu.certs", Open()),
    words="words.certs",
    rank=20,
)
