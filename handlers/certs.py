"""My certificates (/certs): the list, details, and per-certificate actions.

    [*] --> [*] : /certs (the list; buttons open details)
    details --> CONFIRM_DELETE : "delete" pressed
    CONFIRM_DELETE --> [*] : confirmed (button, or typed yes/예) or declined

Only active certificates are listed; a replaced one shows up only in its
successor's details ("renewed from …").
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from handlers.flow import Context, Event, Press, State, Text, Unhandled
from handlers.menu import certificate_choices, main_menu
from handlers.present import row_facts, summary
from storage import accounts, audit, certificates
from storage.models import AccountState, AuditAction, Certificate

NAME: Final = "certs"
YES: Final = frozenset({"yes", "y", "예", "네", "응", "삭제"})


class Step(StrEnum):
    CONFIRM_DELETE = "confirm_delete"


class CertsFlow:
    name = NAME

    async def start(self, ctx: Context, event: Event) -> State | None:
        if isinstance(event, Press) and event.verb != "start":
            return await self._press(ctx, event)
        await show_list(ctx)
        return None

    async def resume(self, ctx: Context, state: State, event: Event) -> State | None:
        if isinstance(event, Press):
            return await self._press(ctx, event)
        if isinstance(event, Text) and state.step == Step.CONFIRM_DELETE:
            if event.text.strip().lower() in YES:
                await _delete(ctx, int(state.data["id"]))
            else:
                ctx.say("certs.delete_kept", *await main_menu(ctx))
            return None
        raise Unhandled

    async def _press(self, ctx: Context, event: Press) -> State | None:
        certificate = await _certificate(ctx, event)
        if certificate.id is None:
            return None
        if event.verb == "details":
            await show_details(ctx, certificate)
            return None
        if event.verb == "toggle":
            certificate.reminders_enabled = not certificate.reminders_enabled
            certificate.updated_at = ctx.now
            await show_details(ctx, certificate)
            return None
        if event.verb == "delete":
            ctx.say(
                "certs.delete_confirm",
                await ctx.button("certs.delete_yes", f"{NAME}:delete_yes", id=certificate.id),
                await ctx.button("certs.delete_no", f"{NAME}:delete_no", id=certificate.id),
                holder=certificate.holder,
            )
            return State(NAME, Step.CONFIRM_DELETE, {"id": certificate.id})
        if event.verb == "delete_yes":
            await _delete(ctx, certificate.id)
            return None
        if event.verb == "delete_no":
            ctx.say("certs.delete_kept", *await main_menu(ctx))
            return None
        raise Unhandled


async def show_list(ctx: Context) -> None:
    active = await certificates.list_active(ctx.session, ctx.user_id)
    if not active:
        ctx.say("certs.none", await ctx.button("menu.add", "add:start"))
        return
    blocks = []
    for row in active:
        linked = await accounts.list_for_certificate(ctx.session, ctx.user_id, row.id or 0)
        blocks.append(await _block(ctx, row, len(linked)))
    choices = await certificate_choices(ctx, active, f"{NAME}:details")
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
        await ctx.button("menu.link", "link:start", id=row.id),
        await ctx.button("menu.renew", "renew:pick", id=row.id),
        await ctx.button("menu.export", "export:pick", id=row.id),
        await ctx.button(toggle, f"{NAME}:toggle", id=row.id),
        await ctx.button("certs.delete", f"{NAME}:delete", id=row.id),
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
    ctx.say("certs.deleted", *await main_menu(ctx), holder=row.holder, accounts=len(linked))


async def _certificate(ctx: Context, event: Press) -> Certificate:
    value = event.payload.get("id")
    if not isinstance(value, int):
        raise Unhandled
    return await certificates.get_active(ctx.session, ctx.user_id, value)


def _expiry(ctx: Context, row: Certificate) -> str:
    return row.not_after.astimezone(ctx.zone).date().isoformat()
