"""What hides inside a PFX's encrypted safes is checked before OpenSSL derives anything.

The files here are built by hand (DER from `tests.der`), their safes encrypted
with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) or PKCS#12 PBE (3DES), so that a
key bag can sit inside an encrypted safe, which `openssl pkcs12` never writes.
OpenSSL's loader is replaced by a tripwire wherever a refusal must come first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

import npki
from npki.pkcs12_pbe import bmp_password, pkcs12_kdf
from tests import der, factory
from tests.conftest import Holder

PASSWORD = factory.PASSWORD
LIMITS = npki.Limits(kdf_iterations_max=5000)
OID_PKCS7_DATA = "1.2.840.113549.1.7.1"
OID_PKCS7_ENCRYPTED_DATA = "1.2.840.113549.1.7.6"
OID_PBE_SHA1_3DES = "1.2.840.113549.1.12.1.3"
OID_SHROUDED_KEY_BAG = "1.2.840.113549.1.12.10.1.2"
OID_CERT_BAG = "1.2.840.113549.1.12.10.1.3"
OID_SAFE_CONTENTS_BAG = "1.2.840.113549.1.12.10.1.6"
OID_X509_CERTIFICATE = "1.2.840.113549.1.9.22.1"

Encrypt = Callable[[bytes, bytes, int], tuple[bytes, bytes]]


def _pad(plain: bytes, block_bits: int) -> bytes:
    padder = padding.PKCS7(block_bits).padder()
    return padder.update(plain) + padder.finalize()


def pbes2_aes(password: bytes, plain: bytes, iterations: int) -> tuple[bytes, bytes]:
    """(AlgorithmIdentifier, ciphertext): PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC."""
    salt, iv = bytes(8), bytes(range(16))
    key = PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(password)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(_pad(plain, 128)) + encryptor.finalize()
    kdf = der.seq(
        der.octets(salt),
        der.integer(iterations),
        der.seq(der.oid(factory.OID_HMAC_SHA256), der.null()),
    )
    algorithm = der.seq(
        der.oid(factory.OID_PBES2),
        der.seq(
            der.seq(der.oid(factory.OID_PBKDF2), kdf),
            der.seq(der.oid(factory.AES_CBC[32]), der.octets(iv)),
        ),
    )
    return algorithm, ciphertext


def pbe_3des(password: bytes, plain: bytes, iterations: int) -> tuple[bytes, bytes]:
    """(AlgorithmIdentifier, ciphertext): pbeWithSHAAnd3-KeyTripleDES-CBC.

    The KDF is npki's, checked against published vectors in test_pkcs12_pbe.
    """
    salt, text = bytes(range(8)), bmp_password(password.decode())
    key = pkcs12_kdf(text, salt, iterations, 1, 24)
    iv = pkcs12_kdf(text, salt, iterations, 2, 8)
    encryptor = Cipher(TripleDES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(_pad(plain, 64)) + encryptor.finalize()
    algorithm = der.seq(
        der.oid(OID_PBE_SHA1_3DES), der.seq(der.octets(salt), der.integer(iterations))
    )
    return algorithm, ciphertext


SAFE_CIPHERS: dict[str, Encrypt] = {"pbes2-aes": pbes2_aes, "pbe-3des": pbe_3des}


def encrypted_safe(encrypt: Encrypt, safe_contents: bytes, iterations: int = 1000) -> bytes:
    """A pkcs7-encryptedData ContentInfo holding `safe_contents` under PASSWORD."""
    algorithm, ciphertext = encrypt(PASSWORD, safe_contents, iterations)
    content = der.seq(der.oid(OID_PKCS7_DATA), algorithm, der.tlv(0x80, ciphertext))
    return der.seq(
        der.oid(OID_PKCS7_ENCRYPTED_DATA), der.context(0, der.seq(der.integer(0), content))
    )


def plain_safe(safe_contents: bytes) -> bytes:
    return der.seq(der.oid(OID_PKCS7_DATA), der.context(0, der.octets(safe_contents)))


def cert_bag(holder: Holder) -> bytes:
    value = der.seq(der.oid(OID_X509_CERTIFICATE), der.context(0, der.octets(holder.cert_der)))
    return der.seq(der.oid(OID_CERT_BAG), der.context(0, value))


def key_bag(holder: Holder, iterations: int) -> bytes:
    algorithm, ciphertext = pbes2_aes(PASSWORD, holder.plain, iterations)
    envelope = der.seq(algorithm, der.octets(ciphertext))
    return der.seq(der.oid(OID_SHROUDED_KEY_BAG), der.context(0, envelope))


def pfx(*safes: bytes) -> bytes:
    """A PFX without a MAC (OpenSSL opens these) over the given ContentInfos."""
    auth_safe = der.seq(*safes)
    return der.seq(der.integer(3), plain_safe(auth_safe))


@pytest.fixture
def openssl_must_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the file reaches cryptography's PKCS#12 loader."""

    def tripwire(*_args: Any, **_kwargs: Any) -> Any:
        pytest.fail("the PFX reached OpenSSL before it was refused")

    monkeypatch.setattr("npki.pfx.pkcs12.load_key_and_certificates", tripwire)


@pytest.mark.parametrize("cipher", sorted(SAFE_CIPHERS))
def test_key_bag_inside_an_encrypted_safe_opens(holder: Holder, cipher: str) -> None:
    """The shape itself is fine: certificate and key bags in one encrypted safe open."""
    data = pfx(
        encrypted_safe(SAFE_CIPHERS[cipher], der.seq(cert_bag(holder), key_bag(holder, 5000)))
    )
    opened = npki.open_pfx(data, PASSWORD, limits=LIMITS)
    assert opened.certificate.der == holder.cert_der


@pytest.mark.usefixtures("openssl_must_not_run")
@pytest.mark.parametrize("cipher", sorted(SAFE_CIPHERS))
def test_key_bag_over_the_limit_inside_an_encrypted_safe_is_refused(
    holder: Holder, cipher: str
) -> None:
    """A key bag asking for more rounds than the limit is UnsafeInput before OpenSSL sees it."""
    bags = der.seq(cert_bag(holder), key_bag(holder, 5001))
    with pytest.raises(npki.UnsafeInput):
        npki.open_pfx(pfx(encrypted_safe(SAFE_CIPHERS[cipher], bags)), PASSWORD, limits=LIMITS)


@pytest.mark.usefixtures("openssl_must_not_run")
@pytest.mark.parametrize("cipher", sorted(SAFE_CIPHERS))
def test_nested_safe_contents_inside_an_encrypted_safe_is_refused(
    holder: Holder, cipher: str
) -> None:
    """A safeContentsBag is refused inside an encrypted safe as it is outside one."""
    nested = der.seq(der.oid(OID_SAFE_CONTENTS_BAG), der.context(0, der.seq(cert_bag(holder))))
    data = pfx(encrypted_safe(SAFE_CIPHERS[cipher], der.seq(nested)))
    with pytest.raises(npki.UnsupportedFormat):
        npki.open_pfx(data, PASSWORD)


@pytest.mark.usefixtures("openssl_must_not_run")
def test_too_many_bags_inside_an_encrypted_safe_are_refused(holder: Holder) -> None:
    """The bag bound holds inside encrypted safes too."""
    data = pfx(encrypted_safe(pbe_3des, der.seq(*[cert_bag(holder)] * 65)))
    with pytest.raises(npki.UnsafeInput):
        npki.open_pfx(data, PASSWORD)


@pytest.mark.usefixtures("openssl_must_not_run")
@pytest.mark.parametrize("cipher", sorted(SAFE_CIPHERS))
def test_safe_that_does_not_decrypt_to_safe_contents_is_a_wrong_password(cipher: str) -> None:
    """Good padding but no SafeContents inside is what a wrong password looks like."""
    data = pfx(encrypted_safe(SAFE_CIPHERS[cipher], b"\x04\x03not safe contents"))
    with pytest.raises(npki.WrongPassword):
        npki.open_pfx(data, PASSWORD)


@pytest.mark.usefixtures("openssl_must_not_run")
@pytest.mark.parametrize("cipher", sorted(SAFE_CIPHERS))
def test_wrong_password_fails_at_the_safe(holder: Holder, cipher: str) -> None:
    """A wrong password is WrongPassword, found by our decryption before OpenSSL's."""
    data = pfx(encrypted_safe(SAFE_CIPHERS[cipher], der.seq(cert_bag(holder))))
    with pytest.raises(npki.WrongPassword):
        npki.open_pfx(data, PASSWORD + b"x")


def test_without_a_password_nothing_is_decrypted(
    holder: Holder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No password: PasswordRequired after the visible checks, with no decryption tried."""
    monkeypatch.setattr("npki.pfx.decrypt_payload", None)
    monkeypatch.setattr("npki.pfx.decrypt_pkcs12_pbe", None)
    data = pfx(encrypted_safe(pbes2_aes, der.seq(cert_bag(holder))))
    with pytest.raises(npki.PasswordRequired):
        npki.open_pfx(data, None)
    with pytest.raises(npki.UnsafeInput):  # the visible count still comes first
        npki.open_pfx(data, None, limits=npki.Limits(kdf_iterations_max=999))


def test_safe_encrypted_with_a_scheme_we_cannot_decrypt_is_unsupported(holder: Holder) -> None:
    """An RC4 certificate safe cannot be looked into, so it is not handed to OpenSSL either."""
    data = factory.openssl_pkcs12(
        holder.key, holder.cert, "pw", "-legacy", "-certpbe", "PBE-SHA1-RC4-128"
    )
    with pytest.raises(npki.UnsupportedFormat):
        npki.open_pfx(data, b"pw")


def test_eight_safes_are_allowed_nine_are_not(holder: Holder) -> None:
    """The bound on safes leaves room for real files (two) and then some."""
    bags = plain_safe(der.seq(cert_bag(holder), key_bag(holder, 1)))
    empty = encrypted_safe(pbe_3des, der.seq(), 1)
    opened = npki.open_pfx(pfx(bags, *[empty] * 7), PASSWORD)
    assert opened.certificate.der == holder.cert_der
    with pytest.raises(npki.UnsafeInput):
        npki.open_pfx(pfx(bags, *[empty] * 8), PASSWORD)


def test_a_thousand_safes_are_refused_before_any_is_decoded(holder: Holder) -> None:
    """A PFX listing 1000 encrypted safes is UnsafeInput at once: the safes are counted
    from the DER headers, before a decoder spends time on each."""
    bags = plain_safe(der.seq(cert_bag(holder), key_bag(holder, 1)))
    empty = encrypted_safe(pbes2_aes, der.seq(), 1)
    hostile = pfx(bags, *[empty] * 1000)
    started = time.perf_counter()
    with pytest.raises(npki.UnsafeInput):
        npki.open_pfx(hostile, PASSWORD)
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("cipher", sorted(SAFE_CIPHERS))
def test_key_bags_inside_encrypted_safes_count_towards_the_total_budget(
    holder: Holder, cipher: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Safe (1000) and the key bag inside it (5000): 6000 opens, 5999 is refused before OpenSSL."""
    bags = der.seq(cert_bag(holder), key_bag(holder, 5000))
    data = pfx(encrypted_safe(SAFE_CIPHERS[cipher], bags))
    within = npki.Limits(kdf_iterations_max=5000, kdf_total_iterations=6000)
    assert npki.open_pfx(data, PASSWORD, limits=within).certificate.der == holder.cert_der
    monkeypatch.setattr("npki.pfx.pkcs12.load_key_and_certificates", None)
    over = npki.Limits(kdf_iterations_max=5000, kdf_total_iterations=5999)
    with pytest.raises(npki.UnsafeInput):
        npki.open_pfx(data, PASSWORD, limits=over)
