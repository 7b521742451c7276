"""What a flow sees and returns: events, its saved state, and a context to answer through.

A flow is a module of `handlers/flows/` that exports one `SPEC`: its `Flow`
object, the commands, menu entry and words that start it, the actions its
buttons send, and the secure page's submissions it takes. `start` is called
when the user enters it (a command, a word, a menu button), `resume` for
each later event while they are in it. Both return the flow's next `State`
(saved by the engine), `None` when the flow is over, or a `HandOver` that
the engine routes to another flow. Flows never touch a chat library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.actions import Action
from handlers.dates import SEOUL
from handlers.i18n import Texts, typed_word
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
from storage.links import Purpose
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
    action: Action


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


@dataclass(frozen=True, slots=True)
class HandOver:
    """What a flow returns to pass the user on: the engine routes `event` as if no flow
    were in progress (files to the flow that takes them, an action to its flow)."""

    event: Event


Outcome = State | HandOver | None
"""What `start` and `resume` return."""


PAGE_ONLY_TEXTS: Final = {
    "help.text": "help.text_page",
    "unknown.text": "unknown.text_page",
    "unknown.photo": "unknown.photo_page",
    "start.privacy": "start.privacy_page",
    "privacy.text": "privacy.text_page",
}
"""Texts that promise files or deleted messages in chat, and what they say instead on a
channel that takes neither (KakaoTalk: files and passwords go through the secure page).
`Context.say` picks the variant, so every flow and the engine say what is true there."""


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
    menu: tuple[tuple[str, Action], ...] = ()
    """The main menu's entries (label key, action), from the flows' specs."""
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

    def is_yes(self, text: str) -> bool:
        """A typed confirmation ("예", "yes"), in any language the assistant speaks."""
        return typed_word(text) in self.services.catalog.words("words.yes")

    def say(self, key: str, *choices: Choice, **values: Any) -> None:
        """Answer with the text `key` (filled with `values`) and optional buttons; where
        the channel takes no files or passwords in chat, its `PAGE_ONLY_TEXTS` variant."""
        if self.page_only:
            key = PAGE_ONLY_TEXTS.get(key, key)
        self.out.append(Reply(self.texts(key, **values), choices))

    def ask_secret(self, key: str, *choices: Choice, **values: Any) -> None:
        """Ask for a password: the reply tells channels to hide what is typed next."""
        self.out.append(Reply(self.texts(key, **values), choices, expects_secret=True))

    def say_text(self, text: str, *choices: Choice) -> None:
        """Answer with text already built (lists, summaries)."""
        self.out.append(Reply(text, choices))

    async def button(self, label: str, action: Action) -> Choice:
        """A button labelled `label` (a text key, or text) that sends `action` back."""
        text = self.texts(label) if self.texts.has(label) else label
        expires = self.now + timedelta(days=self.services.settings.button_days)
        token = await buttons.issue(
            self.session,
            self.user.channel,
            self.user.user_key,
            action.pack(),
            expires,
            label=typed_word(text),
            per_user=self.services.settings.caps.buttons,
        )
        return Choice(text, token)

    async def main_menu(self) -> tuple[Choice, ...]:
        """A button for every flow in the menu, labelled in the user's language."""
        return tuple([await self.button(label, action) for label, action in self.menu])

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

    async def start(self, ctx: Context, event: Event) -> Outcome: ...

    async def resume(self, ctx: Context, state: State, event: Event) -> Outcome: ...


@dataclass(frozen=True, slots=True)
class MenuEntry:
    """A flow's button in the main menu: `label` (a text key) sending `action`."""

    label: str
    action: Action


@dataclass(frozen=True, slots=True)
class FlowSpec:
    """Everything the engine needs to know of a flow, declared once in its module."""

    name: str
    """Saved with the user's state; also the `flow` of its actions."""
    flow: Flow
    actions: tuple[type[Action], ...]
    """Every action its buttons send (other flows' buttons may send them too)."""
    steps: tuple[str, ...] = ()
    """The steps it saves and resumes; a saved step not among them (left by an older
    release) is forgotten, with a note, instead of being resumed."""
    commands: tuple[str, ...] = ()
    """Commands that start it, the first being the one menus show."""
    described_as: str | None = None
    """A text key: its first command's line in a chat app's command menu (none: not listed)."""
    menu: MenuEntry | None = None
    rank: int = 100
    """Order in the menus (lower first)."""
    words: str | None = None
    """A text key: the words that, typed alone, start it (`|` between them)."""
    page: Purpose | None = None
    """The secure page's submissions it takes, by the link's purpose."""
    takes_files: bool = False
    """Files sent outside any flow start it."""
