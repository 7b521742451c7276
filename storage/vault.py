"""The vault: envelope encryption for everything secret at rest.

Each record gets a fresh 256-bit data key. The payload is sealed with
AES-256-GCM under that key; the data key is wrapped (AES-256-GCM) by a
master key named by its id. Both use associated data that binds the blob to
its record kind, record id, owner and the format version, so a blob moved to
another row, owner or table does not open. Deleting the row destroys the
wrapped data key (crypto-shredding). Rotating the master key re-wraps data
keys only; payloads are never re-encrypted.

Blob layout (format 1)::

    0x01 | wrap nonce (12) | wrapped data key (32 + 16 tag) | nonce (12) | ciphertext + tag (16)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.keyring import KeyringSource

FORMAT: Final = 1
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16
_WRAPPED_BYTES: Final = KEY_BYTES + TAG_BYTES
_HEADER_BYTES: Final = 1 + NONCE_BYTES + _WRAPPED_BYTES + NONCE_BYTES

Random = Callable[[int], bytes]


class VaultError(Exception):
    """A sealed blob does not open: wrong record, tampered, or its master key is gone."""


@dataclass(frozen=True, slots=True)
class Binding:
    """What a sealed blob belongs to; part of its associated data."""

    kind: str
    """The record kind, e.g. `certificate`, `account`, `conversation`."""
    record: str
    """The record's id (row id, or channel:user key)."""
    owner: str
    """The owner's id."""

    def associated_data(self) -> bytes:
        return "|".join(
            ("certmate-vault", str(FORMAT), self.kind, self.record, self.owner)
        ).encode()


@dataclass(frozen=True, slots=True)
class Sealed:
    """A sealed blob and the id of the master key that wraps its data key."""

    key_id: str
    blob: bytes


class Vault:
    """Seals and opens records with a keyring of master keys."""

    def __init__(self, keyring: KeyringSource, *, rng: Random = os.urandom) -> None:
        self._keyring = keyring
        self._rng = rng

    @property
    def current_key_id(self) -> str:
        return self._keyring.get().current

    def seal(self, plaintext: bytes, binding: Binding) -> Sealed:
        """Seal `plaintext` for `binding` under a fresh data key and the current master key."""
        data_key = self._rng(KEY_BYTES)
        nonce = self._rng(NONCE_BYTES)
        ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, binding.associated_data())
        key_id = self._keyring.get().current
        wrap_nonce, wrapped = self._wrap(data_key, key_id, binding)
        blob = bytes([FORMAT]) + wrap_nonce + wrapped + nonce + ciphertext
        return Sealed(key_id, blob)

    def open(self, sealed: Sealed, binding: Binding) -> bytes:
        """The plaintext of `sealed`; `VaultError` if it is not `binding`'s or was altered."""
        wrap_nonce, wrapped, nonce, ciphertext = _split(sealed.blob)
        data_key = self._unwrap(wrap_nonce, wrapped, sealed.key_id, binding)
        try:
            return AESGCM(data_key).decrypt(nonce, ciphertext, binding.associated_data())
        except InvalidTag as err:
            raise VaultError("sealed record does not open") from err

    def rewrap(self, sealed: Sealed, binding: Binding) -> Sealed:
        """The same payload with its data key wrapped by the current master key."""
        wrap_nonce, wrapped, nonce, ciphertext = _split(sealed.blob)
        data_key = self._unwrap(wrap_nonce, wrapped, sealed.key_id, binding)
        key_id = self._keyring.get().current
        new_wrap_nonce, new_wrapped = self._wrap(data_key, key_id, binding)
        return Sealed(key_id, bytes([FORMAT]) + new_wrap_nonce + new_wrapped + nonce + ciphertext)

    def _wrap(self, data_key: bytes, key_id: str, binding: Binding) -> tuple[bytes, bytes]:
        nonce = self._rng(NONCE_BYTES)
        master = AESGCM(self._keyring.get().key(key_id))
        return nonce, master.encrypt(nonce, data_key, _wrap_data(key_id, binding))

    def _unwrap(self, nonce: bytes, wrapped: bytes, key_id: str, binding: Binding) -> bytes:
        try:
            master = AESGCM(self._keyring.get().key(key_id))
        except KeyError as err:
            raise VaultError(f"master key {key_id} is not in the keyring") from err
        try:
            return master.decrypt(nonce, wrapped, _wrap_data(key_id, binding))
        except InvalidTag as err:
            raise VaultError("sealed record does not open") from err


def _wrap_data(key_id: str, binding: Binding) -> bytes:
    return binding.associated_data() + b"|key:" + key_id.encode()


def _split(blob: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    if len(blob) < _HEADER_BYTES + TAG_BYTES or blob[0] != FORMAT:
        raise VaultError("sealed record is damaged or of an unknown format")
    position = 1
    wrap_nonce = blob[position : position + NONCE_BYTES]
    position += NONCE_BYTES
    wrapped = blob[position : position + _WRAPPED_BYTES]
    position += _WRAPPED_BYTES
    nonce = blob[position : position + NONCE_BYTES]
    return wrap_nonce, wrapped, nonce, blob[_HEADER_BYTES:]
