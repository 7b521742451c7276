"""PKCS#12 (`.pfx`, `.p12`): open one, and write one for iPhone and Mac.

`cryptography` opens SEED, 3DES and AES PFX files, but derives keys with
whatever iteration count the file names. A hostile file could ask for
billions, so every count is checked against the limits before anything is
handed over: the MAC's, each encrypted safe's and each shrouded key bag's,
those in plain safes first (no password needed, fast), then, once the
password is known, those inside encrypted safes, which are decrypted here
for that (PBES2 with `npki.keyfile`'s reader, PKCS#12 PBE with
`npki.pkcs12_pbe`). `cryptography` drops PKCS#8 attributes: a key read from
a PFX has no randomNum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from pyasn1.type import univ

from npki import _asn1, _der
from npki._guard import guarded
from npki.certificate import parse_certificate, tolerating_nonpositive_serials
from npki.errors import (
    PFX,
    MalformedInput,
    PasswordRequired,
    Reason,
    UnsafeInput,
    UnsupportedFormat,
    WrongPassword,
)
from npki.keyfile import KeyEncryption, KeyFile, decrypt_payload, parse_pbes2
from npki.keyid import ciphertext_id
from npki.keymatch import check_key_matches, load_private_key
from npki.limits import DEFAULT_LIMITS, Limits, check_kdf_budget, check_kdf_iterations
from npki.pair import OpenedCertificate
from npki.pkcs12_pbe import (
    Pkcs12Pbe,
    bmp_password,
    decrypt_pkcs12_pbe,
    parse_pkcs12_pbe,
)

PFX_VERSION: Final = 3
EXPORT_ITERATIONS: Final = 50_000
"""PBKDF2 rounds of exported PFX files: a user-chosen password deserves many."""
_MAX_BAGS: Final = 64
_MAX_SAFES: Final = 8
"""Real PFX files hold two safes (certificates, then the key). Each encrypted
safe costs a key derivation here and another in OpenSSL, so a file listing
thousands of them (1 MiB holds ~7,000) is refused before any is tried."""

EncryptedSafe = KeyFile | Pkcs12Pbe
"""An encrypted safe, parsed: PBES2 (read as a key file's envelope is) or PKCS#12 PBE."""


@dataclass(frozen=True, slots=True)
class CheckedPfx:
    """A PFX whose layers readable without the password were walked and found within limits."""

    data: bytes = field(repr=False)
    encrypted_safes: tuple[EncryptedSafe, ...]
    kdf_iterations: int
    """The iteration counts readable without the password (MAC, encrypted safes,
    key bags in plain safes), summed: the key derivation opening it asks for."""
    key_ids: tuple[str, ...] = ()
    """What its password is tested on (`npki.keyid`): each encrypted safe and the
    first shrouded key bag of its plain safes."""


@guarded
def open_pfx(
    data: bytes, password: bytes | None, *, limits: Limits = DEFAULT_LIMITS
) -> OpenedCertificate:
    """Open a PFX: its certificate and key, the key proven to be the certificate's."""
    return open_checked_pfx(check_pfx(data, limits), password, limits)


def check_pfx(data: bytes, limits: Limits) -> CheckedPfx:
    """Walk the unencrypted layers of a PFX and check every count in them; derives nothing."""
    if len(data) > limits.upload_bytes:
        raise UnsafeInput(Reason.PFX_TOO_LARGE, limit=limits.upload_bytes)
    pfx = _asn1.decode(data, _asn1.PFX())
    if int(pfx["version"]) != PFX_VERSION:
        raise MalformedInput(Reason.NOT_PFX)
    iterations = 0
    if pfx["macData"].isValue:
        iterations += check_kdf_iterations(int(pfx["macData"]["iterations"]), limits, PFX)
    auth_safe = pfx["authSafe"]
    if str(auth_safe["contentType"]) != _asn1.OID_PKCS7_DATA:
        raise UnsupportedFormat(Reason.PFX_SIGNED)
    safes = _decode_safes(_data_content(auth_safe))
    encrypted: list[EncryptedSafe] = []
    key_bags: list[bytes] = []
    for content_info in safes:
        kind = str(content_info["contentType"])
        if kind == _asn1.OID_PKCS7_DATA:
            bags = _decode_bags(_data_content(content_info))
            iterations += _check_bags(bags, limits)
            key_bags.extend(_shrouded_keys(bags))
        elif kind == _asn1.OID_PKCS7_ENCRYPTED_DATA:
            safe = _encrypted_safe(content_info, limits)
            encrypted.append(safe)
            iterations += safe.iterations or 0
        else:
            raise UnsupportedFormat(Reason.PFX_LAYOUT_UNSUPPORTED)
    check_kdf_budget(iterations, limits, Reason.PFX_TOTAL_ROUNDS_OVER_LIMIT)
    tested = [safe.payload for safe in encrypted] + key_bags[:1]
    if not tested and pfx["macData"].isValue:  # only the MAC tests the password
        tested = [bytes(pfx["macData"]["mac"].asOctets())]
    key_ids = tuple(dict.fromkeys(ciphertext_id(ciphertext) for ciphertext in tested))
    return CheckedPfx(data, tuple(encrypted), iterations, key_ids)


def open_checked_pfx(pfx: CheckedPfx, password: bytes | None, limits: Limits) -> OpenedCertificate:
    """Open a checked PFX: check the key bags inside its encrypted safes, then load it."""
    if password is None:
        raise PasswordRequired()
    text = _password_text(password)
    if text is None:
        raise WrongPassword()  # no PFX can be encrypted under it
    hidden = sum(_check_bags(_decrypt_safe(s, password, text), limits) for s in pfx.encrypted_safes)
    # key bags seen only now
    check_kdf_budget(pfx.kdf_iterations + hidden, limits, Reason.PFX_TOTAL_ROUNDS_OVER_LIMIT)
    try:
        with tolerating_nonpositive_serials():
            key, cert, _chain = pkcs12.load_key_and_certificates(pfx.data, password)
    except ValueError as err:
        # The structure parsed above, so a failure here is the MAC or a decryption.
        raise WrongPassword() from err
    if key is None or cert is None:
        raise MalformedInput(Reason.PFX_INCOMPLETE)
    private_key_info = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    certificate = parse_certificate(cert.public_bytes(serialization.Encoding.DER), limits)
    private_key = load_private_key(private_key_info, limits)
    check_key_matches(private_key, certificate.public_key())
    return OpenedCertificate(
        certificate=certificate,
        private_key=private_key,
        key_file=KeyFile(KeyEncryption.PKCS12, None),
        random_num=None,
        private_key_info=private_key_info,
    )


@guarded
def export_pfx(
    opened: OpenedCertificate, password: bytes, *, iterations: int = EXPORT_ITERATIONS
) -> bytes:
    """A PFX of `opened` under `password`: AES-256-CBC, PBKDF2-HMAC-SHA256, SHA-256 MAC."""
    if _password_text(password) is None:
        raise MalformedInput(Reason.PFX_PASSWORD_NOT_TEXT)
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(iterations)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(password)
    )
    return pkcs12.serialize_key_and_certificates(
        name=opened.certificate.holder.encode() or None,
        key=opened.private_key,
        cert=opened.certificate.x509,
        cas=None,
        encryption_algorithm=encryption,
    )


def looks_like_pfx(data: bytes) -> bool:
    """Whether `data` has the outer shape of a PFX (a cheap sniff, no limits applied)."""
    try:
        pfx = _asn1.decode(data, _asn1.PFX())
    except MalformedInput:
        return False
    return int(pfx["version"]) == PFX_VERSION


def _password_text(password: bytes) -> str | None:
    """`password` as text, or None when no PFX can be encrypted under it.

    PKCS#12 feeds the password to its KDF as UTF-16 text (RFC 7292 B.1) and
    OpenSSL takes it as a C string: bytes that are not UTF-8, or a NUL, have
    no place in either.
    """
    if b"\x00" in password:
        return None
    try:
        return password.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _encrypted_safe(content_info: Any, limits: Limits) -> EncryptedSafe:
    """The encryption parameters and ciphertext of a pkcs7-encryptedData safe, counts checked."""
    encrypted = _asn1.decode(_explicit_content(content_info), _asn1.EncryptedData())
    info = encrypted["encryptedContentInfo"]
    if not info["encryptedContent"].isValue:
        raise MalformedInput(Reason.PFX_DAMAGED)
    payload = bytes(info["encryptedContent"])
    algorithm = info["contentEncryptionAlgorithm"]
    oid = str(algorithm["algorithm"])
    params = _asn1.parameters_of(algorithm)
    if oid == _asn1.OID_PBES2:
        return parse_pbes2(params, payload, limits, PFX)
    return parse_pkcs12_pbe(oid, params, payload, limits)  # refuses any other scheme


def _decrypt_safe(safe: EncryptedSafe, password: bytes, text: str) -> Any:
    """The SafeContents inside an encrypted safe; `WrongPassword` when it does not decrypt."""
    if isinstance(safe, KeyFile):
        plain = decrypt_payload(safe, password)
    else:
        plain = decrypt_pkcs12_pbe(safe, bmp_password(text))
    try:
        return _decode_bags(plain, exact=True)
    except MalformedInput as err:
        raise WrongPassword() from err


def _explicit_content(content_info: Any) -> bytes:
    if not content_info["content"].isValue:
        raise MalformedInput()
    return bytes(content_info["content"].asOctets())


def _data_content(content_info: Any) -> bytes:
    """The octets of a pkcs7-data ContentInfo (an OCTET STRING inside [0])."""
    octets = _asn1.decode(_explicit_content(content_info), univ.OctetString())
    return bytes(octets)


def _decode_safes(data: bytes) -> Any:
    """The AuthenticatedSafe, its size checked before pyasn1 spends time on each safe."""
    count = _der.count_children(data)
    if count > _MAX_SAFES:
        raise UnsafeInput(Reason.PFX_TOO_MANY_SAFES, count=count, limit=_MAX_SAFES)
    return _asn1.decode(data, _asn1.AuthenticatedSafe())


def _decode_bags(data: bytes, *, exact: bool = False) -> Any:
    """One SafeContents, its size checked before pyasn1 spends time on each bag;
    `exact` refuses trailing bytes (a decrypted safe has none)."""
    count = _der.count_children(data)
    if count > _MAX_BAGS:
        raise UnsafeInput(Reason.PFX_TOO_MANY_BAGS, count=count, limit=_MAX_BAGS)
    return (_asn1.decode_exact if exact else _asn1.decode)(data, _asn1.SafeContents())


def _check_bags(bags: Any, limits: Limits) -> int:
    """Check one SafeContents; the iteration counts of its shrouded key bags, summed."""
    return sum(_check_bag(bag, limits) for bag in bags)


def _check_bag(bag: Any, limits: Limits) -> int:
    """Check one SafeBag: its iteration count if it is a shrouded key, else 0."""
    kind = str(bag["bagId"])
    if kind == _asn1.OID_PKCS12_SAFE_CONTENTS_BAG:
        raise UnsupportedFormat(Reason.PFX_NESTED_BAGS)
    if kind != _asn1.OID_PKCS12_SHROUDED_KEY_BAG:
        return 0
    envelope = _asn1.decode(bytes(bag["bagValue"].asOctets()), _asn1.EncryptedPrivateKeyInfo())
    return _check_algorithm(envelope["encryptionAlgorithm"], limits)


def _shrouded_keys(bags: Any) -> list[bytes]:
    """The ciphertexts of the shrouded key bags in one SafeContents, in order."""
    return [
        bytes(
            _asn1.decode(bytes(bag["bagValue"].asOctets()), _asn1.EncryptedPrivateKeyInfo())[
                "encryptedData"
            ]
        )
        for bag in bags
        if str(bag["bagId"]) == _asn1.OID_PKCS12_SHROUDED_KEY_BAG
    ]


def _check_algorithm(algorithm: Any, limits: Limits) -> int:
    """The checked iteration count of a shrouded key bag's PBES2 or PKCS#12 PBE algorithm.

    Only the count: OpenSSL decrypts key bags, and reads more PKCS#12 PBE
    schemes than `npki.pkcs12_pbe` does.
    """
    oid = str(algorithm["algorithm"])
    params = _asn1.parameters_of(algorithm)
    if oid == _asn1.OID_PBES2:
        pbes2 = _asn1.decode(params, _asn1.PBES2Params())
        kdf = _asn1.decode(_asn1.parameters_of(pbes2["keyDerivationFunc"]), _asn1.PBKDF2Params())
        return check_kdf_iterations(int(kdf["iterationCount"]), limits, PFX)
    if oid.startswith(_asn1.OID_PKCS12_PBE_PREFIX):
        pbe = _asn1.decode(params, _asn1.SaltAndIterations())
        return check_kdf_iterations(int(pbe["iterationCount"]), limits, PFX)
    raise _unsupported_encryption(oid)


def _unsupported_encryption(oid: str) -> UnsupportedFormat:
    return UnsupportedFormat(Reason.PFX_ENCRYPTION_UNSUPPORTED, oid=oid)
