"""ASN.1 shapes `npki` reads and writes, declared once for pyasn1.

PKCS#8 (RFC 5208/5958), PBES2/PBKDF2 (RFC 8018), the Korean SEED PBE
parameters, and the outer layers of PKCS#12 (RFC 7292) that we walk to find
iteration counts before letting anything derive a key.
"""

from __future__ import annotations

from typing import Any

from pyasn1.codec.der import decoder, encoder
from pyasn1.type import namedtype, tag, univ

from npki.errors import MalformedInput

# --- object identifiers -----------------------------------------------------

OID_SEED_CBC_WITH_SHA1 = "1.2.410.200004.1.15"
OID_SEED_CBC = "1.2.410.200004.1.4"
OID_PBES2 = "1.2.840.113549.1.5.13"
OID_PBKDF2 = "1.2.840.113549.1.5.12"
OID_HMAC_SHA1 = "1.2.840.113549.2.7"
OID_HMAC_SHA224 = "1.2.840.113549.2.8"
OID_HMAC_SHA256 = "1.2.840.113549.2.9"
OID_HMAC_SHA384 = "1.2.840.113549.2.10"
OID_HMAC_SHA512 = "1.2.840.113549.2.11"
OID_AES_128_CBC = "2.16.840.1.101.3.4.1.2"
OID_AES_192_CBC = "2.16.840.1.101.3.4.1.22"
OID_AES_256_CBC = "2.16.840.1.101.3.4.1.42"
OID_RANDOM_NUM = "1.2.410.200004.10.1.1.3"
OID_IDENTIFY_DATA = "1.2.410.200004.10.1.1"

OID_PKCS7_DATA = "1.2.840.113549.1.7.1"
OID_PKCS7_ENCRYPTED_DATA = "1.2.840.113549.1.7.6"
OID_PKCS12_PBE_PREFIX = "1.2.840.113549.1.12.1."
OID_PBE_SHA1_3DES = "1.2.840.113549.1.12.1.3"
OID_PBE_SHA1_2DES = "1.2.840.113549.1.12.1.4"
OID_PBE_SHA1_RC2_128 = "1.2.840.113549.1.12.1.5"
OID_PBE_SHA1_RC2_40 = "1.2.840.113549.1.12.1.6"
OID_PKCS12_SHROUDED_KEY_BAG = "1.2.840.113549.1.12.10.1.2"
OID_PKCS12_SAFE_CONTENTS_BAG = "1.2.840.113549.1.12.10.1.6"


# --- shapes -----------------------------------------------------------------


def _explicit(number: int) -> tag.Tag:
    return tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, number)


class AlgorithmIdentifier(univ.Sequence):  # type: ignore[misc]
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("algorithm", univ.ObjectIdentifier()),
        namedtype.OptionalNamedType("parameters", univ.Any()),
    )


class EncryptedPrivateKeyInfo(univ.Sequence):  # type: ignore[misc]
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("encryptionAlgorithm", AlgorithmIdentifier()),
        namedtype.NamedType("encryptedData", univ.OctetString()),
    )


class SaltAndIterations(univ.Sequence):  # type: ignore[misc]
    """Korean SEED PBE parameters, and PKCS#12 PBE parameters: the same shape."""

    componentType = namedtype.NamedTypes(
        namedtype.NamedType("salt", univ.OctetString()),
        namedtype.NamedType("iterationCount", univ.Integer()),
    )


class PBKDF2Params(univ.Sequence):  # type: ignore[misc]
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("salt", univ.OctetString()),
        namedtype.NamedType("iterationCount", univ.Integer()),
        namedtype.OptionalNamedType("keyLength", univ.Integer()),
        namedtype.OptionalNamedType("prf", AlgorithmIdentifier()),
    )


class PBES2Params(univ.Sequence):  # type: ignore[misc]
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("keyDerivationFunc", AlgorithmIdentifier()),
        namedtype.NamedType("encryptionScheme", AlgorithmIdentifier()),
    )


class Attribute(univ.Sequence):  # type: ignore[misc]
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("attrType", univ.ObjectIdentifier()),
        namedtype.NamedType("attrValues", univ.SetOf(componentType=univ.Any())),
    )


class PrivateKeyInfo(univ.Sequence):  # type: ignore[misc]
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("version", univ.Integer()),
        namedtype.NamedType("privateKeyAlgorithm", AlgorithmIdentifier()),
        namedtype.NamedType("privateKey", univ.OctetString()),
        namedtype.OptionalNamedType(
            "attributes",
            univ.SetOf(componentType=Attribute()).subtype(
                implicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, 0)
            ),
        ),
    )


class ContentInfo(univ.Sequence):  # type: ignore[misc]
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("contentType", univ.ObjectIdentifier()),
        namedtype.OptionalNamedType("content", univ.Any().subtype(explicitTag=_explicit(0))),
    )


class MacData(univ.Sequence):  # type: ignore[misc]
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("mac", univ.Any()),
        namedtype.NamedType("macSalt", univ.OctetString()),
        namedtype.DefaultedNamedType("iterations", univ.Integer(1)),
    )


class PFX(univ.Sequence):  # type: ignore[misc]
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("version", univ.Integer()),
        namedtype.NamedType("authSafe", ContentInfo()),
        namedtype.OptionalNamedType("macData", MacData()),
    )


class SafeBag(univ.Sequence):  # type: ignore[misc]
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("bagId", univ.ObjectIdentifier()),
        namedtype.NamedType("bagValue", univ.Any().subtype(explicitTag=_explicit(0))),
        namedtype.OptionalNamedType("bagAttributes", univ.SetOf(componentType=univ.Any())),
    )


class EncryptedContentInfo(univ.Sequence):  # type: ignore[misc]
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("contentType", univ.ObjectIdentifier()),
        namedtype.NamedType("contentEncryptionAlgorithm", AlgorithmIdentifier()),
        namedtype.OptionalNamedType(
            "encryptedContent",
            univ.OctetString().subtype(
                implicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatSimple, 0)
            ),
        ),
    )


class EncryptedData(univ.Sequence):  # type: ignore[misc]
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("version", univ.Integer()),
        namedtype.NamedType("encryptedContentInfo", EncryptedContentInfo()),
    )


class AuthenticatedSafe(univ.SequenceOf):  # type: ignore[misc]
    componentType = ContentInfo()


class SafeContents(univ.SequenceOf):  # type: ignore[misc]
    componentType = SafeBag()


# --- helpers ----------------------------------------------------------------


def decode(data: bytes, spec: Any) -> Any:
    """Decode DER `data` as `spec`, ignoring trailing bytes; `MalformedInput` on failure."""
    try:
        value, _rest = decoder.decode(bytes(data), asn1Spec=spec)
    except Exception as err:  # pyasn1 raises PyAsn1Error and, on odd input, others
        raise MalformedInput() from err
    return value


def decode_exact(data: bytes, spec: Any) -> Any:
    """Decode DER `data` as `spec`, refusing trailing bytes."""
    try:
        value, rest = decoder.decode(bytes(data), asn1Spec=spec)
    except Exception as err:  # pyasn1 raises PyAsn1Error and, on odd input, others
        raise MalformedInput() from err
    if rest:
        raise MalformedInput()
    return value


def encode(value: Any) -> bytes:
    """DER-encode a pyasn1 value."""
    return bytes(encoder.encode(value))


def algorithm(oid: str, parameters: bytes | None = None) -> AlgorithmIdentifier:
    """An AlgorithmIdentifier with already-encoded `parameters` (or none)."""
    value = AlgorithmIdentifier()
    value["algorithm"] = univ.ObjectIdentifier(oid)
    if parameters is not None:
        value["parameters"] = univ.Any(parameters)
    return value


def parameters_of(value: Any) -> bytes:
    """The encoded parameters of an AlgorithmIdentifier; `MalformedInput` when absent."""
    params = value["parameters"]
    if not params.isValue:
        raise MalformedInput()
    return bytes(params.asOctets())
