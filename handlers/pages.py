"""The secure page, channel-neutral: what a link's page shows, and what its submission does.

The HTTP layer (`bot/secure_page.py`) only renders a `PageView` and passes the
request body to `submit`. A submission is decrypted here in memory, then
handed to the conversation engine as the link owner's event, so it runs the
very same registration (or export) as the chat does, under the same per-user
lock, rate limit and password lockout.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.assistant import Assistant
from handlers.envelope import EnvelopeError, open_envelope
from handlers.flows.export import PFX_PASSWORD_MIN
from handlers.i18n import Texts
from handlers.messages import Inbound, PageForm, Reply, SendDocument
from storage import certificates, links, users
from storage.errors import NotFound
from storage.links import OpenedLink, Purpose, Refusal


@dataclass(frozen=True, slots=True)
class PageWords:
    """Every text the page shows, in the link owner's language."""

    locale: str
    title: str = ""
    lead: str = ""
    files_label: str = ""
    password_label: str = ""
    new_password_label: str = ""
    no_password_needed: str = ""
    submit: str = ""
    working: str = ""
    failed: str = ""
    too_big: str = ""
    """With `{name}` left in, for the script to fill."""
    no_webcrypto: str = ""
    back_to_chat: str = ""
    download: str = ""
    privacy: str = ""


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
                return await _export_view(session, texts, found, key)
        held = bool(found.details.get("held"))
        return PageView(
            _words(
                texts,
                title=texts("page.title_register"),
                lead=texts("page.lead_held" if held else "page.lead_register"),
                submit=texts("page.submit_register"),
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
        return PageAnswer(
            200,
            messages,
            done=not handled.page_open,
            file_name=document.filename if document else "",
            file_data=document.data if document else b"",
        )


async def _export_view(session: AsyncSession, texts: Texts, link: OpenedLink, key: str) -> PageView:
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
    words = _words(
        texts, title=texts("page.title_export"), lead=lead, submit=texts("page.submit_export")
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
    return PageView(_words(texts, title="certmate"), refusal=texts(f"page.{refusal.value}"))


def _words(texts: Texts, *, title: str, lead: str = "", submit: str = "") -> PageWords:
    return PageWords(
        texts.locale,
        title=title,
        lead=lead,
        files_label=texts("page.files_label"),
        password_label=texts("page.password_label"),
        new_password_label=texts("page.new_password_label", minimum=PFX_PASSWORD_MIN),
        no_password_needed=texts("page.no_password_needed"),
        submit=submit,
        working=texts("page.working"),
        failed=texts("page.failed"),
        too_big=texts("page.too_big", name="{name}"),
        no_webcrypto=texts("page.no_webcrypto"),
        back_to_chat=texts("page.back_to_chat"),
        download=texts("page.download"),
        privacy=texts("page.privacy"),
    )
