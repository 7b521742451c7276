"""What a flow sees and returns: events, its saved state, and a context to answer through.

A flow is a module with a `Flow` object: `start` is called when the user
enters it (a command, a menu button), `resume` for each later event while
they are in it. Both return the flow's next `State` (saved by the engine)
or `None` when the flow is over. Flows never touch a chat library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.dates import SEOUL
from handlers.i18n import Texts
from handlers.messages import (
    ChannelTraits,
    Choice,
    Delete,
    Document,
    OpenLink,
    Outbound,
    PageForm,
    Reply,
    SendDocument,
)
from handlers.services import Services
from storage import buttons
from storage.models import User


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: str = ""


@dataclass(frozen=True, slots=True)
class Text:
    text: str = field(repr=False)
    message_ref: str | None = None


@dataclass(frozen=True, slots=True)
class Press:
    action: str
    """`<flow>:<verb>`, e.g. `add:reminders_only`."""
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def flow(self) -> str:
        return self.action.split(":", 1)[0]

    @property
    def verb(self) -> str:
        return self.action.split(":", 1)[-1]


@dataclass(frozen=True, slots=True)
class Files:
    documents: tuple[Document, ...]


@dataclass(frozen=True, slots=True)
class Other:
    kind: str


@dataclass(frozen=True, slots=True)
class Page:
    """A secure page was submitted: files and passwords typed outside the chat."""

    form: PageForm


Event = Command | Text | Press | Files | Other | Page


@dataclass(frozen=True, slots=True)
class State:
    """Where a user is in a flow. `secret` is sealed by the vault when saved."""

    flow: str
    step: str
    data: dict[str, Any] = field(default_factory=dict)
    secret: bytes | None = field(default=None, repr=False)


class Unhandled(Exception):
    """A flow did not expect this event; the engine answers with help and keeps the state."""


@dataclass(slots=True)
class Context:
    """One event being handled: services, the user, their texts, and the answer being built."""

    services: Services
    session: AsyncSession
    user: User
    texts: Texts
    now: datetime
    out: list[Outbound] = field(default_factory=list)
    page_open: bool = False
    """Set by a flow when a secure page's submission failed in a way the user can fix
    on the page (a wrong password): its link stays usable."""

    @property
    def traits(self) -> ChannelTraits:
        """What the user's channel can do."""
        return self.services.channels[self.user.channel]

    @property
    def page_only(self) -> bool:
        """The chat can neither take files nor hide a typed password (KakaoTalk): files
        and passwords go through the secure page instead."""
        return not (self.traits.takes_files or self.traits.deletes_messages)

    @property
    def offers_page(self) -> bool:
        """The secure page is there as an alternative to typing a password in chat."""
        return self.traits.offers_page

    @property
    def zone(self) -> ZoneInfo:
        """The user's time zone (Asia/Seoul unless they live elsewhere)."""
        try:
            return ZoneInfo(self.user.timezone)
        except (ValueError, ZoneInfoNotFoundError):
            return SEOUL

    @property
    def user_id(self) -> int:
        assert self.user.id is not None  # noqa: S101  (users are flushed when loaded)
        return self.user.id

    def say(self, key: str, *choices: Choice, **values: Any) -> None:
        """Answer with the text `key` (filled with `values`) and optional buttons."""
        self.out.append(Reply(self.texts(key, **values), choices))

    def ask_secret(self, key: str, *choices: Choice, **values: Any) -> None:
        """Ask for a password: the reply tells channels to hide what is typed next."""
        self.out.append(Reply(self.texts(key, **values), choices, expects_secret=True))

    def say_text(self, text: str, *choices: Choice) -> None:
        """Answer with text already built (lists, summaries)."""
        self.out.append(Reply(text, choices))

    async def button(self, label: str, action: str, **payload: Any) -> Choice:
        """A button labelled `label` (a text key, or text) that sends `action` back."""
        text = self.texts(label) if self.texts.has(label) else label
        expires = self.now + timedelta(days=self.services.settings.button_days)
        token = await buttons.issue(
            self.session,
            self.user.channel,
            self.user.user_key,
            buttons.Action(action, payload),
            expires,
            per_user=self.services.settings.caps.buttons,
        )
        return Choice(text, token)

    def delete(self, message_ref: str | None, refused: str = "delete.refused") -> None:
        """Take a user's message holding a secret off the chat; `refused` (a text key)
        asks them to delete it themselves where the platform cannot."""
        if message_ref is not None:
            self.out.append(Delete(message_ref, self.texts(refused)))

    def send_document(self, filename: str, data: bytes) -> None:
        self.out.append(SendDocument(filename, data))

    def link(self, url: str, label: str, text: str = "") -> None:
        """A link to open; `label` and `text` are text keys."""
        self.out.append(OpenLink(url, self.texts(label), self.texts(text) if text else ""))

    def keep_page_open(self) -> None:
        self.page_open = True


class Flow(Protocol):
    """A conversation flow."""

    name: str

    async def start(self, ctx: Context, event: Event) -> State | None: ...

    async def resume(self, ctx: Context, state: State, event: Event) -> State | None: ...
