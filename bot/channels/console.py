"""The console channel: `certmate chat`, interactive or from a script file.

Translates only. A line becomes an `Inbound` (`/upload PATH…` sends files,
`/press N|LABEL` presses a button of the latest message that had buttons,
`/word` is a command, anything else text); each `Outbound` becomes either
printed text with numbered choices (interactive) or a JSON line (script).
A user line the bot deleted as a password is never shown: the transcript
masks it, and interactively it is read without echo while a password is
awaited; one typed when none was (after its flow ended) is rubbed out of the
terminal as soon as the bot deletes it.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Final, TextIO, assert_never

from handlers.messages import (
    ChannelTraits,
    Choice,
    Delete,
    Document,
    Inbound,
    OpenLink,
    Outbound,
    Reply,
    SendDocument,
    Unsupported,
)
from storage.models import Channel

TRAITS: Final = ChannelTraits(
    takes_files=True, deletes_messages=True, messages_first=False,
    rate_limited=False, offers_page=False, sends_files=True,
)  # fmt: skip
"""A terminal reads file paths, masks a password line, writes files out; it cannot
speak first (reminders wait as notices), its one user is not rate-limited, and
`certmate chat` serves no page."""
MASK: Final = "••••••"
_UP_AND_CLEAR: Final = "\x1b[1A\x1b[2K"

Handler = Callable[[Inbound], Awaitable[list[Outbound]]]


class ScriptError(Exception):
    """A script line cannot be turned into a user action; the message says why."""


@dataclass(slots=True)
class ConsoleUser:
    """One console conversation: turns lines into inbound messages and remembers buttons."""

    handle: Handler
    user_key: str
    out_dir: Path
    upload_limit: int
    interactive: bool = False
    """A person at a terminal: a bare number or label presses a button of the latest reply."""
    _counter: int = 0
    _choices: tuple[Choice, ...] = ()
    """The buttons of the most recent answer that had any (for `/press`)."""
    _latest: tuple[Choice, ...] = ()
    """The buttons of the very latest answer, all its replies' in the order shown (for
    typed numbers and labels)."""
    expects_secret: bool = False
    """The last reply asked for a password: read the next line without echo."""
    _written: set[Path] = field(default_factory=set)

    async def send_line(self, line: str) -> tuple[dict[str, Any], list[Outbound]]:
        """Send one user line; returns its transcript entry and the bot's actions."""
        inbound, entry = self._inbound(line.rstrip("\r\n"))
        outbound = await self.handle(inbound)
        if any(isinstance(o, Delete) and o.message_ref == inbound.message_ref for o in outbound):
            entry = {"type": "user", "text": MASK}
        replies = [item for item in outbound if isinstance(item, Reply)]
        shown = tuple(choice for reply in replies for choice in reply.choices)
        if shown:
            self._choices = shown
        if replies:  # one answer's buttons are numbered on, reply after reply (`render`)
            self._latest = shown
            self.expects_secret = replies[-1].expects_secret
        return entry, outbound

    def save_document(self, document: SendDocument) -> Path:
        """Write a document the bot sent into the output folder, never over another."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        name = Path(document.filename).name or "document"
        path = self.out_dir / name
        stem, suffix = path.stem, path.suffix
        number = 1
        while path.exists() or path in self._written:
            number += 1
            path = self.out_dir / f"{stem}-{number}{suffix}"
        path.write_bytes(document.data)
        path.chmod(0o600)
        self._written.add(path)
        return path

    def _next_ref(self) -> str:
        self._counter += 1
        return str(self._counter)

    def _inbound(self, line: str) -> tuple[Inbound, dict[str, Any]]:
        inbound = partial(
            Inbound, channel=Channel.CONSOLE, user_key=self.user_key, message_ref=self._next_ref()
        )
        stripped = line.strip()
        if stripped.startswith("/upload"):
            paths = _split(stripped[len("/upload") :])
            if not paths:
                raise ScriptError("/upload needs at least one file")
            documents, oversized = self._read(paths)
            entry = {"type": "user", "upload": [Path(p).name for p in paths]}
            if oversized:
                return inbound(unsupported=Unsupported.OVERSIZED), entry
            return inbound(documents=documents), entry
        if stripped.startswith("/press"):
            choice = self._choice(stripped[len("/press") :].strip())
            return inbound(button=choice.token), {"type": "user", "press": choice.label}
        typed = self._typed_choice(stripped)
        if typed is not None:
            return inbound(button=typed.token), {"type": "user", "press": typed.label}
        if stripped.startswith("/") and len(stripped) > 1:
            name, _, args = stripped[1:].partition(" ")
            return inbound(command=name, args=args.strip()), {"type": "user", "text": line}
        return inbound(text=line), {"type": "user", "text": line}

    def _typed_choice(self, text: str) -> Choice | None:
        """Interactive only: a number or a label of the latest answer's buttons presses it,
        at a password prompt too (a password is never "1" or "알림용으로만 등록", and
        taking one as a password would count a wrong try)."""
        if not self.interactive or not self._latest:
            return None
        if text.isdigit() and 1 <= int(text) <= len(self._latest):
            return self._latest[int(text) - 1]
        return next((c for c in self._latest if c.label == text), None)

    def _choice(self, which: str) -> Choice:
        if not self._choices:
            raise ScriptError("there is no message with buttons to press")
        if which.isdigit():
            index = int(which)
            if not 1 <= index <= len(self._choices):
                raise ScriptError(f"there is no button {index} (1-{len(self._choices)})")
            return self._choices[index - 1]
        for choice in self._choices:
            if choice.label == which:
                return choice
        labels = ", ".join(c.label for c in self._choices)
        raise ScriptError(f"no button labelled {which!r} (buttons: {labels})")

    def _read(self, paths: list[str]) -> tuple[tuple[Document, ...], bool]:
        documents = []
        for name in paths:
            path = Path(name).expanduser()
            try:
                if path.stat().st_size > self.upload_limit:
                    return (), True
                documents.append(Document(path.name, path.read_bytes()))
            except OSError as err:
                raise ScriptError(f"cannot read {name}: {err.strerror}") from err
        return tuple(documents), False


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as err:
        raise ScriptError(f"cannot read the file names: {err}") from err


def transcript_entries(user: ConsoleUser, outbound: list[Outbound]) -> list[dict[str, Any]]:
    """The JSON-lines transcript of the bot's actions (documents are written to disk)."""
    entries: list[dict[str, Any]] = []
    for item in outbound:
        match item:
            case Reply():
                buttons = [c.label for c in item.choices]
                entries.append({"type": "text", "text": item.text, "buttons": buttons})
            case Delete():
                entries.append({"type": "delete", "message": item.message_ref})
            case SendDocument():
                path = user.save_document(item)
                entries.append({"type": "document", "filename": item.filename, "path": str(path)})
            case OpenLink():
                entries.append({"type": "link", "url": item.url, "label": item.label})
            case _:
                assert_never(item)
    return entries


async def run_script(user: ConsoleUser, script: Iterable[str], out: TextIO) -> None:
    """Play a script: one user action per line, the transcript as JSON lines on `out`."""
    for number, line in enumerate(script, start=1):
        if not line.strip():
            continue
        try:
            entry, outbound = await user.send_line(line)
        except ScriptError as err:
            raise ScriptError(f"line {number}: {err}") from err
        for record in (entry, *transcript_entries(user, outbound)):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()


def masked_echo(prompt: str, line: str, columns: int) -> str:
    """For a terminal that echoed a line the bot then deleted (a password typed when none
    was asked for): the cursor goes back over the rows it took and they are rewritten
    masked, as a chat app removes the message."""
    rows = max(1, -(-(len(prompt) + len(line)) // max(columns, 1)))
    return _UP_AND_CLEAR * rows + prompt + MASK


def render(user: ConsoleUser, outbound: list[Outbound]) -> str:
    """The bot's actions as text for a person at a terminal."""
    lines: list[str] = []
    number = 0  # one numbering for the whole answer, as typed numbers are read
    for item in outbound:
        match item:
            case Reply():
                lines.append(item.text)
                for choice in item.choices:
                    number += 1
                    lines.append(f"  {number}. {choice.label}")
            case Delete():
                lines.append("  (비밀번호 메시지를 지웠어요 / password message deleted)")
            case SendDocument():
                lines.append(f"  [파일 / file] {user.save_document(item)}")
            case OpenLink():
                lines.append(f"  [{item.label}] {item.url}")
            case _:
                assert_never(item)
        lines.append("")
    return "\n".join(lines)
