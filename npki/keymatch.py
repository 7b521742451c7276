"""Load a decrypted private key and prove it belongs to its certificate.

OpenSSL's RSA key check (what `RSAPrivateNumbers.private_key()` and a
validating load run) tests p and q for primality: ~30 ms per 2048-bit key,
the whole cost of opening a certificate in PyPinkSign. We load without it
and instead check what matters here, cheaply:

1. the public numbers equal the certificate's (n, e);
2. the CRT values are consistent (p·q = n, both odd; d, dP, dQ, qInv agree),
   so the key is well-formed enough to hand to OpenSSL;
3. a probe signed with the key verifies under the certificate's public key.

Step 3 is the proof: a key that signs what the certificate verifies is that
certificate's key, whatever the primality of its factors.
"""

from __future__ import annotations

from typing import Final

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
)

from npki.errors import KeyMismatch, MalformedInput, Reason, UnsafeInput, UnsupportedFormat
from npki.limits import Limits

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

_PROBE: Final = b"certmate: does this key belong to this certificate?"


def load_private_key(private_key_info: bytes, limits: Limits) -> SigningKey:
    """The key inside a plaintext PrivateKeyInfo, loaded without OpenSSL's primality check.

    Only safe together with `check_key_matches`, which must run before the
    key is used for anything else.
    """
    try:
        key: PrivateKeyTypes = serialization.load_der_private_key(
            private_key_info, None, unsafe_skip_rsa_key_validation=True
        )
    except UnsupportedAlgorithm as err:
        raise UnsupportedFormat(Reason.KEY_TYPE_UNSUPPORTED) from err
    except (ValueError, TypeError) as err:
        raise MalformedInput(Reason.KEY_DAMAGED) from err
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size > limits.rsa_bits_max:
            raise UnsafeInput(Reason.RSA_KEY_TOO_LARGE, limit=limits.rsa_bits_max)
        _check_rsa_consistency(key.private_numbers())
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key
    raise UnsupportedFormat(Reason.KEY_TYPE_UNSUPPORTED)


def check_key_matches(key: SigningKey, certificate_key: CertificatePublicKeyTypes) -> None:
    """Raise `KeyMismatch` unless `key` is the private half of `certificate_key`."""
    if isinstance(key, rsa.RSAPrivateKey):
        if not isinstance(certificate_key, rsa.RSAPublicKey):
            raise KeyMismatch()
        if key.public_key().public_numbers() != certificate_key.public_numbers():
            raise KeyMismatch()
        signature = key.sign(_PROBE, padding.PKCS1v15(), hashes.SHA256())
        try:
            certificate_key.verify(signature, _PROBE, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as err:
            raise KeyMismatch() from err
        return
    if not isinstance(certificate_key, ec.EllipticCurvePublicKey):
        raise KeyMismatch()
    if key.public_key() != certificate_key:
        raise KeyMismatch()
    signature = key.sign(_PROBE, ec.ECDSA(hashes.SHA256()))
    try:
        certificate_key.verify(signature, _PROBE, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as err:
        raise KeyMismatch() from err


def _check_rsa_consistency(numbers: rsa.RSAPrivateNumbers) -> None:
    """Cheap arithmetic checks that keep a hostile key from confusing OpenSSL."""
    n = numbers.public_numbers.n
    e = numbers.public_numbers.e
    p, q, d = numbers.p, numbers.q, numbers.d
    consistent = (
        p > 2
        and q > 2
        and p % 2 == 1
        and q % 2 == 1
        and p * q == n
        and e > 2
        and 1 < d < n
        and (e * d) % (p - 1) == 1
        and (e * d) % (q - 1) == 1
        and numbers.dmp1 == d % (p - 1)
        and numbers.dmq1 == d % (q - 1)
        and (numbers.iqmp * q) % p == 1
    )
    if not consistent:
        raise MalformedInput(Reason.KEY_DAMAGED)
