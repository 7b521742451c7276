"""PKCS#12 password-based encryption (RFC 7292 appendices B and C), decryption only.

The older of the two ways a PFX encrypts a safe: key and IV come from the
password as a BMPString (UTF-16BE, two NUL bytes at the end) through the
SHA-1 KDF of appendix B.2, and the cipher is 3DES or RC2 in CBC mode.
OpenSSL's `-legacy` files, and Windows', use it (RC2-40 for the
certificate safe, 3DES for the key). `npki.pfx` decrypts encrypted safes
with it to check the key bags inside before OpenSSL derives anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES

from npki import _asn1, rc2
from npki._cbc import decrypt_cbc, unpad
from npki.errors import PFX, MalformedInput, Reason, UnsupportedFormat
from npki.limits import Limits, check_kdf_iterations

_BLOCK_BYTES: Final = 8
"""3DES and RC2 both have 64-bit blocks: 8-byte IVs, 8-byte padding."""
_HASH_BLOCK_BYTES: Final = 64  # v in appendix B: SHA-1's input block
_KEY_MATERIAL: Final = 1  # the "ID" byte of appendix B.3
_IV_MATERIAL: Final = 2


def _triple_des(key: bytes, iv: bytes, data: bytes) -> bytes:
    if len(key) == 16:  # two-key 3DES is K1 K2 K1
        key += key[:8]
    return decrypt_cbc(TripleDES(key), iv, data)


def _rc2(key: bytes, iv: bytes, data: bytes) -> bytes:
    """RC2 with an effective key length of the key's own size (40 or 128 bits here)."""
    return unpad(rc2.decrypt_cbc(key, 8 * len(key), iv, data), _BLOCK_BYTES)


@dataclass(frozen=True, slots=True)
class _Scheme:
    key_bytes: int
    decrypt: Callable[[bytes, bytes, bytes], bytes]
    """(key, iv, ciphertext) → plaintext without padding."""


_SCHEMES: Final = {
    _asn1.OID_PBE_SHA1_3DES: _Scheme(24, _triple_des),
    _asn1.OID_PBE_SHA1_2DES: _Scheme(16, _triple_des),
    _asn1.OID_PBE_SHA1_RC2_128: _Scheme(16, _rc2),
    _asn1.OID_PBE_SHA1_RC2_40: _Scheme(5, _rc2),
}


@dataclass(frozen=True, slots=True)
class Pkcs12Pbe:
    """Data encrypted with PKCS#12 PBE, parsed but not decrypted."""

    oid: str
    salt: bytes
    iterations: int
    payload: bytes = field(repr=False)


def parse_pkcs12_pbe(oid: str, params: bytes, payload: bytes, limits: Limits) -> Pkcs12Pbe:
    """Read the parameters of `oid`; `UnsupportedFormat` for a scheme not read here.

    The iteration count is checked before anything else is read.
    """
    if oid not in _SCHEMES:
        raise UnsupportedFormat(Reason.PFX_ENCRYPTION_UNSUPPORTED, oid=oid)
    value = _asn1.decode(params, _asn1.SaltAndIterations())
    iterations = check_kdf_iterations(int(value["iterationCount"]), limits, PFX)
    if not payload or len(payload) % _BLOCK_BYTES:
        raise MalformedInput(Reason.PFX_DAMAGED)
    return Pkcs12Pbe(oid, bytes(value["salt"]), iterations, payload)


def decrypt_pkcs12_pbe(encrypted: Pkcs12Pbe, password: bytes) -> bytes:
    """The plaintext of `encrypted` under `password` as a BMPString (see `bmp_password`).

    Raises `WrongPassword` when the padding comes out wrong.
    """
    scheme = _SCHEMES[encrypted.oid]
    key = pkcs12_kdf(
        password, encrypted.salt, encrypted.iterations, _KEY_MATERIAL, scheme.key_bytes
    )
    iv = pkcs12_kdf(password, encrypted.salt, encrypted.iterations, _IV_MATERIAL, _BLOCK_BYTES)
    return scheme.decrypt(key, iv, encrypted.payload)


def bmp_password(text: str) -> bytes:
    """`text` as PKCS#12 feeds it to the KDF: UTF-16BE and a two-byte NUL terminator."""
    return text.encode("utf-16-be") + b"\x00\x00"


def pkcs12_kdf(password: bytes, salt: bytes, iterations: int, purpose: int, size: int) -> bytes:
    """`size` bytes of key material for `purpose` (RFC 7292 appendix B.2, SHA-1)."""
    v = _HASH_BLOCK_BYTES
    diversifier = bytes([purpose]) * v
    material = _repeat_to_blocks(salt, v) + _repeat_to_blocks(password, v)
    out = b""
    while True:
        digest = diversifier + material
        for _ in range(iterations):
            digest = hashlib.sha1(digest).digest()  # noqa: S324  (fixed by RFC 7292)
        out += digest
        if len(out) >= size:
            return out[:size]
        # Step 6C: every v-byte block I_j of the material becomes I_j + B + 1 (mod 2^8v),
        # B being the digest repeated to v bytes.
        b = int.from_bytes(_repeat_to_blocks(digest, v), "big") + 1
        material = b"".join(
            ((int.from_bytes(material[i : i + v], "big") + b) % (1 << 8 * v)).to_bytes(v, "big")
            for i in range(0, len(material), v)
        )


def _repeat_to_blocks(data: bytes, v: int) -> bytes:
    """`data` repeated to fill whole `v`-byte blocks (nothing for empty `data`)."""
    if not data:
        return b""
    blocks = -(-len(data) // v)
    return (data * (blocks * v // len(data) + 1))[: blocks * v]
