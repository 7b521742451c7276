"""What the secure page's script does, in Python: read the page, seal a form to its key.

It mirrors `bot/static/secure-page.js` byte for byte (the real-browser test
checks the script itself), so tests can drive the page over real HTTP fast
and also send what a hostile client would.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from handlers.envelope import INFO, VERSION, associated_data

_KEY = re.compile(r'data-key="([A-Za-z0-9_-]*)"')
_TOKEN = re.compile(r'data-token="([A-Za-z0-9_-]*)"')


@dataclass(frozen=True)
class Page:
    status: int
    html: str
    headers: dict[str, str]

    @property
    def key(self) -> str:
        found = _KEY.search(self.html)
        assert found is not None, "the page carries no key"
        return found.group(1)

    @property
    def token(self) -> str:
        found = _TOKEN.search(self.html)
        assert found is not None
        return found.group(1)


def form(files: dict[str, bytes], password: str = "", new_password: str = "") -> dict[str, Any]:
    return {
        "files": [
            {"name": name, "data": base64.b64encode(data).decode()} for name, data in files.items()
        ],
        "password": password,
        "new_password": new_password,
    }


def seal(key: str, token: str, content: dict[str, Any] | bytes) -> bytes:
    """The envelope the page's script builds for `content`, to the link's key."""
    point = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    link_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    shared = ephemeral.exchange(ec.ECDH(), link_key)
    aes_key = HKDF(hashes.SHA256(), 32, salt=b"", info=INFO).derive(shared)
    nonce = os.urandom(12)
    plaintext = content if isinstance(content, bytes) else json.dumps(content).encode()
    ciphertext = AESGCM(aes_key).encrypt(nonce, plaintext, associated_data(token))
    public = ephemeral.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return bytes([VERSION]) + public + nonce + ciphertext


def token_of(url: str) -> str:
    return url.rsplit("/u/", 1)[1]


async def open_page(client: aiohttp.ClientSession, url: str) -> Page:
    async with client.get(url) as response:
        return Page(response.status, await response.text(), dict(response.headers))


async def submit(
    client: aiohttp.ClientSession, url: str, envelope: bytes
) -> tuple[int, dict[str, Any]]:
    async with client.post(url, data=envelope) as response:
        return response.status, await response.json()


async def submit_form(
    client: aiohttp.ClientSession, url: str, content: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """Open the page for its key, then post `content` sealed to it."""
    page = await open_page(client, url)
    assert page.status == 200, page.html
    return await submit(client, url, seal(page.key, token_of(url), content))
