"""Export (/export): the files back, as an NPKI zip or as a PFX for iPhone and Mac.

    [*] --> PICK_CERT : several certificates
    [*] --> FORMAT : one (or chosen from its details)
    FORMAT --> [*] : "NPKI (zip)" and the originals are NPKI files: the zip is sent
    FORMAT --> [*] : KakaoTalk: a link to the export page (passwords typed there, file
                     downloaded there; KakaoTalk can neither hide a password nor send files).
                     The page always asks the certificate's password and opens the key
                     with it (lockout after 5) before it hands out a file with a key, so a
                     leaked link alone gives nothing secret.
    FORMAT --> CURRENT : "NPKI (zip)" for a certificate that came as a PFX (converted)
    FORMAT --> NEW : "PFX": the password the PFX will have
    NEW --> NEW_AGAIN : typed a second time
    NEW_AGAIN --> NEW : the two differ (said before anything is exported)
    NEW_AGAIN --> CURRENT : the certificate's own password, to open the key
    CURRENT --> [*] : the file is sent (wrong password: retry, lockout after 5)

The PFX password is asked first (twice) and held sealed for those steps, so that
the certificate password, asked last, is used at once and never kept.
Both messages are deleted from the chat. Every export is an audit event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

from pydantic import BaseModel

import npki
from handlers import lockout
from handlers.actions import Action
from handlers.flow import (
    Context,
    Event,
    FlowSpec,
    MenuEntry,
    Outcome,
    Page,
    Press,
    State,
    Text,
    Unhandled,
)
from handlers.menu import certificate_choices
from handlers.messages import PageForm
from handlers.secure_page import page_url
from storage import audit, certificates
from storage.links import Purpose
from storage.models import AuditAction, Certificate

NAME: Final = "export"
PFX_PASSWORD_MIN: Final = 6
DOWNLOADED: Final = "export.downloaded"
"""What is said of a file the secure page handed over: a download, not a chat message."""
_UNSAFE_NAME: Final = re.compile(r"[^\w.-]+")


class Step(StrEnum):
    PICK_CERT = "pick_cert"
    FORMAT = "format"
    NEW = "new"
    NEW_AGAIN = "new_again"
    CURRENT = "current"


@dataclass(frozen=True, slots=True)
class Open(Action):
    flow = NAME
    verb = "start"
    restarts = True


@dataclass(frozen=True, slots=True)
class Pick(Action):
    """Export the certificate `id`."""

    flow = NAME
    verb = "pick"
    restarts = True
    id: int


@dataclass(frozen=True, slots=True)
class AsNpki(Action):
    flow = NAME
    verb = "npki"


@dataclass(frozen=True, slots=True)
class AsPfx(Action):
    flow = NAME
    verb = "pfx"


Target = Literal["npki", "pfx"]


class Data(BaseModel):
    certificate_id: int
    target: str = ""
    """`npki` or `pfx`."""


class ExportFlow:
    async def start(self, ctx: Context, event: Event) -> Outcome:
        if isinstance(event, Page):
            await _from_page(ctx, event.form)
            return None
        if isinstance(event, Press) and isinstance(event.action, Pick):
            return await _ask_format(ctx, event.action.id)
        active = await certificates.list_active(ctx.session, ctx.user_id)
        if not active:
            ctx.say("export.none", *await ctx.main_menu())
            return None
        if len(active) == 1 and active[0].id is not None:
            return await _ask_format(ctx, active[0].id)
        ctx.say("export.pick", *await certificate_choices(ctx, active, Pick))
        return State(NAME, Step.PICK_CERT)

    async def resume(self, ctx: Context, state: State, event: Event) -> Outcome:
        if isinstance(event, Page):
            return await self.start(ctx, event)
        if state.step == Step.PICK_CERT:
            raise Unhandled
        data = Data.model_validate(state.data)
        row = await certificates.get_active(ctx.session, ctx.user_id, data.certificate_id)
        if isinstance(event, Press) and isinstance(event.action, AsNpki | AsPfx):
            return await _chosen(ctx, row, "npki" if isinstance(event.action, AsNpki) else "pfx")
        if isinstance(event, Text) and state.step in (Step.NEW, Step.NEW_AGAIN, Step.CURRENT):
            ctx.delete(event.message_ref)  # a password: out of the chat first
            if state.step == Step.NEW:
                return _new_password(ctx, data, event.text)
            if state.step == Step.NEW_AGAIN:
                return _new_password_again(ctx, data, event.text, state.secret)
            return await _export_in_chat(ctx, row, data, event.text.encode(), state.secret)
        raise Unhandled


async def _ask_format(ctx: Context, certificate_id: int) -> State | None:
    row = await certificates.get_active(ctx.session, ctx.user_id, certificate_id)
    if row.id is None:
        return None
    ctx.say(
        "export.ask_format",
        await ctx.button("export.npki", AsNpki()),
        await ctx.button("export.pfx", AsPfx()),
        holder=row.holder,
    )
    return State(NAME, Step.FORMAT, Data(certificate_id=row.id).model_dump())


async def _chosen(ctx: Context, row: Certificate, target: Target) -> State | None:
    assert row.id is not None  # noqa: S101  (rows come from the database)
    if ctx.page_only:  # the file cannot come in this chat, nor a password be typed there
        url = await page_url(ctx, Purpose.EXPORT, id=row.id, target=target)
        ctx.link(url, "page.export_button", "page.export_intro")
        return None
    files = await certificates.open_files(ctx.session, ctx.services.vault, ctx.user_id, row.id)
    if not row.has_private_key:
        ctx.say("export.certificate_only")
        await _send(ctx, row, f"{_file_stem(row)}-NPKI.zip", npki_zip(row, files))
        return None
    if target == "npki" and "signPri.key" in files:
        await _send(ctx, row, f"{_file_stem(row)}-NPKI.zip", npki_zip(row, files))
        return None
    data = Data(certificate_id=row.id, target=target)
    if target == "pfx":
        ctx.ask_secret("export.ask_new_password", minimum=PFX_PASSWORD_MIN)
        step = Step.NEW
    else:
        ctx.ask_secret("export.ask_current_password")
        step = Step.CURRENT
    if ctx.offers_page:  # as registration does: the passwords may go on the page instead
        url = await page_url(ctx, Purpose.EXPORT, id=row.id, target=target)
        ctx.link(url, "page.export_button", "page.export_password_intro")
    return State(NAME, step, data.model_dump())


async def _from_page(ctx: Context, form: PageForm) -> None:
    """The export page: the passwords were typed there, and the file goes back there."""
    certificate_id, target = form.details.get("id"), form.details.get("target")
    if not isinstance(certificate_id, int) or target not in ("npki", "pfx"):
        ctx.say("button.not_found")
        return
    row = await certificates.get_active(ctx.session, ctx.user_id, certificate_id)
    if row.id is None:
        return
    if not row.has_private_key:  # a public certificate only: nothing secret to guard
        files = await certificates.open_files(ctx.session, ctx.services.vault, ctx.user_id, row.id)
        ctx.say("export.certificate_only")
        await _send(ctx, row, f"{_file_stem(row)}-NPKI.zip", npki_zip(row, files), DOWNLOADED)
        return
    if not form.password:  # a leaked link alone never hands out the key
        ctx.say("page.password_empty")
        ctx.keep_page_open()
        return
    new_password = form.new_password if target == "pfx" else None
    if new_password is not None and (
        len(new_password) < PFX_PASSWORD_MIN or b"\x00" in new_password
    ):
        ctx.say("export.new_password_short", minimum=PFX_PASSWORD_MIN)
        ctx.keep_page_open()
        return
    data = Data(certificate_id=row.id, target=target)
    wrong = await _export(ctx, row, data, form.password, new_password, said=DOWNLOADED)
    if wrong is not None:  # said on the page, whose link stays open for another try
        ctx.say("page.wrong_password", tries=wrong.failures, max=lockout.tries(ctx))
        ctx.keep_page_open()


def _new_password(ctx: Context, data: Data, text: str) -> State:
    if len(text) < PFX_PASSWORD_MIN or "\x00" in text:
        ctx.ask_secret("export.new_password_short", minimum=PFX_PASSWORD_MIN)
        return State(NAME, Step.NEW, data.model_dump())
    ctx.ask_secret("export.ask_new_password_again")
    return State(NAME, Step.NEW_AGAIN, data.model_dump(), text.encode())


def _new_password_again(ctx: Context, data: Data, text: str, first: bytes | None) -> State:
    """The new PFX password typed a second time: a mismatch is said before anything is
    exported, and both are asked again."""
    if first is None or text.encode() != first:
        ctx.ask_secret("export.new_password_mismatch", minimum=PFX_PASSWORD_MIN)
        return State(NAME, Step.NEW, data.model_dump())
    ctx.ask_secret("export.ask_current_password")
    return State(NAME, Step.CURRENT, data.model_dump(), first)


async def _export_in_chat(
    ctx: Context,
    row: Certificate,
    data: Data,
    password: bytes,
    new_password: bytes | None,
) -> State | None:
    """The certificate password typed in the chat: a wrong one is asked for again there."""
    wrong = await _export(ctx, row, data, password, new_password, said="export.sent")
    if wrong is None:
        return None
    ctx.ask_secret("add.wrong_password", tries=wrong.failures, max=lockout.tries(ctx))
    return State(NAME, Step.CURRENT, data.model_dump(), new_password)


@dataclass(frozen=True, slots=True)
class _Wrong:
    """The password did not open the key: `failures` counted so far, not yet locked."""

    failures: int


async def _export(
    ctx: Context,
    row: Certificate,
    data: Data,
    password: bytes,
    new_password: bytes | None,
    *,
    said: str,
) -> _Wrong | None:
    """Open the key with `password` and send the file (saying `said`, as `_send`); a
    lockout is said here, a wrong password is returned for the caller to say where it
    was typed."""
    assert row.id is not None  # noqa: S101
    files = await certificates.open_files(ctx.session, ctx.services.vault, ctx.user_id, row.id)
    keys = await _key_names(ctx, files, row)
    locked = await lockout.locked_until(ctx, keys)
    if locked is not None:
        ctx.say("add.locked", *await ctx.main_menu(), until=lockout.hhmm(ctx, locked))
        return None
    opened = await _open(ctx, files, password)
    if opened is None:
        verdict = await lockout.failed(ctx, keys)
        if verdict.locked_until is not None:
            until = lockout.hhmm(ctx, verdict.locked_until)
            ctx.say("add.locked", *await ctx.main_menu(), until=until)
            return None
        return _Wrong(verdict.failures)
    await lockout.opened(ctx, keys)
    if data.target == "pfx" and new_password is not None:
        pfx = await ctx.services.worker.run(npki.export_pfx, opened, new_password)
        await _send(ctx, row, f"{_file_stem(row)}.pfx", pfx, said)
        ctx.say("export.pfx_sent")
        return None
    if "signPri.key" in files:  # the originals, as they came: the password proved the right
        await _send(ctx, row, f"{_file_stem(row)}-NPKI.zip", npki_zip(row, files), said)
        return None
    pair = await ctx.services.worker.run(npki.export_npki_pair, opened, password)
    converted = {"signCert.der": pair.sign_cert, "signPri.key": pair.sign_key}
    await _send(ctx, row, f"{_file_stem(row)}-NPKI.zip", npki_zip(row, converted), said)
    return None


async def _key_names(ctx: Context, files: dict[str, bytes], row: Certificate) -> list[str]:
    """The stored key's names, the ones registration counted against (`npki.key_ids`)."""
    found = await ctx.services.worker.run(npki.key_ids, files, limits=ctx.services.settings.limits)
    return [name for names in found for name in names] or [row.fingerprint]


async def _open(
    ctx: Context, files: dict[str, bytes], password: bytes
) -> npki.OpenedCertificate | None:
    try:
        items = await ctx.services.worker.run(
            npki.open_bundle, files, password, limits=ctx.services.settings.limits
        )
    except (npki.WrongPassword, npki.KeyMismatch):
        return None
    return next((item.opened for item in items if item.opened is not None), None)


async def _send(
    ctx: Context, row: Certificate, filename: str, data: bytes, said: str = "export.sent"
) -> None:
    """Send the file and say so with the text `said` (in the chat "delete it from this
    chat", on the page a download); every export is an audit event."""
    ctx.send_document(filename, data)
    await audit.record(ctx.session, ctx.user_id, AuditAction.EXPORT, ctx.now, row.fingerprint)
    ctx.say(said, filename=filename)


def npki_zip(row: Certificate, files: dict[str, bytes]) -> bytes:
    """The NPKI folder layout banking software expects: NPKI/<CA>/USER/<subject>/…,
    the folder name made safe (the subject is whatever the uploader put there)."""
    return npki.npki_zip(row.ca, row.subject, files)


def _file_stem(row: Certificate) -> str:
    expiry = row.not_after.date().isoformat()
    return _UNSAFE_NAME.sub("_", f"{row.holder}-{expiry}").lstrip(".") or "certificate"


SPEC: Final = FlowSpec(
    NAME,
    ExportFlow(),
    actions=(Open, Pick, AsNpki, AsPfx),
    steps=tuple(Step),
    commands=("export",),
    described_as="command.export",
    menu=MenuEntry("menu.export", Open()),
    words="words.export",
    page=Purpose.EXPORT,
    rank=50,
)
