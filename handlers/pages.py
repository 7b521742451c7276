"""The secure page, channel-neutral: what a link's page shows, and what its submission does.

The HTTP layer (`bot/secure_page.py`) only renders a `PageView` and passes the
request body to `submit`. A submission is decrypted here in memory, then
handed to the conversation engine as the link owner's event, so it runs the
very same registration (or export) as the chat does, under the same per-user
lock, rate limit and password lockout.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.assistant import Assistant
from handlers.dates import SEOUL
from handlers.envelope import EnvelopeError, open_envelope
from handlers.flows.export import PFX_PASSWORD_MIN
from handlers.i18n import Texts
from handlers.messages import Inbound, PageForm, Reply, SendDocument
from storage import audit, certificates, links, users
from storage.errors import NotFound
from storage.links import OpenedLink, Purpose, Refusal
from storage.models import AuditAction, User


@dataclass(frozen=True, slots=True)
class PageWords:
    """Every text the page shows, in the link owner's language."""

    locale: str
    title: str = ""
    """The page's heading (the browser's title adds the bot's name before it)."""
    asker: str = ""
    """Who is asking: the bot, and the channel the link was sent in."""
    expires: str = ""
    """Until when the link works (the user's clock), and that it works once."""
    lead: str = ""
    files_label: str = ""
    password_label: str = ""
    new_password_label: str = ""
    new_password_again_label: str = ""
    mismatch: str = ""
    """The two new passwords differ: said by the script, before anything is sent."""
    no_password_needed: str = ""
    submit: str = ""
    working: str = ""
    failed: str = ""
    too_big: str = ""
    """With `{name}` left in, for the script to fill."""
    no_webcrypto: str = ""
    back_to_chat: str = ""
    download: str = ""
    done_title: str = ""
    """The heading that replaces the instructions once something was stored or exported."""
    closed_title: str = ""
    """The heading when the link closed with nothing done (a lockout, a used link)."""
    facts_title: str = ""
    facts: tuple[str, ...] = ()
    """What happens to the files and the password, one sentence each."""


@dataclass(frozen=True, slots=True)
class PageView:
    """What the page for one token shows: a refusal, or a form."""

    words: PageWords
    refusal: str = ""
    """Why there is no form (expired, used, unknown link), said in words."""
    purpose: Purpose = Purpose.REGISTER
    public_key: str = ""
    """The link's key, base64url (an uncompressed P-256 point)."""
    asks_files: bool = True
    needs_password: bool = True
    password_required: bool = False
    """The form cannot be sent without it (an export); a registration may leave it empty."""
    needs_new_password: bool = False
    new_password_minimum: int = PFX_PASSWORD_MIN
    upload_bytes: int = 0


@dataclass(frozen=True, slots=True)
class PageAnswer:
    """The result of one submission, for the page to show."""

    status: int
    messages: list[str]
    done: bool = False
    """The link is used up: the page shows the result and no form."""
    stored: bool = False
    """This submission registered a certificate or returned a file: the page says it
    succeeded only then (a lockout also uses the link up)."""
    file_name: str = ""
    file_data: bytes = field(default=b"", repr=False)


class SecurePages:
    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.services = assistant.services

    async def view(self, token: str) -> PageView:
        services = self.services
        async with services.database.read() as session:
            found = await links.find(session, services.vault, token, services.clock())
            if isinstance(found, Refusal):
                return _refused(services.catalog.texts(None), found)
            user = await users.get(session, found.owner_id)
            texts = services.catalog.texts(user.locale)
            key = base64.urlsafe_b64encode(found.public_key).decode().rstrip("=")
            if found.purpose is Purpose.EXPORT:
                return await _export_view(session, texts, user, found, key)
        held = bool(found.details.get("held"))
        return PageView(
            _words(
                texts,
                title=texts("page.title_register"),
                asked=(user, found.expires_at),
                lead=texts("page.lead_held" if held else "page.lead_register"),
                submit=texts("page.submit_register"),
                done_title=texts("page.done_register"),
                facts=(
                    texts("page.fact_sealed_register"),
                    texts("page.fact_password"),
                    texts("page.fact_kept"),
                ),
            ),
            purpose=found.purpose,
            public_key=key,
            upload_bytes=services.settings.limits.upload_bytes,
        )

    async def submit(self, token: str, envelope: bytes) -> PageAnswer:
        services = self.services
        async with services.database.read() as session:
            found = await links.find(session, services.vault, token, services.clock())
            if isinstance(found, Refusal):
                texts = services.catalog.texts(None)
                return PageAnswer(410, [texts(f"page.{found.value}")], done=True)
            user = await users.get(session, found.owner_id)
            before = await _last_audit_id(session, found.owner_id)
        texts = services.catalog.texts(user.locale)
        try:
            submission = open_envelope(found.private_key, envelope, token, services.settings.limits)
        except EnvelopeError:
            return PageAnswer(400, [texts("page.failed")])
        form = PageForm(
            found.id,
            found.purpose.value,
            found.details,
            submission.documents,
            submission.password,
            submission.new_password,
        )
        handled = await self.assistant.handle_page(Inbound(user.channel, user.user_key, page=form))
        messages = [item.text for item in handled.out if isinstance(item, Reply)]
        document = next((item for item in handled.out if isinstance(item, SendDocument)), None)
        if document is not None:
            messages = _downloaded(texts, messages, document.filename)
        async with services.database.read() as session:
            registered = await _registered_since(session, found.owner_id, before)
        return PageAnswer(
            200,
            messages,
            done=not handled.page_open,
            stored=document is not None or (found.purpose is Purpose.REGISTER and registered),
            file_name=document.filename if document else "",
            file_data=document.data if document else b"",
        )


def _downloaded(texts: Texts, messages: Sequence[str], filename: str) -> list[str]:
    """The page's words for a file it hands over: the flow's line (`export.downloaded`, also
    copied into the chat) becomes the page's own, which points at its save button."""
    chat_line = texts("export.downloaded", filename=filename)
    page_line = texts("page.export_saved", filename=filename)
    return [page_line if message == chat_line else message for message in messages]


async def _last_audit_id(session: AsyncSession, owner_id: int) -> int:
    events = await audit.list_for_owner(session, owner_id)
    return max((event.id or 0 for event in events), default=0)


async def _registered_since(session: AsyncSession, owner_id: int, after_id: int) -> bool:
    """Whether a certificate was registered (its audit event) after event `after_id`."""
    events = await audit.list_for_owner(session, owner_id)
    return any(
        (event.id or 0) > after_id and event.action == AuditAction.UPLOAD for event in events
    )


async def _export_view(
    session: AsyncSession, texts: Texts, user: User, link: OpenedLink, key: str
) -> PageView:
    """The export page: which passwords it asks depends on the certificate and format."""
    certificate_id, target = link.details.get("id"), link.details.get("target")
    if not isinstance(certificate_id, int):
        return _refused(texts, Refusal.UNKNOWN)
    try:
        row = await certificates.get_active(session, link.owner_id, certificate_id)
    except NotFound:
        return _refused(texts, Refusal.UNKNOWN)
    pfx = target == "pfx"
    needs_password = row.has_private_key  # the link alone must not hand out the key
    lead = texts(
        "page.lead_export_key" if needs_password else "page.lead_export",
        holder=row.holder,
        format="PFX" if pfx else "NPKI (zip)",
    )
    facts = ((texts("page.fact_sealed_export"),) if needs_password else ()) + (
        texts("page.fact_download"),
        texts("page.fact_delete_download"),
    )
    words = _words(
        texts,
        title=texts("page.title_export"),
        asked=(user, link.expires_at),
        lead=lead,
        submit=texts("page.submit_export"),
        done_title=texts("page.done_export"),
        facts=facts,
    )
    return PageView(
        words,
        purpose=link.purpose,
        public_key=key,
        asks_files=False,
        needs_password=needs_password,
        password_required=needs_password,
        needs_new_password=needs_password and pfx,
    )


def _refused(texts: Texts, refusal: Refusal) -> PageView:
    return PageView(
        _words(texts, title=texts("page.refused_title")), refusal=texts(f"page.{refusal.value}")
    )


def _words(
    texts: Texts,
    *,
    title: str,
    asked: tuple[User, datetime] | None = None,
    lead: str = "",
    submit: str = "",
    done_title: str = "",
    facts: tuple[str, ...] = (),
) -> PageWords:
    """The page's texts; `asked`: the link's owner and when it expires, for who asks and
    until when."""
    asker = expires = ""
    if asked is not None:
        user, expires_at = asked
        asker = texts("page.asker", channel=texts(f"page.channel.{user.channel}"))
        expires = texts("page.expires", time=expires_at.astimezone(_zone(user)).strftime("%H:%M"))
    return PageWords(
        texts.locale,
        title=title,
        asker=asker,
        expires=expires,
        lead=lead,
        files_label=texts("page.files_label"),
        password_label=texts("page.password_label"),
        new_password_label=texts("page.new_password_label", minimum=PFX_PASSWORD_MIN),
        new_password_again_label=texts("page.new_password_again_label"),
        mismatch=texts("page.new_password_mismatch"),
        no_password_needed=texts("page.no_password_needed"),
        submit=submit,
        working=texts("page.working"),
        failed=texts("page.failed"),
        too_big=texts("page.too_big", name="{name}"),
        no_webcrypto=texts("page.no_webcrypto"),
        back_to_chat=texts("page.back_to_chat"),
        download=texts("page.download"),
        done_title=done_title,
        closed_title=texts("page.closed_title"),
        facts_title=texts("page.facts_title") if facts else "",
        facts=facts,
    )


def _zone(user: User) -> ZoneInfo:
    """The link owner's time zone (Asia/Seoul when theirs is unknown), as the chat uses."""
    try:
        return ZoneInfo(user.timezone)
    except (ValueError, ZoneInfoNotFoundError):
        return SEOUL
