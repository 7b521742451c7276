"""Register a certificate (/add): files in, password checked, files kept sealed.

    [*] --> COLLECT : /add, the menu, or files sent outside any flow
    [*] --> [*] : KakaoTalk: a link to the secure page (files and password go there)
    COLLECT --> COLLECT : a file whose partner is still missing (held sealed, 10 minutes)
    COLLECT --> PASSWORD : certificate and key are both here (or a PFX)
    COLLECT --> [*] : "reminders only" (the certificate alone is kept, no key, no password)
    PASSWORD --> PASSWORD : wrong password, or a key not its certificate's (one answer for
                            both; by default 5 tries a key in 15 minutes, 20 a user in an hour)
    PASSWORD --> [*] : all registered, locked out, or "reminders only"
    any --> [*] : the secure page sent files (or used the held ones) and a password
                  that opened them; a wrong one leaves the state as it was

The secure page is offered beside every password request (Telegram), and is
the only way in on KakaoTalk, where a typed password could not be deleted.

The password message is deleted before anything else is done with it, is
used once in memory to open the key, and is never stored. Wrong passwords
are counted against the key itself (`handlers.lockout`), and a key that does
not belong to its certificate is answered as a wrong password is: the answer
never tells that the password was right.

A certificate that looks like the renewal of a stored one retires it only
with proof (`handlers.succession`); otherwise it is kept beside it and the
user is told why.

Files waiting in the flow live only in the vault-sealed part of the
conversation state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel

import npki
from handlers import lockout, succession
from handlers.actions import Action
from handlers.checklist import show_checklist_after_renewal
from handlers.flow import (
    Context,
    Event,
    Files,
    FlowSpec,
    MenuEntry,
    Outcome,
    Page,
    Press,
    State,
    Text,
    Unhandled,
)
from handlers.messages import Document, PageForm
from handlers.npki_texts import refusal
from handlers.present import facts_of, summary
from handlers.secure_page import page_url
from storage import audit, certificates
from storage.links import Purpose
from storage.models import AuditAction, Certificate, CertificateStatus
from storage.packing import pack_files, unpack_files

NAME: Final = "add"
HOLD: Final = timedelta(minutes=10)
MIB: Final = 1024 * 1024


class Step(StrEnum):
    COLLECT = "collect"
    PASSWORD = "password"  # noqa: S105  (a step name, not a password)


@dataclass(frozen=True, slots=True)
class Open(Action):
    """Register a certificate (from the menu, or "register with its key")."""

    flow = NAME
    verb = "start"
    restarts = True


@dataclass(frozen=True, slots=True)
class Where(Action):
    """Where the NPKI files are on the user's device."""

    flow = NAME
    verb = "where"


@dataclass(frozen=True, slots=True)
class RemindersOnly(Action):
    """Keep the certificate alone, for reminders: no key, no password."""

    flow = NAME
    verb = "reminders_only"


@dataclass(frozen=True, slots=True)
class InChat:
    """The password was typed in the chat: a wrong one is asked for again there."""


@dataclass(frozen=True, slots=True)
class OnPage:
    """The password came from the secure page: a wrong one is said there, its link stays
    open, and the chat keeps `previous`, its state before the page was used."""

    previous: State | None


Source = InChat | OnPage


class Data(BaseModel):
    """What the flow remembers between messages (the files themselves are sealed apart)."""

    held_until: datetime | None = None
    pending: list[str] = []
    """Keys waiting for their password, each by its first name (`npki.key_ids`)."""


class RegisterFlow:
    async def start(self, ctx: Context, event: Event) -> Outcome:
        if isinstance(event, Files):
            if await _over_caps(ctx, {}, event.documents):
                return None
            return await _take_files(ctx, {}, event)
        if isinstance(event, Page):
            return await _from_page(ctx, {}, event.form, None)
        if ctx.page_only:  # files and the password go through the secure page
            ctx.link(
                await page_url(ctx, Purpose.REGISTER), "page.register_button", "page.register_intro"
            )
            return None
        ctx.say("add.ask_files", await ctx.button("add.where_button", Where()))
        return _state(Step.COLLECT, Data(), {})

    async def resume(self, ctx: Context, state: State, event: Event) -> Outcome:
        data = Data.model_validate(state.data)
        held = unpack_files(state.secret) if state.secret else {}
        if isinstance(event, Press):
            return await _press(ctx, state, held, event.action)
        if isinstance(event, Page):
            return await _from_page(ctx, held, event.form, state)
        if isinstance(event, Files):
            if data.held_until is not None and data.held_until <= ctx.now:
                ctx.say("add.held_expired")
                held = {}
            if await _over_caps(ctx, held, event.documents):
                return state  # what was held stays held, unchanged
            return await _take_files(ctx, held, event)
        if isinstance(event, Text):
            if state.step == Step.PASSWORD:
                ctx.delete(event.message_ref)  # first: the password leaves the chat at once
                return await _try_password(ctx, data, held, event.text.encode("utf-8"), InChat())
            # Typed before any key arrived: it may well be the password. Remove it.
            ctx.delete(event.message_ref)
            ctx.say("add.files_first")
            return state
        raise Unhandled


async def _press(
    ctx: Context, state: State, held: dict[str, bytes], action: Action
) -> State | None:
    match action:
        case Where():
            ctx.say(f"add.where.{ctx.user.platform.value if ctx.user.platform else 'all'}")
            return state
        case RemindersOnly():
            await _reminders_only(ctx, held)
            return None
    raise Unhandled


async def _take_files(ctx: Context, held: dict[str, bytes], event: Files) -> State | None:
    """Merge new files with the held ones and see what they make."""
    files = held | {document.name: document.data for document in event.documents}
    limits = ctx.services.settings.limits
    try:
        items = await ctx.services.worker.run(npki.open_bundle, files, None, limits=limits)
    except npki.PasswordRequired:
        return await _ask_password(ctx, files, await _file_keys(ctx, files), pfx=True)
    except npki.NpkiError as error:
        ctx.say("add.unreadable", reason=refusal(ctx.texts, error))
        return _state(Step.COLLECT, Data(held_until=ctx.now + HOLD), held) if held else None
    new = [
        item for item in items if not await _already_registered(ctx, item, with_key=item.has_key)
    ]
    if not items:
        ctx.say("add.need_certificate")
        return _state(Step.COLLECT, Data(held_until=ctx.now + HOLD), files)
    if not new:
        ctx.say("add.nothing_new", *await ctx.main_menu())
        return None
    with_key = [item for item in new if item.has_key]
    if not with_key:
        for item in new:
            ctx.say_text(_summary(ctx, item.certificate))
        ctx.say(
            "add.need_key",
            await ctx.button("add.reminders_only_button", RemindersOnly()),
            minutes=int(HOLD.total_seconds() // 60),
        )
        return _state(Step.COLLECT, Data(held_until=ctx.now + HOLD), files)
    if len(with_key) < len(new):
        ctx.say("add.some_without_key", count=len(new) - len(with_key))
    return await _ask_password(ctx, files, [_keys(item) for item in with_key], items=with_key)


async def _ask_password(
    ctx: Context,
    files: dict[str, bytes],
    pending: list[tuple[str, ...]],
    *,
    items: list[npki.BundleItem] | None = None,
    pfx: bool = False,
) -> State | None:
    open_pending = [keys[0] for keys in pending if not await _locked(ctx, keys)]
    if not open_pending:
        return None
    names = ", ".join(item.certificate.holder for item in items or [])
    key = "add.ask_password_pfx" if pfx else "add.ask_password"
    ctx.ask_secret(
        key,
        await ctx.button("add.reminders_only_button", RemindersOnly()),
        holders=names,
        count=len(open_pending),
    )
    if ctx.offers_page:
        url = await page_url(ctx, Purpose.REGISTER, held=True)
        ctx.link(url, "page.password_button", "page.password_intro")
    return _state(Step.PASSWORD, Data(pending=open_pending), files)


async def _from_page(
    ctx: Context, held: dict[str, bytes], form: PageForm, previous: State | None
) -> State | None:
    """Files (or those already held in the chat) and the password, from the secure page."""
    files = held | {document.name: document.data for document in form.documents}
    if not files:
        return _page_retry(ctx, previous, "page.no_files")
    if too_many := _held_over(ctx, held, form.documents):
        return _page_retry(ctx, previous, too_many[0], **too_many[1])
    if await _certificates_full(ctx, 1):
        ctx.keep_page_open()
        return previous
    limits = ctx.services.settings.limits
    try:
        items = await ctx.services.worker.run(npki.open_bundle, files, None, limits=limits)
    except npki.PasswordRequired:
        pending = [keys[0] for keys in await _file_keys(ctx, files)]
    except npki.NpkiError as error:
        return _page_retry(ctx, previous, "add.unreadable", reason=refusal(ctx.texts, error))
    else:
        if not items:
            return _page_retry(ctx, previous, "add.need_certificate")
        new = [
            item
            for item in items
            if not await _already_registered(ctx, item, with_key=item.has_key)
        ]
        if not new:
            ctx.say("add.nothing_new")
            return None
        pending = [_keys(item)[0] for item in new if item.has_key]
        if not pending and form.password:
            return _page_retry(ctx, previous, "page.need_key")
        if not pending:  # a certificate alone and no password: reminders only, on purpose
            await _reminders_only(ctx, files)
            return None
    return await _try_password(ctx, Data(pending=pending), files, form.password, OnPage(previous))


def _page_retry(ctx: Context, previous: State | None, key: str, **values: Any) -> State | None:
    """Something the user can fix on the page: said there, its link kept open, and the
    chat left as it was (a page never leaves the chat waiting for a typed password)."""
    ctx.say(key, **values)
    ctx.keep_page_open()
    return previous


async def _try_password(
    ctx: Context,
    data: Data,
    files: dict[str, bytes],
    password: bytes,
    source: Source,
) -> State | None:
    """Open the pending certificates with `password`, typed in chat or on the secure page."""
    if not password:
        if isinstance(source, OnPage):
            return _page_retry(ctx, source.previous, "page.password_empty")
        ctx.ask_secret("add.password_empty")
        return _state(Step.PASSWORD, data, files)
    named = {keys[0]: keys for keys in await _file_keys(ctx, files)}
    pending = {
        first: named.get(first, (first,))
        for first in data.pending
        if not await _locked(ctx, named.get(first, (first,)))
    }
    if not pending or await _certificates_full(ctx, len(pending)):
        return None
    try:
        items = await ctx.services.worker.run(
            npki.open_bundle, files, password, limits=ctx.services.settings.limits
        )
    except (npki.WrongPassword, npki.KeyMismatch):  # a PFX whose key is not its certificate's
        return await _wrong(ctx, files, list(pending.values()), source)
    except npki.NpkiError as error:
        # The password was tried: count it, so that no answer tests a password for free.
        for keys in pending.values():
            await lockout.failed(ctx, keys)
        ctx.say("add.unreadable", *await ctx.main_menu(), reason=refusal(ctx.texts, error))
        return None
    waiting = [item for item in items if _keys(item)[0] in pending]
    if not waiting:  # a flow begun before keys were named so: nothing to match it with
        ctx.say("add.stopped", *await ctx.main_menu())
        return None
    wrong: list[npki.BundleItem] = []
    checklist = False
    for item in waiting:
        if item.opened is not None:
            checklist |= await _register_with_key(ctx, item, _keys(item))
        else:  # a wrong password and a key not its certificate's get one answer: no oracle
            wrong.append(item)
    if wrong and len(wrong) < len(waiting):
        return _ask_for_the_others(ctx, files, wrong, source)
    if wrong:
        return await _wrong(ctx, files, [_keys(item) for item in wrong], source)
    await _done(ctx, checklist)
    return None


def _ask_for_the_others(
    ctx: Context, files: dict[str, bytes], others: list[npki.BundleItem], source: Source
) -> State | None:
    """The password opened some of the certificates (now registered) but not `others`:
    they have passwords of their own, asked for by name. Not counted as wrong tries, since
    the password was right for another of them."""
    holders = ", ".join(item.certificate.holder for item in others)
    match source:
        case OnPage(previous=previous):
            return _page_retry(ctx, previous, "add.ask_password_others", holders=holders)
        case InChat():
            ctx.ask_secret("add.ask_password_others", holders=holders)
            pending = [_keys(item)[0] for item in others]
            return _state(Step.PASSWORD, Data(pending=pending), files)


async def _done(ctx: Context, checklist: bool) -> None:
    """The closing line: with the menu, unless a checklist's buttons must stay the latest."""
    if ctx.page_only and not ctx.traits.messages_first:
        ctx.say("add.reminders_at_next_message")
    if checklist:
        ctx.say("add.all_done")
    else:
        ctx.say("add.all_done", *await ctx.main_menu())


async def _wrong(
    ctx: Context,
    files: dict[str, bytes],
    wrong: list[tuple[str, ...]],
    source: Source,
) -> State | None:
    """Count a failure for each key the password did not open (or that is not its
    certificate's); lock at the limits."""
    keep: list[str] = []
    tries = 0
    for keys in wrong:
        verdict = await lockout.failed(ctx, keys)
        if verdict.locked_until is not None:
            ctx.say("add.locked", until=lockout.hhmm(ctx, verdict.locked_until))
        else:
            keep.append(keys[0])
            tries = max(tries, verdict.failures)
    if not keep:
        ctx.say("add.stopped", *await ctx.main_menu())
        return None
    match source:
        case OnPage(previous=previous):
            return _page_retry(
                ctx, previous, "page.wrong_password", tries=tries, max=lockout.tries(ctx)
            )
        case InChat():
            ctx.ask_secret("add.wrong_password", tries=tries, max=lockout.tries(ctx))
            return _state(Step.PASSWORD, Data(pending=keep), files)


async def _register_with_key(ctx: Context, item: npki.BundleItem, keys: tuple[str, ...]) -> bool:
    """Keep the certificate with its key, opened here with its password (a certificate
    kept before for reminders only gets its key now). True as `_registered`."""
    facts = item.certificate
    predecessor = await certificates.find_predecessor(ctx.session, ctx.user_id, facts)
    kept = await certificates.find_by_fingerprint(
        ctx.session, ctx.user_id, facts.fingerprint_sha256
    )
    if kept is not None and kept.id is not None and _keyless(kept):  # now with its key
        row = await certificates.attach_key(
            ctx.session, ctx.services.vault, ctx.user_id, kept.id, item.files,
            key_encryption=str(item.encryption), now=ctx.now,
        )  # fmt: skip
    else:
        row = await certificates.add(
            ctx.session, ctx.services.vault, ctx.user_id, facts, item.files,
            key_encryption=str(item.encryption), now=ctx.now,
        )  # fmt: skip
    await lockout.opened(ctx, keys)
    return await _registered(ctx, item, row, predecessor, "add.registered", proven=True)


async def _register_certificate_only(ctx: Context, item: npki.BundleItem) -> bool:
    """Keep the public certificate alone, for reminders: no key, no password. True as
    `_registered`."""
    facts = item.certificate
    predecessor = await certificates.find_predecessor(ctx.session, ctx.user_id, facts)
    row = await certificates.add(
        ctx.session, ctx.services.vault, ctx.user_id, facts, {"signCert.der": facts.der},
        key_encryption=None, now=ctx.now,
    )  # fmt: skip
    said = "add.registered_reminders_only"
    return await _registered(ctx, item, row, predecessor, said, proven=False)


async def _registered(
    ctx: Context,
    item: npki.BundleItem,
    row: Certificate,
    predecessor: Certificate | None,
    said: str,
    *,
    proven: bool,
) -> bool:
    """Say it is kept (the text `said`); a proven renewal (`proven`: its key was opened
    here) retires its predecessor and shows the re-registration checklist, anything else
    is kept beside it. True when the last message has buttons of its own (the
    checklist, "register with its key")."""
    facts = item.certificate
    await audit.record(
        ctx.session, ctx.user_id, AuditAction.UPLOAD, ctx.now, facts.fingerprint_sha256
    )
    ctx.say(said, details=_summary(ctx, facts))
    if predecessor is None or predecessor.id is None or row.id is None:
        return False
    verdict = await succession.judge(ctx, item, predecessor, proven=proven)
    if verdict is not succession.Verdict.RENEWAL:
        return await _kept_beside(ctx, verdict, predecessor)
    await certificates.replace(ctx.session, ctx.user_id, predecessor.id, row.id, ctx.now)
    await audit.record(
        ctx.session, ctx.user_id, AuditAction.RENEW, ctx.now, facts.fingerprint_sha256
    )
    await show_checklist_after_renewal(ctx, row.id)
    return True


_BESIDE: Final = {
    succession.Verdict.OTHER_ISSUER: "add.beside_other_issuer",
    succession.Verdict.BAD_SIGNATURE: "add.beside_bad_signature",
    succession.Verdict.UNKNOWN_ISSUER: "add.beside_unknown_issuer",
}


async def _kept_beside(ctx: Context, verdict: succession.Verdict, old: Certificate) -> bool:
    """Say that the new certificate was added beside the old one, not in its place, and
    why; True when that message's button must stay the latest."""
    expiry = old.not_after.astimezone(ctx.zone).date().isoformat()
    if verdict is succession.Verdict.NO_KEY:
        button = await ctx.button("add.with_key_button", Open())
        ctx.say("add.beside_no_key", button, expiry=expiry)
        return True
    ctx.say(_BESIDE[verdict], expiry=expiry)
    return False


async def _reminders_only(ctx: Context, files: Mapping[str, bytes]) -> None:
    """Keep only the public certificate: no key, no password, ever."""
    try:
        items = await ctx.services.worker.run(
            npki.open_bundle, files, None, limits=ctx.services.settings.limits
        )
    except npki.PasswordRequired:
        ctx.say("add.pfx_needs_password", *await ctx.main_menu())
        return
    except npki.NpkiError as error:
        ctx.say("add.unreadable", *await ctx.main_menu(), reason=refusal(ctx.texts, error))
        return
    registered = 0
    checklist = False
    fresh = [
        item
        for item in items
        if await certificates.find_by_fingerprint(
            ctx.session, ctx.user_id, item.certificate.fingerprint_sha256
        )
        is None
    ]
    if await _certificates_full(ctx, len(fresh)):
        return
    for item in items:
        if await _already_registered(ctx, item, with_key=False):
            continue
        checklist |= await _register_certificate_only(ctx, item)
        registered += 1
    if not registered:
        ctx.say("add.nothing_new", *await ctx.main_menu())
        return
    await _done(ctx, checklist)


async def _over_caps(
    ctx: Context, held: Mapping[str, bytes], documents: Sequence[Document]
) -> bool:
    """Said and True when taking `documents` would pass a cap: the files held in the
    conversation, or the certificates this user keeps."""
    too_many = _held_over(ctx, held, documents)
    if too_many:
        ctx.say(too_many[0], **too_many[1])
        return True
    return await _certificates_full(ctx, 1)


def _held_over(
    ctx: Context, held: Mapping[str, bytes], documents: Sequence[Document]
) -> tuple[str, dict[str, Any]] | None:
    """The text (key, values) when the held files and `documents` together pass the
    conversation's cap on files or bytes; None when they fit."""
    caps = ctx.services.settings.caps
    files = dict(held) | {document.name: document.data for document in documents}
    if len(files) <= caps.held_files and sum(map(len, files.values())) <= caps.held_bytes:
        return None
    size = f"{caps.held_bytes / MIB:g} MiB" if caps.held_bytes >= MIB else f"{caps.held_bytes} B"
    return "add.too_many_files", {"files": caps.held_files, "size": size}


async def _certificates_full(ctx: Context, adding: int) -> bool:
    """Said and True when keeping `adding` more certificates would pass the user's cap."""
    cap = ctx.services.settings.caps.certificates
    if await certificates.count_kept(ctx.session, ctx.user_id) + adding <= cap:
        return False
    ctx.say("add.too_many_certificates", *await ctx.main_menu(), max=cap)
    return True


async def _already_registered(ctx: Context, item: npki.BundleItem, *, with_key: bool) -> bool:
    """Whether the user has this certificate already (kept for reminders only and now
    sent `with_key` is not: its key is taken)."""
    fingerprint = item.certificate.fingerprint_sha256
    existing = await certificates.find_by_fingerprint(ctx.session, ctx.user_id, fingerprint)
    if existing is not None and not (with_key and _keyless(existing)):
        ctx.say("add.already_registered", holder=item.certificate.holder)
        return True
    return False


async def _locked(ctx: Context, keys: tuple[str, ...]) -> bool:
    until = await lockout.locked_until(ctx, keys)
    if until is not None:
        ctx.say("add.locked", until=lockout.hhmm(ctx, until))
        return True
    return False


def _keyless(row: Certificate) -> bool:
    """Kept for reminders only, and still active: its key may come later."""
    return row.status is CertificateStatus.ACTIVE and not row.has_private_key


def _keys(item: npki.BundleItem) -> tuple[str, ...]:
    """What the lockout counts against: the key's names (a key stored in the clear has
    none, and no password to guess: its certificate names it then)."""
    return item.key_ids or (item.certificate.fingerprint_sha256,)


async def _file_keys(ctx: Context, files: Mapping[str, bytes]) -> list[tuple[str, ...]]:
    """The names of every key in `files` (a PFX's certificate is unreadable before its
    password, its key is not); at least one, so that the password can be counted."""
    try:
        found = await ctx.services.worker.run(
            npki.key_ids, files, limits=ctx.services.settings.limits
        )
    except npki.NpkiError:
        found = []
    return found or [(_files_digest(files),)]


def _files_digest(files: Mapping[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(files[name])
    return "files:" + digest.hexdigest()[:58]


def _summary(ctx: Context, certificate: npki.Certificate) -> str:
    return summary(facts_of(certificate), ctx.texts, ctx.now, ctx.zone)


def _state(step: Step, data: Data, files: Mapping[str, bytes]) -> State:
    return State(NAME, step, data.model_dump(mode="json"), pack_files(files) if files else None)


SPEC: Final = FlowSpec(
    NAME,
    RegisterFlow(),
    actions=(Open, Where, RemindersOnly),
    steps=tuple(Step),
    commands=("add",),
    described_as="command.add",
    menu=MenuEntry("menu.add", Open()),
    words="words.add",
    page=Purpose.REGISTER,
    takes_files=True,
    rank=10,
)
