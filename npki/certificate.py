"""Certificates (`signCert.der`, PEM or DER): the facts certmate shows and keeps."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

from npki import _asn1
from npki._der import check_trailing, first_element_within
from npki.errors import MalformedInput, Reason, UnsafeInput
from npki.limits import DEFAULT_LIMITS, Limits
from npki.policies import CaCode, HolderType, Policy, Usage, ca_from_organization, policy_for

_PEM_MARKER = b"-----BEGIN"
_PEM_END = b"-----END"
_TRAILING = Reason.CERTIFICATE_TRAILING_DATA
_NONPOSITIVE_SERIAL_WARNING = "Parsed a serial number which wasn't positive"


@dataclass(frozen=True, slots=True)
class Certificate:
    """One X.509 certificate, read."""

    der: bytes = field(repr=False)
    subject: str
    """NPKI folder style: most specific first, lowercase names, no spaces after commas."""
    holder: str
    """The CN before its first `(`."""
    issuer_organization: str | None
    ca: CaCode
    policy_oid: str | None
    policy: Policy | None
    usage: Usage
    holder_type: HolderType
    serial: str
    """Lowercase hex, no separators; a negative serial as its DER two's-complement octets."""
    not_before: datetime
    not_after: datetime
    fingerprint_sha256: str
    has_identify_data: bool
    """Whether subjectAltName carries the Korean identifyData (real name, VID)."""
    is_signing: bool
    """False for an encryption-only (km) certificate."""
    x509: x509.Certificate = field(repr=False, compare=False)

    def public_key(self) -> CertificatePublicKeyTypes:
        return self.x509.public_key()


def parse_certificate(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Certificate:
    """Read a DER or PEM certificate; `MalformedInput` if it is not one."""
    if len(data) > limits.upload_bytes:
        raise UnsafeInput(Reason.CERTIFICATE_TOO_LARGE, limit=limits.upload_bytes)
    try:
        with tolerating_nonpositive_serials():
            if data.lstrip()[: len(_PEM_MARKER)] == _PEM_MARKER:
                cert = x509.load_pem_x509_certificate(data)
                check_trailing(_pem_trailing(data), limits.trailing_bytes, _TRAILING)
            else:
                der = first_element_within(data, limits.trailing_bytes, _TRAILING)
                cert = x509.load_der_x509_certificate(der)
            return _facts(cert)
    except (MalformedInput, UnsafeInput):
        raise
    except (
        ValueError,
        x509.InvalidVersion,
        x509.DuplicateExtension,
        x509.UnsupportedGeneralNameType,
    ) as err:
        raise MalformedInput(Reason.NOT_CERTIFICATE) from err


def _pem_trailing(data: bytes) -> int:
    """How many bytes follow the first PEM block's END line (whitespace aside)."""
    end = data.find(_PEM_END)
    if end < 0:
        return 0
    line_end = data.find(b"-----", end + len(_PEM_END))
    rest = data[line_end + 5 :] if line_end >= 0 else b""
    return len(rest.strip())


@contextmanager
def tolerating_nonpositive_serials() -> Iterator[None]:
    """Silence cryptography's warning about a zero or negative serial number, and only that.

    RFC 5280 forbids such serials but CAs have issued them; cryptography still
    reads them, warning when it loads the certificate and again when the serial
    is read. A certificate we can read is not the user's problem, and a warning
    made an error (`-W error`, pytest) would turn it into an unreadable file.
    (`catch_warnings` is process-wide state: safe while one thread reads at a time.)
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", _NONPOSITIVE_SERIAL_WARNING, CryptographyDeprecationWarning
        )
        yield


def _serial_hex(serial: int) -> str:
    """`serial` in lowercase hex; a negative one as the two's-complement octets DER holds.

    -1 is "ff", -0x1a is "e6", 0x1a2b3c is "1a2b3c": always hex digits, never a sign.
    """
    if serial >= 0:
        return format(serial, "x")
    size = (~serial).bit_length() // 8 + 1  # the fewest octets whose top bit is the sign
    return serial.to_bytes(size, "big", signed=True).hex()


def _facts(cert: x509.Certificate) -> Certificate:
    """Everything we report, read eagerly so that a lazy parse error surfaces here."""
    policy_oids = _policy_oids(cert)
    policy = policy_for(policy_oids)
    organization = _first(cert.issuer, NameOID.ORGANIZATION_NAME)
    cn = _first(cert.subject, NameOID.COMMON_NAME) or ""
    der = cert.public_bytes(serialization.Encoding.DER)
    return Certificate(
        der=der,
        subject=folder_style(cert.subject),
        holder=cn.split("(", 1)[0].strip(),
        issuer_organization=organization,
        ca=policy.ca if policy else ca_from_organization(organization),
        policy_oid=policy.oid if policy else (policy_oids[0] if policy_oids else None),
        policy=policy,
        usage=policy.usage if policy else "unknown",
        holder_type=policy.holder_type if policy else "unknown",
        serial=_serial_hex(cert.serial_number),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex(),
        has_identify_data=_has_identify_data(cert),
        is_signing=_is_signing(cert, policy),
        x509=cert,
    )


def folder_style(name: x509.Name) -> str:
    """`cn=…,ou=…,o=yessign,c=kr`: the way NPKI names a certificate's folder."""
    rdns = []
    for rdn in reversed(name.rdns):
        parts = []
        for attribute in rdn:
            value = attribute.value
            text = value.hex() if isinstance(value, bytes) else value
            parts.append(f"{attribute.rfc4514_attribute_name.lower()}={text}")
        rdns.append("+".join(parts))
    return ",".join(rdns)


def _first(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    """The most specific value of `oid` in `name`."""
    values = name.get_attributes_for_oid(oid)
    if not values:
        return None
    value = values[-1].value
    return value.hex() if isinstance(value, bytes) else value


def _policy_oids(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(p.policy_identifier.dotted_string for p in policies)


def _has_identify_data(cert: x509.Certificate) -> bool:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return any(
        other.type_id.dotted_string == _asn1.OID_IDENTIFY_DATA
        for other in san.get_values_for_type(x509.OtherName)
    )


def _is_signing(cert: x509.Certificate, policy: Policy | None) -> bool:
    if policy is not None and policy.usage == "encryption":
        return False
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return usage.digital_signature or usage.content_commitment
