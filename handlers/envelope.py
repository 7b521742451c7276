"""The secure page's envelope: what the browser encrypts to the link's key.

    envelope = version (1 byte, 1) | ephemeral public key (65 bytes, uncompressed
               P-256 point) | nonce (12 bytes) | AES-256-GCM ciphertext and tag
    key      = HKDF-SHA256(ECDH(link key, ephemeral key), salt = "", info = INFO)
    AAD      = "certmate-page|" + the link's token

WebCrypto does the same in the page (`bot/static/secure-page.js`). Binding
the token as associated data means an envelope made for one link opens on
no other. The plaintext is JSON: `{"password", "new_password", "files":
[{"name", "data" (base64)}]}`, parsed here with limits before anything
else sees it.
"""

from __future__ import annotations

import base64
import binascii
import json
import posixpath
from dataclasses import dataclass, field
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import npki
from handlers.messages import Document

VERSION: Final = 1
INFO: Final = b"certmate secure page v1"
POINT_BYTES: Final = 65
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16
MAX_FILES: Final = 8
MAX_NAME: Final = 128
MAX_PASSWORD_BYTES: Final = 1024


class EnvelopeError(Exception):
    """The envelope does not open or its content is not a form: one opaque error, so a
    prober learns nothing about which check failed."""


@dataclass(frozen=True, slots=True)
class Submission:
    documents: tuple[Document, ...]
    password: bytes = field(repr=False)
    new_password: bytes = field(repr=False)


def associated_data(token: str) -> bytes:
    return b"certmate-page|" + token.encode()


def open_envelope(
    private_key: ec.EllipticCurvePrivateKey, envelope: bytes, token: str, limits: npki.Limits
) -> Submission:
    """Decrypt and parse one submission; raises `EnvelopeError`."""
    header = 1 + POINT_BYTES + NONCE_BYTES
    if len(envelope) < header + TAG_BYTES or envelope[0] != VERSION:
        raise EnvelopeError
    try:
        peer = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), envelope[1 : 1 + POINT_BYTES]
        )
        shared = private_key.exchange(ec.ECDH(), peer)
    except ValueError as err:
        raise EnvelopeError from err
    key = HKDF(hashes.SHA256(), 32, salt=b"", info=INFO).derive(shared)
    nonce = envelope[1 + POINT_BYTES : header]
    try:
        plaintext = AESGCM(key).decrypt(nonce, envelope[header:], associated_data(token))
    except InvalidTag as err:
        raise EnvelopeError from err
    return _parse(plaintext, limits)


def _parse(plaintext: bytes, limits: npki.Limits) -> Submission:
    try:
        form = json.loads(plaintext)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise EnvelopeError from err
    if not isinstance(form, dict):
        raise EnvelopeError
    files = form.get("files", [])
    if not isinstance(files, list) or len(files) > MAX_FILES:
        raise EnvelopeError
    return Submission(
        tuple(_document(item, limits) for item in files),
        _password(form.get("password", "")),
        _password(form.get("new_password", "")),
    )


def _document(item: Any, limits: npki.Limits) -> Document:
    if not isinstance(item, dict):
        raise EnvelopeError
    name, data = item.get("name"), item.get("data")
    if not isinstance(name, str) or not isinstance(data, str):
        raise EnvelopeError
    # Only the file's own name counts (browsers send no folders; a hostile page might).
    name = posixpath.basename(name.replace("\\", "/"))[:MAX_NAME]
    if not name or len(data) > (limits.upload_bytes + 2) // 3 * 4:
        raise EnvelopeError
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as err:
        raise EnvelopeError from err
    return Document(name, raw)


def _password(value: Any) -> bytes:
    if not isinstance(value, str):
        raise EnvelopeError
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError as err:  # a lone surrogate, which JSON can carry
        raise EnvelopeError from err
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise EnvelopeError
    return encoded
