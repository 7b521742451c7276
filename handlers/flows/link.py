"""Link an account (/link, 계좌 연결하기): where a certificate is registered.

    [*] --> PICK_CERT : several certificates
    [*] --> INSTITUTION : one certificate (or it was chosen from its details)
    PICK_CERT --> INSTITUTION : a certificate pressed
    INSTITUTION --> INSTITUTION : part of a name typed (matches shown), or "another way" (all)
    INSTITUTION --> NUMBER : an institution pressed (or the only match typed)
    NUMBER --> NICKNAME : account number typed (checked), or skipped
    NICKNAME --> [*] : nickname typed, or skipped: linked

The account number waits in the sealed part of the state until it is saved,
itself sealed; only a masked form (110-***-***789) is ever shown. The message
that carried it is deleted from the chat, like a password (a mistyped number
too: it is still most of one).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from pydantic import BaseModel

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
from handlers.flows import register
from handlers.institutions import Institution
from handlers.menu import certificate_choices
from handlers.messages import Choice
from storage import accounts, certificates
from storage.models import AccountKind

NAME: Final = "link"
POPULAR: Final = ("004", "088", "020", "081", "011", "003", "090", "092")
NICKNAME_MAX: Final = 20
SHOWN: Final = 8
"""Matches of a typed name shown as buttons; more are said to exist."""


class Step(StrEnum):
    PICK_CERT = "pick_cert"
    INSTITUTION = "institution"
    NUMBER = "number"
    NICKNAME = "nickname"


@dataclass(frozen=True, slots=True)
class Open(Action):
    """Link an account: to the certificate `id`, or ask which."""

    flow = NAME
    verb = "start"
    restarts = True
    id: int | None = None


@dataclass(frozen=True, slots=True)
class ForCertificate(Action):
    flow = NAME
    verb = "certificate"
    id: int


@dataclass(frozen=True, slots=True)
class Chosen(Action):
    """An institution pressed."""

    flow = NAME
    verb = "institution"
    code: str


@dataclass(frozen=True, slots=True)
class ShowKind(Action):
    """Every institution of one kind (`bank`, `securities`)."""

    flow = NAME
    verb = "kind"
    kind: str


@dataclass(frozen=True, slots=True)
class ShowAll(Action):
    flow = NAME
    verb = "all"


@dataclass(frozen=True, slots=True)
class Skip(Action):
    """No account number, or no nickname."""

    flow = NAME
    verb = "skip"


class Data(BaseModel):
    certificate_id: int | None = None
    institution: str | None = None


class LinkFlow:
    async def start(self, ctx: Context, event: Event) -> Outcome:
        pressed = event.action if isinstance(event, Press) else None
        chosen = pressed.id if isinstance(pressed, Open | ForCertificate) else None
        if chosen is not None:
            return await _ask_institution(ctx, Data(certificate_id=chosen))
        active = await certificates.list_active(ctx.session, ctx.user_id)
        if not active:
            ctx.say("link.no_certificates", await ctx.button("menu.add", register.Open()))
            return None
        if len(active) == 1:
            return await _ask_institution(ctx, Data(certificate_id=active[0].id))
        choices = await certificate_choices(ctx, active, ForCertificate)
        ctx.say("link.pick_certificate", *choices)
        return State(NAME, Step.PICK_CERT)

    async def resume(self, ctx: Context, state: State, event: Event) -> Outcome:
        data = Data.model_validate(state.data)
        if isinstance(event, Press):
            return await _press(ctx, state, data, event.action)
        if not isinstance(event, Text):
            raise Unhandled
        text = event.text.strip()
        if state.step == Step.INSTITUTION:
            return await _search(ctx, data, text)
        if state.step == Step.NUMBER:
            ctx.delete(event.message_ref, "delete.refused_number")
            try:
                number = accounts.normalize_number(text)
            except accounts.InvalidAccountNumber:
                ctx.say("link.number_invalid", await _skip(ctx))
                return state
            return await _ask_nickname(ctx, data, number)
        if state.step == Step.NICKNAME:
            secret = state.secret.decode() if state.secret else None
            await _save(ctx, data, secret, text[:NICKNAME_MAX] or None)
            return None
        raise Unhandled


async def _press(ctx: Context, state: State, data: Data, action: Action) -> State | None:
    match action:
        case ForCertificate(id=chosen):
            return await _ask_institution(ctx, Data(certificate_id=chosen))
        case Chosen(code=code):
            institution = ctx.services.directory.get(code)
            if institution is None:
                raise Unhandled
            return await _ask_number(ctx, data, institution)
        case ShowKind(kind=kind):
            return await _list(ctx, data, kind)
        case ShowAll():
            for kind in ("bank", "securities"):
                await _list(ctx, data, kind)
            return State(NAME, Step.INSTITUTION, data.model_dump())
        case Skip():
            if state.step == Step.NUMBER:
                return await _ask_nickname(ctx, data, None)
            secret = state.secret.decode() if state.secret else None
            await _save(ctx, data, secret, None)
            return None
    raise Unhandled


async def _ask_institution(ctx: Context, data: Data) -> State:
    directory = ctx.services.directory
    popular = [i for code in POPULAR if (i := directory.get(code)) is not None]
    choices = [await _institution_button(ctx, i) for i in popular]
    choices.append(await ctx.button("link.securities", ShowKind("securities")))
    choices.append(await ctx.button("link.another_way", ShowAll()))
    ctx.say("link.ask_institution", *choices)
    return State(NAME, Step.INSTITUTION, data.model_dump())


async def _list(ctx: Context, data: Data, kind: str) -> State:
    found = ctx.services.directory.by_kind(kind)  # type: ignore[arg-type]
    if not found:
        raise Unhandled
    choices = [await _institution_button(ctx, i) for i in found]
    ctx.say(f"link.list.{kind}", *choices)
    return State(NAME, Step.INSTITUTION, data.model_dump())


async def _search(ctx: Context, data: Data, text: str) -> State | None:
    found = ctx.services.directory.search(text, limit=SHOWN + 1)
    if len(found) == 1:
        return await _ask_number(ctx, data, found[0])
    if not found:
        ctx.say("link.no_match", await ctx.button("link.another_way", ShowAll()), query=text)
        return State(NAME, Step.INSTITUTION, data.model_dump())
    choices = [await _institution_button(ctx, i) for i in found[:SHOWN]]
    if len(found) > SHOWN:  # say that these are not all
        choices.append(await ctx.button("link.another_way", ShowAll()))
        ctx.say("link.matches_more", *choices, query=text, shown=SHOWN)
    else:
        ctx.say("link.matches", *choices, query=text)
    return State(NAME, Step.INSTITUTION, data.model_dump())


async def _ask_number(ctx: Context, data: Data, institution: Institution) -> State:
    data = data.model_copy(update={"institution": institution.code})
    ctx.say("link.ask_number", await _skip(ctx), name=institution.name(ctx.texts.locale))
    return State(NAME, Step.NUMBER, data.model_dump())


async def _ask_nickname(ctx: Context, data: Data, number: str | None) -> State:
    ctx.say("link.ask_nickname", await _skip(ctx))
    return State(NAME, Step.NICKNAME, data.model_dump(), number.encode() if number else None)


async def _save(ctx: Context, data: Data, number: str | None, nickname: str | None) -> None:
    institution = ctx.services.directory.get(data.institution or "")
    if institution is None or data.certificate_id is None:
        raise Unhandled
    await certificates.get_active(ctx.session, ctx.user_id, data.certificate_id)
    account = await accounts.link(
        ctx.session,
        ctx.services.vault,
        ctx.user_id,
        data.certificate_id,
        institution_code=institution.code,
        kind=AccountKind(institution.kind),
        nickname=nickname,
        number=number,
        now=ctx.now,
    )
    details = " ".join(filter(None, [account.nickname, account.number_masked]))
    ctx.say(
        "link.done",
        await ctx.button("link.another", Open(data.certificate_id)),
        *await ctx.main_menu(),
        name=institution.name(ctx.texts.locale),
        details=f" ({details})" if details else "",
    )


async def _institution_button(ctx: Context, institution: Institution) -> Choice:
    return await ctx.button(institution.name(ctx.texts.locale), Chosen(institution.code))


async def _skip(ctx: Context) -> Choice:
    return await ctx.button("link.skip", Skip())


SPEC: Final = FlowSpec(
    NAME,
    LinkFlow(),
    actions=(Open, ForCertificate, Chosen, ShowKind, ShowAll, Skip),
    steps=tuple(Step),
    commands=("link",),
    described_as="command.link",
    menu=MenuEntry("menu.link", Open()),
    words="words.link",
    rank=30,
)
