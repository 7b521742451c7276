"""Who issued a certificate: its issuer's name, and whether a CA certificate's key signed it.

A certificate names its issuer, and anyone can write any name: only the
signature, checked with the CA certificate's public key, says the CA issued
it. The CA certificates come from the caller (an NPKI `CaPubs` file, or
ones an operator configured); this module only reads them and checks. The
algorithms are those `cryptography` verifies directly (RSA PKCS#1 v1.5, the
NPKI norm, with SHA-256; RSA-PSS; ECDSA; Ed25519).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from npki._der import first_element
from npki._guard import guarded
from npki.certificate import Certificate, folder_style, tolerating_nonpositive_serials
from npki.errors import MalformedInput, Reason, UnsafeInput
from npki.limits import DEFAULT_LIMITS, Limits

_PEM_MARKER = b"-----BEGIN"
_MAX_AUTHORITIES = 16
"""A CaPubs file holds a CA certificate or two; more is not a CaPubs file."""


class Signature(StrEnum):
    """What the CA certificates at hand say about a certificate's signature."""

    VERIFIED = "verified"
    """A CA certificate with the issuer's name verifies it."""
    FAILED = "failed"
    """CA certificates with the issuer's name are at hand, and none verifies it: forged."""
    UNKNOWN = "unknown"
    """No CA certificate with the issuer's name is at hand."""


def issuer_name(certificate: Certificate) -> str:
    """The issuer's name in the subject's folder style (`cn=…,ou=…,o=yessign,c=kr`)."""
    return folder_style(certificate.x509.issuer)


@guarded
def read_authorities(data: bytes, limits: Limits = DEFAULT_LIMITS) -> tuple[x509.Certificate, ...]:
    """The CA certificates in `data`: PEM, or one or more DER certificates one after another.

    Raises `MalformedInput` when `data` holds none or something else.
    """
    if len(data) > limits.upload_bytes:
        raise UnsafeInput(Reason.CA_TOO_LARGE, limit=limits.upload_bytes)
    try:
        with tolerating_nonpositive_serials():
            if data.lstrip()[: len(_PEM_MARKER)] == _PEM_MARKER:
                found = tuple(x509.load_pem_x509_certificates(data))
            else:
                found = _der_sequence(data)
    except ValueError as err:
        raise MalformedInput(Reason.NOT_CA_CERTIFICATE) from err
    if not found or len(found) > _MAX_AUTHORITIES:
        raise MalformedInput(Reason.NOT_CA_CERTIFICATE)
    return found


def _der_sequence(data: bytes) -> tuple[x509.Certificate, ...]:
    found: list[x509.Certificate] = []
    rest = data
    while rest.strip(b"\x00") and len(found) <= _MAX_AUTHORITIES:
        element = first_element(rest)
        found.append(x509.load_der_x509_certificate(element))
        rest = rest[len(element) :]
    return tuple(found)


def signed_by(certificate: x509.Certificate, authority: x509.Certificate) -> bool:
    """Whether `authority` names `certificate`'s issuer and its key made the signature."""
    try:
        certificate.verify_directly_issued_by(authority)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def check_signature(certificate: Certificate, authorities: Iterable[x509.Certificate]) -> Signature:
    """Check `certificate` against the CA certificates named as its issuer."""
    named = [a for a in authorities if a.subject == certificate.x509.issuer]
    if not named:
        return Signature.UNKNOWN
    if any(signed_by(certificate.x509, authority) for authority in named):
        return Signature.VERIFIED
    return Signature.FAILED
