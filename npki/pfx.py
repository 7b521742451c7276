"""PKCS#12 (`.pfx`, `.p12`): open one, and write one for iPhone and Mac.

`cryptography` opens SEED, 3DES and AES PFX files, but derives keys with
whatever iteration count the file names. A hostile file could ask for
billions, so the outer layers are walked first (PFX → AuthenticatedSafe →
SafeContents) and every count checked against the limit before it is
handed over. `cryptography` drops PKCS#8 attributes: a key read from a PFX
has no randomNum.
"""

from __future__ import annotations

from typing import Any, Final

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from pyasn1.type import univ

from npki import _asn1
from npki._guard import guarded
from npki.certificate import parse_certificate
from npki.errors import (
    MalformedInput,
    PasswordRequired,
    UnsafeInput,
    UnsupportedFormat,
    WrongPassword,
)
from npki.keyfile import KeyEncryption, KeyFile
from npki.keymatch import check_key_matches, load_private_key
from npki.limits import DEFAULT_LIMITS, Limits, check_kdf_iterations
from npki.pair import OpenedCertificate

PFX_VERSION: Final = 3
EXPORT_ITERATIONS: Final = 50_000
"""PBKDF2 rounds of exported PFX files: a user-chosen password deserves many."""
_MAX_BAGS: Final = 64


@guarded
def open_pfx(
    data: bytes, password: bytes | None, *, limits: Limits = DEFAULT_LIMITS
) -> OpenedCertificate:
    """Open a PFX: its certificate and key, the key proven to be the certificate's."""
    if len(data) > limits.upload_bytes:
        raise UnsafeInput("The PFX file is too large.", "PFX 파일이 너무 큽니다.")
    check_pfx_structure(data, limits)
    if password is None:
        raise PasswordRequired()
    try:
        key, cert, _chain = pkcs12.load_key_and_certificates(data, password)
    except ValueError as err:
        # The structure parsed above, so a failure here is the MAC or a decryption.
        raise WrongPassword() from err
    if key is None or cert is None:
        raise MalformedInput(
            "The PFX file does not hold both a certificate and its private key.",
            "PFX 파일에 인증서와 개인키가 함께 들어 있지 않습니다.",
        )
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


def check_pfx_structure(data: bytes, limits: Limits) -> None:
    """Walk the unencrypted layers of a PFX and check every iteration count."""
    pfx = _asn1.decode(data, _asn1.PFX())
    if int(pfx["version"]) != PFX_VERSION:
        raise MalformedInput("This is not a PFX file.", "PFX 파일이 아닙니다.")
    if pfx["macData"].isValue:
        check_kdf_iterations(int(pfx["macData"]["iterations"]), limits, "PFX")
    auth_safe = pfx["authSafe"]
    if str(auth_safe["contentType"]) != _asn1.OID_PKCS7_DATA:
        raise UnsupportedFormat(
            "PFX files signed with a public key are not supported.",
            "공개키로 서명된 PFX 파일은 지원하지 않습니다.",
        )
    safes = _asn1.decode(_data_content(auth_safe), _asn1.AuthenticatedSafe())
    for content_info in safes:
        kind = str(content_info["contentType"])
        if kind == _asn1.OID_PKCS7_DATA:
            bags = _asn1.decode(_data_content(content_info), _asn1.SafeContents())
            if len(bags) > _MAX_BAGS:
                raise UnsafeInput()
            for bag in bags:
                _check_bag(bag, limits)
        elif kind == _asn1.OID_PKCS7_ENCRYPTED_DATA:
            encrypted = _asn1.decode(_explicit_content(content_info), _asn1.EncryptedData())
            algorithm = encrypted["encryptedContentInfo"]["contentEncryptionAlgorithm"]
            _check_algorithm(algorithm, limits)
        else:
            raise UnsupportedFormat(
                "This PFX uses a layout that is not supported.",
                "지원하지 않는 구조의 PFX 파일입니다.",
            )


def _explicit_content(content_info: Any) -> bytes:
    if not content_info["content"].isValue:
        raise MalformedInput()
    return bytes(content_info["content"].asOctets())


def _data_content(content_info: Any) -> bytes:
    """The octets of a pkcs7-data ContentInfo (an OCTET STRING inside [0])."""
    octets = _asn1.decode(_explicit_content(content_info), univ.OctetString())
    return bytes(octets)


def _check_bag(bag: Any, limits: Limits) -> None:
    kind = str(bag["bagId"])
    if kind == _asn1.OID_PKCS12_SAFE_CONTENTS_BAG:
        raise UnsupportedFormat(
            "Nested PFX bags are not supported.", "중첩된 PFX 구조는 지원하지 않습니다."
        )
    if kind == _asn1.OID_PKCS12_SHROUDED_KEY_BAG:
        envelope = _asn1.decode(bytes(bag["bagValue"].asOctets()), _asn1.EncryptedPrivateKeyInfo())
        _check_algorithm(envelope["encryptionAlgorithm"], limits)


def _check_algorithm(algorithm: Any, limits: Limits) -> None:
    """Check the iteration count of a PBES2 or PKCS#12 PBE AlgorithmIdentifier."""
    oid = str(algorithm["algorithm"])
    params = _asn1.parameters_of(algorithm)
    if oid == _asn1.OID_PBES2:
        pbes2 = _asn1.decode(params, _asn1.PBES2Params())
        kdf = _asn1.decode(_asn1.parameters_of(pbes2["keyDerivationFunc"]), _asn1.PBKDF2Params())
        check_kdf_iterations(int(kdf["iterationCount"]), limits, "PFX")
    elif oid.startswith(_asn1.OID_PKCS12_PBE_PREFIX):
        pbe = _asn1.decode(params, _asn1.SaltAndIterations())
        check_kdf_iterations(int(pbe["iterationCount"]), limits, "PFX")
    else:
        raise UnsupportedFormat(
            f"The PFX uses an unsupported encryption ({oid}).",
            f"지원하지 않는 PFX 암호화 방식입니다({oid}).",
        )
