"""Proving a key belongs to its certificate, cheaply and without trusting the key."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

import npki
from tests import der, factory
from tests.conftest import Holder

PW = factory.PASSWORD


def _rsa_private_key_info(*numbers: int) -> bytes:
    """A PKCS#8 RSA key from raw (n, e, d, p, q, dP, dQ, qInv), consistent or not."""
    rsa_key = der.seq(*(der.integer(v) for v in (0, *numbers)))
    algorithm = der.seq(der.oid("1.2.840.113549.1.1.1"), der.null())
    return der.seq(der.integer(0), algorithm, der.octets(rsa_key))


def test_key_of_another_certificate_is_a_mismatch(holder: Holder, other_holder: Holder) -> None:
    """signPri.key from another folder does not open this signCert.der."""
    other_key = factory.seed_cbc_sha1_key(other_holder.plain, PW)
    with pytest.raises(npki.KeyMismatch):
        npki.open_pair(holder.cert_der, other_key, PW)


def test_same_modulus_with_a_wrong_private_exponent_is_refused(holder: Holder) -> None:
    """Public numbers alone are not proof: a key with the right n, e but a broken d fails."""
    numbers = holder.key.private_numbers()
    pub = numbers.public_numbers
    broken = _rsa_private_key_info(
        pub.n, pub.e, numbers.d + 2, numbers.p, numbers.q, numbers.dmp1, numbers.dmq1, numbers.iqmp
    )
    with pytest.raises((npki.MalformedInput, npki.KeyMismatch)):
        npki.open_pair(holder.cert_der, factory.seed_cbc_sha1_key(broken, PW), PW)


def test_inconsistent_crt_values_are_damaged_not_used(holder: Holder) -> None:
    """dP that does not agree with d is refused before OpenSSL ever signs with it."""
    numbers = holder.key.private_numbers()
    pub = numbers.public_numbers
    broken = _rsa_private_key_info(
        pub.n, pub.e, numbers.d, numbers.p, numbers.q, numbers.dmp1 + 2, numbers.dmq1, numbers.iqmp
    )
    with pytest.raises(npki.MalformedInput):
        npki.open_pair(holder.cert_der, factory.seed_cbc_sha1_key(broken, PW), PW)


def test_even_factors_are_refused(holder: Holder) -> None:
    """A hostile key with n = 2·(n/2) never reaches OpenSSL's modular arithmetic."""
    n = holder.key.public_key().public_numbers().n * 2
    broken = _rsa_private_key_info(n, 65537, 3, 2, n // 2, 1, 1, 1)
    with pytest.raises(npki.MalformedInput):
        npki.open_pair(holder.cert_der, broken, PW)


def test_rsa_key_over_the_size_limit_is_refused(holder: Holder) -> None:
    """Keys larger than the limit are refused (signing with them costs seconds)."""
    with pytest.raises(npki.UnsafeInput):
        npki.open_pair(holder.cert_der, holder.plain, PW, limits=npki.Limits(rsa_bits_max=512))


def test_ec_keys_are_matched_too(ca: factory.Authority, holder: Holder) -> None:
    """Not NPKI today, but an EC pair is checked the same way rather than refused."""
    key = ec.generate_private_key(ec.SECP256R1())
    other = ec.generate_private_key(ec.SECP256R1())
    ec_cert = (
        x509.CertificateBuilder()
        .subject_name(holder.cert.subject)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(5)
        .not_valid_before(holder.cert.not_valid_before_utc)
        .not_valid_after(holder.cert.not_valid_after_utc)
        .sign(ca.key, hashes.SHA256())
    )

    def key_file(k: ec.EllipticCurvePrivateKey) -> bytes:
        plain = k.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return factory.seed_cbc_sha1_key(plain, PW)

    cert_der = factory.cert_der(ec_cert)
    assert npki.open_pair(cert_der, key_file(key), PW).private_key.public_key() == key.public_key()
    with pytest.raises(npki.KeyMismatch):
        npki.open_pair(cert_der, key_file(other), PW)
    with pytest.raises(npki.KeyMismatch):
        npki.open_pair(holder.cert_der, key_file(key), PW)


def test_opening_skips_the_expensive_rsa_check() -> None:
    """Opening a 2048-bit pair costs far less than OpenSSL's ~30 ms primality check."""
    ca = factory.make_ca()
    key = factory.rsa_key(2048)
    cert_der = factory.cert_der(factory.make_cert(ca, key))
    key_file = factory.seed_cbc_sha1_key(factory.private_key_info(key), PW)
    plain = factory.private_key_info(key)

    def median_ms(action: Callable[[], object], runs: int) -> float:
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            action()
            samples.append(time.perf_counter() - started)
        return statistics.median(samples) * 1000

    ours = median_ms(lambda: npki.open_pair(cert_der, key_file, PW), 20)
    validating = median_ms(lambda: serialization.load_der_private_key(plain, None), 5)
    assert ours * 3 < validating, (ours, validating)
