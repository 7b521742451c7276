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
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.assistant import Assistant
from handlers.envelope import EnvelopeError, open_envelope
from handlers.export import PFX_PASSWORD_MIN
from handlers.i18n import Texts
from handlers.messages import Inbound, PageForm, Reply, SendDocument
from storage import certificates, links, users
from storage.errors import NotFound
from storage.links import OpenedLink, Purpose, Refusal

PKCS12: Final = "pkcs12"


@dataclass(frozen=True, slots=True)
class PageView:
    """What the page for one token shows."""

    texts: Texts
    refusal: Refusal | None = None
    purpose: Purpose = Purpose.REGISTER
    public_key: str = ""
    """The link's key, base64url (an uncompressed P-256 point)."""
    held_files: bool = False
    """Register: the chat already holds the files; the password alone is enough."""
    holder: str = ""
    format_label: str = ""
    needs_password: bool = True
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
                return PageView(services.catalog.texts(None), refusal=found)
            user = await users.get(session, found.owner_id)
            texts = services.catalog.texts(user.locale)
            view = PageView(
                texts,
                purpose=found.purpose,
                public_key=base64.urlsafe_b64encode(found.public_key).decode().rstrip("="),
                held_files=bool(found.details.get("held")),
                upload_bytes=services.settings.limits.upload_bytes,
            )
            if found.purpose is Purpose.EXPORT:
                return await self._export_view(session, view, found)
            return view

    async def _export_view(
        self, session: AsyncSession, view: PageView, link: OpenedLink
    ) -> PageView:
        certificate_id, target = link.details.get("id"), link.details.get("target")
        try:
            row = await certificates.get_active(session, link.owner_id, int(str(certificate_id)))
        except (NotFound, ValueError):
            return PageView(view.texts, refusal=Refusal.UNKNOWN)
        pfx = target == "pfx"
        needs_password = row.has_private_key and (pfx or row.key_encryption == PKCS12)
        return PageView(
            view.texts,
            purpose=view.purpose,
            public_key=view.public_key,
            holder=row.holder,
            format_label="PFX" if pfx else "NPKI (zip)",
            needs_password=needs_password,
            needs_new_password=needs_password and pfx,
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


PAGE_TEXT_KEYS: Final = (
    "page.title_register",
    "page.title_export",
    "page.lead_register",
    "page.lead_held",
    "page.lead_export",
    "page.files_label",
    "page.password_label",
    "page.new_password_label",
    "page.no_password_needed",
    "page.submit_register",
    "page.submit_export",
    "page.working",
    "page.no_webcrypto",
    "page.failed",
    "page.too_big",
    "page.back_to_chat",
    "page.download",
    "page.privacy",
    "page.expired",
    "page.unknown",
    "page.used",
)
"""Texts the page itself shows (`page.<refusal>` is built from `Refusal` too)."""
