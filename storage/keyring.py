"""Master keys: the keyring file (or `CERTMATE_VAULT__KEY`), created 0600, refused if looser.

The file is JSON: `{"format": 1, "current": "<id>", "keys": {"<id>": "<base64>"}}`.
It holds one key in normal operation; during a rotation it holds the old and
the new key, `current` naming the new one (and `"reencrypt": true` while a
rotation re-encrypts every record). It is only ever replaced atomically
(write a 0600 temporary, fsync, rename), so a crash leaves either the old
keyring or the new one, never half of one.

Nothing here makes up a key on its own: `create` is called once, at start,
by the code that has checked the database holds no sealed record. A key file
that goes missing under a running process is an error, never a new key.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

FORMAT: Final = 1
KEY_BYTES: Final = 32
_KEY_ID_BYTES: Final = 8

log = logging.getLogger("certmate.keys")


class KeyFileError(Exception):
    """The master key cannot be used; the message says which file and how to fix it."""


@dataclass(frozen=True, slots=True)
class Keyring:
    """Master keys by id, and the one new records are sealed with."""

    current: str
    keys: Mapping[str, bytes] = field(repr=False)
    reencrypting: bool = False
    """A rotation under way re-encrypts every record (not only re-wraps its data key)."""

    def key(self, key_id: str) -> bytes:
        return self.keys[key_id]

    def get(self) -> Keyring:
        """A keyring is its own (fixed) source."""
        return self

    def with_new_key(self, *, reencrypting: bool = False) -> Keyring:
        """This keyring plus a fresh key, which becomes current."""
        key_id = secrets.token_hex(_KEY_ID_BYTES)
        keys = {**self.keys, key_id: secrets.token_bytes(KEY_BYTES)}
        return Keyring(key_id, keys, reencrypting)

    def only_current(self) -> Keyring:
        """This keyring without the keys no longer in use."""
        return Keyring(self.current, {self.current: self.keys[self.current]})

    def to_json(self) -> str:
        keys = {kid: base64.b64encode(key).decode() for kid, key in self.keys.items()}
        raw: dict[str, object] = {"format": FORMAT, "current": self.current, "keys": keys}
        if self.reencrypting:
            raw["reencrypt"] = True
        return json.dumps(raw)


class KeyringSource(Protocol):
    """Where the vault gets its keyring each time it needs one."""

    def get(self) -> Keyring: ...


class KeyringFile:
    """A keyring file, re-read when it changes (a rotation in another process).

    A file that disappears is an error at every call until it is back: sealing
    under a key made up now would leave records nobody can open from a backup.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._keyring: Keyring | None = None
        self._missing = False

    def get(self) -> Keyring:
        # Stamp before reading: a change after the stat is seen at the next call.
        try:
            info = self.path.stat()
        except FileNotFoundError:
            info = None
        if info is None:
            if not self._missing:  # said once in the log, refused at every call
                log.error("master key file %s has disappeared; restore it from a backup", self.path)
            self._missing = True
            raise KeyFileError(missing_message(self.path))
        self._missing = False
        stamp = (info.st_mtime_ns, info.st_ino, info.st_size)
        if self._keyring is None or stamp != self._stamp:
            self._keyring = load(self.path)
            self._stamp = stamp
        return self._keyring


def new_keyring() -> Keyring:
    key_id = secrets.token_hex(_KEY_ID_BYTES)
    return Keyring(key_id, {key_id: secrets.token_bytes(KEY_BYTES)})


def parse_keyring(text: str, where: str) -> Keyring:
    """A keyring from its JSON form, or from a bare base64 key (one key, id from its place)."""
    text = text.strip()
    if not text.startswith("{"):
        key = _decode_key(text, where)
        return Keyring("env", {"env": key})
    try:
        raw = json.loads(text)
        keys = {str(kid): _decode_key(value, where) for kid, value in raw["keys"].items()}
        current = str(raw["current"])
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise KeyFileError(f"{where} is not a certmate keyring") from err
    if current not in keys or raw.get("format") != FORMAT:
        raise KeyFileError(f"{where} is not a certmate keyring")
    return Keyring(current, keys, raw.get("reencrypt") is True)


def missing_message(path: Path) -> str:
    return (
        f"master key file {path} is missing; restore it from your backup "
        "(certmate never makes a new key while the database holds sealed records)"
    )


def load(path: Path) -> Keyring:
    """The keyring in `path`; refused if missing, damaged, or others can read it."""
    try:
        check_permissions(path)
        text = path.read_text()
    except FileNotFoundError as err:
        raise KeyFileError(missing_message(path)) from err
    except (OSError, UnicodeDecodeError) as err:
        raise KeyFileError(f"master key file {path} cannot be read: {err}") from err
    return parse_keyring(text, f"master key file {path}")


def create(path: Path) -> Keyring:
    """A new keyring in `path` (mode 0600); the existing one if another process was first.

    Only for a database that holds no sealed record: the caller checks.
    """
    keyring = new_keyring()
    temporary = _write_temporary(path, keyring)
    try:
        os.link(temporary, path)  # fails if the file exists: never replaces a key
    except FileExistsError:
        return load(path)
    finally:
        temporary.unlink()
    _sync_directory(path.parent)
    return keyring


def check_permissions(path: Path) -> None:
    """Refuse a key file that group or others may read or write."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"master key file {path} is accessible by group or others "
            f"(mode {stat.S_IMODE(mode):04o}); fix it with: chmod 600 {path}"
        )


def write_atomically(path: Path, keyring: Keyring) -> None:
    """Replace `path` with `keyring` so that a crash leaves the old file or the new one."""
    temporary = _write_temporary(path, keyring)
    try:
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)


def _write_temporary(path: Path, keyring: Keyring) -> Path:
    """`keyring` in a 0600 file next to `path`, on disk (fsync) before it is renamed."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(keyring.to_json())
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def _sync_directory(folder: Path) -> None:
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise KeyFileError(f"{where}: a key is not valid base64") from err
    if len(key) != KEY_BYTES:
        raise KeyFileError(f"{where}: a key must be {KEY_BYTES} bytes")
    return key
