"""A thief's carver: what a copy of SQLite's files still gives up to someone holding the key.

It knows nothing of SQLite's page layout. At every offset of the raw bytes
(database, WAL and shared-memory files alike) it reads a vault blob header
(format byte, wrap nonce, wrapped data key, nonce) and tries to unwrap the
data key with every master key of the keyring, for every binding it is
given (the associated data of updates, conversations, secure links …). A
data key that unwraps proves a sealed blob was left there; the bytes that
follow are then decrypted as AES-GCM's keystream would (CTR from the
second counter block, no tag check), so a blob cut short by a page
boundary, or overwritten past its start, still yields what it held.
Besides, every file is searched for the secrets in the clear, in UTF-8 and
UTF-16.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.keyring import Keyring, parse_keyring
from storage.models import Channel
from storage.vault import FORMAT, KEY_BYTES, NONCE_BYTES, TAG_BYTES, Binding

_WRAPPED: int = KEY_BYTES + TAG_BYTES
_HEADER: int = 1 + NONCE_BYTES + _WRAPPED + NONCE_BYTES
_READ_AHEAD: int = 64 * 1024
"""How far past a blob's header its plaintext is looked for (longer than any update)."""
SQLITE_FILES = ("certmate.db", "certmate.db-wal", "certmate.db-shm")


@dataclass(frozen=True, slots=True)
class Find:
    """A secret found in a file: how (`clear`, `utf-16`, or the binding that opened it)."""

    secret: str
    file: str
    how: str


def copy_sqlite_files(data_dir: Path, into: Path) -> dict[str, bytes]:
    """What a thief copies while certmate runs: the database, its WAL and shared memory."""
    into.mkdir(parents=True, exist_ok=True)
    copied = {}
    for name in SQLITE_FILES:
        path = data_dir / name
        if path.exists():
            content = path.read_bytes()
            (into / name).write_bytes(content)
            copied[name] = content
    return copied


def keyring_of(key_file: Path) -> Keyring:
    return parse_keyring(key_file.read_text(), str(key_file))


def link_digests(copied: Mapping[str, bytes]) -> list[tuple[str, int]]:
    """(token digest, owner) of every secure link the copied database still names: the
    secure-link bindings a thief can reconstruct (read from a scratch copy)."""
    if "certmate.db" not in copied:
        return []
    with tempfile.TemporaryDirectory() as scratch:
        for name, content in copied.items():
            (Path(scratch) / name).write_bytes(content)
        connection = sqlite3.connect(Path(scratch) / "certmate.db")
        try:
            rows = connection.execute("SELECT token_hash, owner_id FROM secure_links").fetchall()
        except sqlite3.DatabaseError:
            rows = []
        finally:
            connection.close()
    return [(str(digest), int(owner)) for digest, owner in rows]


def bindings_for(
    channel: Channel,
    user_keys: Iterable[str],
    update_ids: Iterable[int],
    links: Iterable[tuple[str, int]] = (),
) -> list[Binding]:
    """Every binding a thief could reconstruct for these users and updates."""
    found = [Binding("update", f"{channel.value}:{u}", channel.value) for u in update_ids]
    for user_key in user_keys:
        identity = f"{channel.value}:{user_key}"
        found.append(Binding("conversation", identity, identity))
    found += [Binding("secure_link", digest, str(owner)) for digest, owner in links]
    return found


def carve(
    files: Mapping[str, bytes],
    keyring: Keyring,
    bindings: Iterable[Binding],
    secrets: Iterable[str],
) -> list[Find]:
    """Every place in `files` that gives up one of `secrets`."""
    secrets = list(secrets)
    masters = [
        (AESGCM(key), key_id, [(b, _wrap_data(b, key_id)) for b in bindings])
        for key_id, key in keyring.keys.items()
    ]
    finds: set[Find] = set()
    for name, data in files.items():
        for secret in secrets:
            if secret.encode() in data:
                finds.add(Find(secret, name, "clear"))
            if secret.encode("utf-16-le") in data:
                finds.add(Find(secret, name, "utf-16"))
        for binding, plaintext in _blobs(data, masters):
            for secret in secrets:
                if secret.encode() in plaintext or secret.encode("utf-16-le") in plaintext:
                    finds.add(Find(secret, name, f"{binding.kind} {binding.record}"))
    return sorted(finds, key=lambda f: (f.file, f.secret, f.how))


def unwrapped_blobs(
    files: Mapping[str, bytes], keyring: Keyring, bindings: Iterable[Binding]
) -> list[Binding]:
    """The binding of every blob whose data key still unwraps, wherever it lies."""
    bindings = list(bindings)
    masters = [
        (AESGCM(key), key_id, [(b, _wrap_data(b, key_id)) for b in bindings])
        for key_id, key in keyring.keys.items()
    ]
    return [binding for data in files.values() for binding, _ in _blobs(data, masters)]


def _blobs(
    data: bytes, masters: list[tuple[AESGCM, str, list[tuple[Binding, bytes]]]]
) -> Iterable[tuple[Binding, bytes]]:
    offset = data.find(bytes([FORMAT]))
    while 0 <= offset <= len(data) - _HEADER - TAG_BYTES:
        wrap_nonce = data[offset + 1 : offset + 1 + NONCE_BYTES]
        wrapped = data[offset + 1 + NONCE_BYTES : offset + 1 + NONCE_BYTES + _WRAPPED]
        for master, _key_id, candidates in masters:
            for binding, associated in candidates:
                try:
                    data_key = master.decrypt(wrap_nonce, wrapped, associated)
                except InvalidTag:
                    continue
                nonce = data[offset + _HEADER - NONCE_BYTES : offset + _HEADER]
                body = data[offset + _HEADER : offset + _HEADER + _READ_AHEAD]
                yield binding, _keystream_decrypt(data_key, nonce, body)
        offset = data.find(bytes([FORMAT]), offset + 1)


def _keystream_decrypt(data_key: bytes, nonce: bytes, body: bytes) -> bytes:
    """AES-GCM's payload decrypted without its tag: counter mode from block 2."""
    counter = nonce + (2).to_bytes(4, "big")
    decryptor = Cipher(algorithms.AES(data_key), modes.CTR(counter)).decryptor()
    return decryptor.update(body) + decryptor.finalize()


def _wrap_data(binding: Binding, key_id: str) -> bytes:
    """The associated data of a wrapped data key, as storage/vault.py builds it."""
    return binding.associated_data() + b"|key:" + key_id.encode()
