"""What channels hand to the conversation core, and what it hands back.

Adapters (Telegram, Kakao, console) translate platform events into one
`Inbound` and render each `Outbound` in the platform's own form. Nothing
here knows a chat library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from storage.models import Channel


@dataclass(frozen=True, slots=True)
class Document:
    """A file the user sent."""

    name: str
    data: bytes = field(repr=False)


class Unsupported(StrEnum):
    """Things a user can send that the core does not take."""

    PHOTO = "photo"
    STICKER = "sticker"
    OVERSIZED = "oversized"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class PageForm:
    """What the user submitted on a secure page (decrypted in memory, never stored)."""

    link_id: int
    purpose: str
    """`register` or `export` (`storage.links.Purpose`)."""
    details: dict[str, Any] = field(default_factory=dict)
    documents: tuple[Document, ...] = ()
    password: bytes = field(default=b"", repr=False)
    new_password: bytes = field(default=b"", repr=False)
    """The password of a PFX being exported."""


@dataclass(frozen=True, slots=True)
class ChannelTraits:
    """What a channel can do. The core reads these, never a channel's name: a step or a
    text that depends on the channel asks what it can do, so a new channel is its
    traits and its adapter, nothing in the core."""

    takes_files: bool
    """Files can be sent to the bot in the chat."""
    deletes_messages: bool
    """A user's message can be deleted (a typed password)."""
    messages_first: bool
    """It can message a user who did not write: reminders are pushed."""
    rate_limited: bool
    """A user's messages count against `messages_per_minute` (a terminal's do not)."""
    offers_page: bool
    """The secure page is served for files and passwords (`certmate run`)."""
    sends_files: bool
    """The bot can send files in the chat."""


@dataclass(frozen=True, slots=True)
class Inbound:
    """One user action: exactly one of text, command, button, documents, a page
    submission (or unsupported)."""

    channel: Channel
    """Who, with `user_key` (the core stores it; it never decides on it: see the
    traits)."""
    user_key: str
    message_ref: str | None = None
    """The platform's id of this message, so the core can ask to delete it."""
    text: str | None = field(default=None, repr=False)
    command: str | None = None
    """Without the slash, lowercase: `start`, `add`, …"""
    args: str = ""
    button: str | None = None
    """The opaque token of a pressed button."""
    documents: tuple[Document, ...] = ()
    unsupported: Unsupported | None = None
    private: bool = True
    """False in a group chat: certmate then reads no documents and no passwords."""
    page: PageForm | None = None
    """A secure page's submission (not a chat message)."""


@dataclass(frozen=True, slots=True)
class Choice:
    """A button: what it says, and the opaque token it sends back."""

    label: str
    token: str


@dataclass(frozen=True, slots=True)
class Reply:
    """Text to show, with optional buttons."""

    text: str
    choices: tuple[Choice, ...] = ()
    expects_secret: bool = False
    """The next message will be a password: channels that can hide typing should."""


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete a message of the user's (a typed password)."""

    message_ref: str
    if_refused: str = ""
    """What to tell the user when the platform refuses (the message is too old, or a
    group where certmate may not delete): in their language, so they delete it."""


@dataclass(frozen=True, slots=True)
class SendDocument:
    """Send a file (an export)."""

    filename: str
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class OpenLink:
    """A link to open (the secure page): `text` says what it is for, `label` is the button."""

    url: str
    label: str
    text: str = ""


Outbound = Reply | Delete | SendDocument | OpenLink
