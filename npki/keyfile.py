"""NPKI private key files (`signPri.key`, `kmPri.key`): read, decrypt, write.

A key file is a PKCS#8 EncryptedPrivateKeyInfo (or, rarely, a plain
PrivateKeyInfo). Korean CAs use schemes that OpenSSL does not know, so the
envelope is parsed here and decrypted with SEED or AES from `cryptography`:

- `seed-cbc-sha1` (1.2.410.200004.1.15): PBKDF1-SHA1 → 20 bytes DK;
  key = DK[0:16], IV = SHA1(DK[16:20])[0:16]; SEED-CBC, PKCS#7 padding.
- `pbes2-*` (1.2.840.113549.1.5.13): PBKDF2 (HMAC-SHA1 unless a PRF is
  given) with SEED-CBC or AES-128/192/256-CBC, IV in the scheme parameters.
- `seed-cbc-legacy` (1.2.410.200004.1.4 as the algorithm itself):
  PBKDF1-SHA1 key DK[0:16], fixed IV `0123456789012345`.

Iteration counts are checked against the limit before any key is derived.
A password that yields bad padding or an undecodable PrivateKeyInfo is a
wrong password: that is all the data can tell. The PBES2 reader here also
opens PBES2-encrypted PFX safes (`npki.pfx`): one implementation of it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from cryptography.hazmat.decrepit.ciphers.algorithms import SEED
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from pyasn1.type import univ

from npki import _asn1
from npki._cbc import decrypt_cbc
from npki._der import first_element, first_element_within
from npki.errors import (
    PRIVATE_KEY,
    Envelope,
    MalformedInput,
    Reason,
    UnsafeInput,
    UnsupportedFormat,
    WrongPassword,
)
from npki.limits import DEFAULT_LIMITS, Limits, check_kdf_iterations

Random = Callable[[int], bytes]
"""Source of random bytes (salts, IVs); `os.urandom` unless a test passes its own."""

LEGACY_SEED_IV: Final = b"0123456789012345"
SALT_BYTES: Final = 8
_MAX_SALT_BYTES: Final = 64


class KeyEncryption(StrEnum):
    """How a private key is protected at rest (the `encryption` field of `inspect`)."""

    SEED_CBC_SHA1 = "seed-cbc-sha1"
    PBES2_SEED_CBC = "pbes2-seed-cbc"
    PBES2_AES_128_CBC = "pbes2-aes-128-cbc"
    PBES2_AES_192_CBC = "pbes2-aes-192-cbc"
    PBES2_AES_256_CBC = "pbes2-aes-256-cbc"
    SEED_CBC_LEGACY = "seed-cbc-legacy"
    PKCS12 = "pkcs12"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class _Cipher:
    scheme: KeyEncryption
    key_bytes: int
    make: Callable[[bytes], BlockCipherAlgorithm]


_PBES2_CIPHERS: Final = {
    _asn1.OID_SEED_CBC: _Cipher(KeyEncryption.PBES2_SEED_CBC, 16, SEED),
    _asn1.OID_AES_128_CBC: _Cipher(KeyEncryption.PBES2_AES_128_CBC, 16, algorithms.AES),
    _asn1.OID_AES_192_CBC: _Cipher(KeyEncryption.PBES2_AES_192_CBC, 24, algorithms.AES),
    _asn1.OID_AES_256_CBC: _Cipher(KeyEncryption.PBES2_AES_256_CBC, 32, algorithms.AES),
}
_CIPHER_OID_BY_SCHEME: Final = {c.scheme: oid for oid, c in _PBES2_CIPHERS.items()}

_PRFS: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    _asn1.OID_HMAC_SHA1: hashes.SHA1,
    _asn1.OID_HMAC_SHA224: hashes.SHA224,
    _asn1.OID_HMAC_SHA256: hashes.SHA256,
    _asn1.OID_HMAC_SHA384: hashes.SHA384,
    _asn1.OID_HMAC_SHA512: hashes.SHA512,
}


@dataclass(frozen=True, slots=True)
class KeyFile:
    """A private key file (or a PBES2-encrypted PFX safe), parsed but not decrypted.

    Holds no secret but the ciphertext.
    """

    encryption: KeyEncryption
    iterations: int | None
    salt: bytes = b""
    iv: bytes = b""
    prf_oid: str | None = None
    """PBES2 only: the PRF OID as written (None when absent, meaning HMAC-SHA1)."""
    payload: bytes = b""
    """The encrypted PrivateKeyInfo, or the plain one for `none`."""

    @property
    def is_encrypted(self) -> bool:
        return self.encryption is not KeyEncryption.NONE


def parse_key_file(data: bytes, limits: Limits = DEFAULT_LIMITS) -> KeyFile:
    """Read the envelope of a key file without decrypting it.

    Raises `UnsafeInput` for an oversized file or an iteration count above
    `limits.kdf_iterations_max`, `UnsupportedFormat` for an unknown scheme and
    `MalformedInput` for anything that is not a key file.
    """
    if len(data) > limits.upload_bytes:
        raise UnsafeInput(Reason.KEY_TOO_LARGE, limit=limits.upload_bytes)
    der = first_element_within(data, limits.trailing_bytes, Reason.KEY_TRAILING_DATA)
    envelope = _try_decode_encrypted(der)
    if envelope is None:
        read_private_key_info(der)  # a plain PKCS#8, or nothing we know
        return KeyFile(KeyEncryption.NONE, None, payload=der)
    oid = str(envelope["encryptionAlgorithm"]["algorithm"])
    params = _asn1.parameters_of(envelope["encryptionAlgorithm"])
    payload = bytes(envelope["encryptedData"])
    if oid in (_asn1.OID_SEED_CBC_WITH_SHA1, _asn1.OID_SEED_CBC):
        seed = _asn1.decode(params, _asn1.SaltAndIterations())
        scheme = (
            KeyEncryption.SEED_CBC_SHA1
            if oid == _asn1.OID_SEED_CBC_WITH_SHA1
            else KeyEncryption.SEED_CBC_LEGACY
        )
        salt = _checked_salt(bytes(seed["salt"]), PRIVATE_KEY)
        iterations = check_kdf_iterations(int(seed["iterationCount"]), limits, PRIVATE_KEY)
        payload = _checked_payload(payload, PRIVATE_KEY)
        return KeyFile(scheme, iterations, salt=salt, payload=payload)
    if oid == _asn1.OID_PBES2:
        return parse_pbes2(params, payload, limits)
    raise UnsupportedFormat(Reason.KEY_ENCRYPTION_UNSUPPORTED, oid=oid)


@dataclass(frozen=True, slots=True)
class PlainKey:
    """A decrypted PrivateKeyInfo and the randomNum it carries. Secret."""

    der: bytes = field(repr=False)
    random_num: bytes | None = field(repr=False)


def decrypt_key_file(key_file: KeyFile, password: bytes) -> PlainKey:
    """The plaintext PrivateKeyInfo inside `key_file`.

    Raises `WrongPassword` when the password does not open it.
    """
    if not key_file.is_encrypted:
        return read_private_key_info(key_file.payload)
    plain = decrypt_payload(key_file, password)
    try:
        return read_private_key_info(plain)
    except MalformedInput as err:
        raise WrongPassword() from err


def decrypt_payload(key_file: KeyFile, password: bytes) -> bytes:
    """The plaintext under an encrypted `key_file` (or PBES2 PFX safe), padding removed.

    Raises `WrongPassword` when the padding comes out wrong.
    """
    key, iv, cipher = _derive(key_file, password)
    return decrypt_cbc(cipher(key), iv, key_file.payload)


def read_private_key_info(data: bytes) -> PlainKey:
    """Check that `data` is a PrivateKeyInfo and take its KISA randomNum, if any."""
    der = first_element(data)
    info = _asn1.decode_exact(der, _asn1.PrivateKeyInfo())
    return PlainKey(der, _random_num(info))


def _random_num(info: _asn1.PrivateKeyInfo) -> bytes | None:
    """The randomNum attribute (1.2.410.200004.10.1.1.3): a BIT STRING of whole bytes."""
    if not info["attributes"].isValue:
        return None
    for attribute in info["attributes"]:
        if str(attribute["attrType"]) != _asn1.OID_RANDOM_NUM:
            continue
        for value in attribute["attrValues"]:
            bits = _asn1.decode(bytes(value), univ.BitString())
            if not len(bits) or len(bits) % 8:
                raise MalformedInput(Reason.KEY_DAMAGED)
            return bytes(bits.asOctets())
    return None


def encrypt_private_key_info(
    private_key_info: bytes,
    password: bytes,
    scheme: KeyEncryption,
    iterations: int,
    *,
    prf_oid: str | None = None,
    rng: Random = os.urandom,
) -> bytes:
    """A key file holding `private_key_info` under `password` with `scheme`.

    Fresh salt and IV come from `rng`. `scheme` must be one of the NPKI
    schemes (`seed-cbc-sha1`, `pbes2-*`); the fixed-IV legacy form is not
    written.
    """
    salt = rng(SALT_BYTES)
    if scheme is KeyEncryption.SEED_CBC_SHA1:
        template = KeyFile(scheme, iterations, salt=salt)
        params = _seed_params(salt, iterations)
        algorithm = _asn1.algorithm(_asn1.OID_SEED_CBC_WITH_SHA1, params)
    elif scheme in _CIPHER_OID_BY_SCHEME:
        template = KeyFile(scheme, iterations, salt=salt, iv=rng(16), prf_oid=prf_oid)
        algorithm = _asn1.algorithm(_asn1.OID_PBES2, _pbes2_params(template))
    else:
        raise UnsupportedFormat(Reason.KEY_SCHEME_NOT_WRITABLE, scheme=str(scheme))
    key, iv, cipher = _derive(template, password)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(private_key_info) + padder.finalize()
    encryptor = Cipher(cipher(key), modes.CBC(iv)).encryptor()
    envelope = _asn1.EncryptedPrivateKeyInfo()
    envelope["encryptionAlgorithm"] = algorithm
    envelope["encryptedData"] = encryptor.update(padded) + encryptor.finalize()
    return _asn1.encode(envelope)


def pbkdf1_sha1(password: bytes, salt: bytes, iterations: int) -> bytes:
    """PBKDF1 with SHA-1 (PKCS#5 v2.0 §5.1), the 20-byte DK the Korean schemes use."""
    sha1 = hashlib.sha1
    digest = sha1(password + salt).digest()
    for _ in range(iterations - 1):
        digest = sha1(digest).digest()
    return digest


# --- internals --------------------------------------------------------------


def _try_decode_encrypted(der: bytes) -> _asn1.EncryptedPrivateKeyInfo | None:
    try:
        value: _asn1.EncryptedPrivateKeyInfo = _asn1.decode_exact(
            der, _asn1.EncryptedPrivateKeyInfo()
        )
    except MalformedInput:
        return None
    return value


def parse_pbes2(
    params: bytes, payload: bytes, limits: Limits, what: Envelope = PRIVATE_KEY
) -> KeyFile:
    """Read PBES2 parameters (RFC 8018 A.4) and the `payload` they encrypt.

    `what` gives the reasons for the file being read: a private key, or a PFX
    whose safe this is. The iteration count is checked before anything else is read.
    """
    pbes2 = _asn1.decode(params, _asn1.PBES2Params())
    kdf = pbes2["keyDerivationFunc"]
    if str(kdf["algorithm"]) != _asn1.OID_PBKDF2:
        raise UnsupportedFormat(what.kdf_unsupported)
    pbkdf2 = _asn1.decode(_asn1.parameters_of(kdf), _asn1.PBKDF2Params())
    iterations = check_kdf_iterations(int(pbkdf2["iterationCount"]), limits, what)
    salt = _checked_salt(bytes(pbkdf2["salt"]), what)
    prf_oid = str(pbkdf2["prf"]["algorithm"]) if pbkdf2["prf"].isValue else None
    if prf_oid is not None and prf_oid not in _PRFS:
        raise UnsupportedFormat(what.prf_unsupported, oid=prf_oid)
    scheme = pbes2["encryptionScheme"]
    cipher = _PBES2_CIPHERS.get(str(scheme["algorithm"]))
    if cipher is None:
        raise UnsupportedFormat(what.cipher_unsupported, oid=str(scheme["algorithm"]))
    if pbkdf2["keyLength"].isValue and int(pbkdf2["keyLength"]) != cipher.key_bytes:
        raise MalformedInput(what.damaged)
    iv = bytes(_asn1.decode(_asn1.parameters_of(scheme), univ.OctetString()))
    if len(iv) != 16:
        raise MalformedInput(what.damaged)
    return KeyFile(
        cipher.scheme,
        iterations,
        salt=salt,
        iv=iv,
        prf_oid=prf_oid,
        payload=_checked_payload(payload, what),
    )


def _derive(
    key_file: KeyFile, password: bytes
) -> tuple[bytes, bytes, Callable[[bytes], BlockCipherAlgorithm]]:
    """Key, IV and cipher for `key_file` under `password`."""
    iterations = key_file.iterations or 1
    if key_file.encryption is KeyEncryption.SEED_CBC_SHA1:
        dk = pbkdf1_sha1(password, key_file.salt, iterations)
        iv = hashlib.sha1(dk[16:20]).digest()[:16]  # noqa: S324  (fixed by the NPKI format)
        return dk[:16], iv, SEED
    if key_file.encryption is KeyEncryption.SEED_CBC_LEGACY:
        return pbkdf1_sha1(password, key_file.salt, iterations)[:16], LEGACY_SEED_IV, SEED
    cipher = _PBES2_CIPHERS[_CIPHER_OID_BY_SCHEME[key_file.encryption]]
    prf = _PRFS[key_file.prf_oid or _asn1.OID_HMAC_SHA1]
    kdf = PBKDF2HMAC(prf(), cipher.key_bytes, key_file.salt, iterations)
    return kdf.derive(password), key_file.iv, cipher.make


def _seed_params(salt: bytes, iterations: int) -> bytes:
    value = _asn1.SaltAndIterations()
    value["salt"] = salt
    value["iterationCount"] = iterations
    return _asn1.encode(value)


def _pbes2_params(key_file: KeyFile) -> bytes:
    pbkdf2 = _asn1.PBKDF2Params()
    pbkdf2["salt"] = key_file.salt
    pbkdf2["iterationCount"] = key_file.iterations
    if key_file.prf_oid is not None:
        pbkdf2["prf"] = _asn1.algorithm(key_file.prf_oid, _asn1.encode(univ.Null("")))
    pbes2 = _asn1.PBES2Params()
    pbes2["keyDerivationFunc"] = _asn1.algorithm(_asn1.OID_PBKDF2, _asn1.encode(pbkdf2))
    cipher_oid = _CIPHER_OID_BY_SCHEME[key_file.encryption]
    pbes2["encryptionScheme"] = _asn1.algorithm(
        cipher_oid, _asn1.encode(univ.OctetString(key_file.iv))
    )
    return _asn1.encode(pbes2)


def _checked_salt(salt: bytes, what: Envelope) -> bytes:
    if not 1 <= len(salt) <= _MAX_SALT_BYTES:
        raise MalformedInput(what.damaged)
    return salt


def _checked_payload(payload: bytes, what: Envelope) -> bytes:
    """Ciphertext of SEED or AES: one or more whole 16-byte blocks."""
    if not payload or len(payload) % 16:
        raise MalformedInput(what.damaged)
    return payload
