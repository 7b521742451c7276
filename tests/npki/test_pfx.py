"""PKCS#12: open SEED, 3DES and AES files; write AES-256 ones; refuse hostile counts."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
from cryptography.hazmat.primitives import serialization

import npki
from npki import _asn1
from tests import factory
from tests.conftest import Holder

PFX_PW = "pfx-p@ss"


@pytest.fixture(scope="module", params=["seed", "3des", "aes"])
def openssl_pfx(request: pytest.FixtureRequest, holder: Holder) -> bytes:
    return factory.openssl_pfx(holder.key, holder.cert, PFX_PW, cipher=request.param)


def test_pfx_from_openssl_opens(openssl_pfx: bytes, holder: Holder) -> None:
    """SEED, 3DES and AES bags all open; the key is proven to be the certificate's."""
    opened = npki.open_pfx(openssl_pfx, PFX_PW.encode())
    assert opened.certificate.der == holder.cert_der
    assert opened.private_key.private_numbers() == holder.key.private_numbers()
    assert opened.encryption == "pkcs12"
    assert opened.iterations is None
    assert opened.random_num is None  # a PFX cannot carry randomNum


def test_pfx_wrong_password(openssl_pfx: bytes) -> None:
    """A well-formed PFX that does not open is a wrong password."""
    with pytest.raises(npki.WrongPassword):
        npki.open_pfx(openssl_pfx, b"wrong")


def test_pfx_without_password_asks_for_one(openssl_pfx: bytes) -> None:
    """No password given: PasswordRequired, a kind of WrongPassword."""
    with pytest.raises(npki.PasswordRequired):
        npki.open_pfx(openssl_pfx, None)


def test_exported_pfx_is_aes256_pbkdf2_sha256(holder: Holder, seed_key: bytes) -> None:
    """export_pfx writes PBES2 with AES-256-CBC, PBKDF2-HMAC-SHA256 and a SHA-256 MAC."""
    opened = npki.open_pair(holder.cert_der, seed_key, factory.PASSWORD)
    data = npki.export_pfx(opened, b"new-pfx-pw", iterations=5000)
    reopened = npki.open_pfx(data, b"new-pfx-pw")
    assert reopened.private_key.private_numbers() == holder.key.private_numbers()
    assert reopened.certificate.der == holder.cert_der
    text = _openssl_info(data, "new-pfx-pw")
    assert "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 5000, PRF hmacWithSHA256" in text
    assert "MAC: sha256" in text


def _openssl_info(data: bytes, password: str) -> str:
    openssl = shutil.which("openssl")
    assert openssl
    result = subprocess.run(
        [openssl, "pkcs12", "-info", "-noout", "-passin", f"pass:{password}"],
        input=data,
        capture_output=True,
        check=True,
    )
    return result.stderr.decode() + result.stdout.decode()


def _pfx_with_iterations(holder: Holder, iterations: int) -> bytes:
    """A PFX whose bags and MAC both use `iterations` (openssl's -iter sets both)."""
    data = factory.openssl_pkcs12(holder.key, holder.cert, "pw", "-iter", str(iterations))
    pfx = _asn1.decode(data, _asn1.PFX())
    assert int(pfx["macData"]["iterations"]) == iterations
    return data


def test_pfx_iteration_count_over_the_limit_is_refused_fast(holder: Holder) -> None:
    """Counts in the MAC and the bags are checked before cryptography derives anything."""
    data = _pfx_with_iterations(holder, 3000)
    limits = npki.Limits(kdf_iterations_max=2048)
    started = time.perf_counter()
    with pytest.raises(npki.UnsafeInput):
        npki.open_pfx(data, b"pw", limits=limits)
    assert time.perf_counter() - started < 0.2
    assert npki.open_pfx(data, b"pw").certificate.der == holder.cert_der


def test_pfx_without_a_key_is_malformed(holder: Holder) -> None:
    """A PFX holding only a certificate cannot register a certificate with its key."""
    from cryptography.hazmat.primitives.serialization import pkcs12  # noqa: PLC0415

    data = pkcs12.serialize_key_and_certificates(
        b"x", None, holder.cert, None, serialization.BestAvailableEncryption(b"pw")
    )
    with pytest.raises(npki.MalformedInput):
        npki.open_pfx(data, b"pw")


@pytest.mark.parametrize("data", [b"", b"junk", b"\x30\x03\x02\x01\x03", bytes(100)])
def test_garbage_pfx_is_malformed(data: bytes) -> None:
    """Bytes that are no PFX raise MalformedInput even with a password."""
    with pytest.raises(npki.MalformedInput):
        npki.open_pfx(data, b"pw")


def test_oversized_pfx_is_refused() -> None:
    """A PFX over the upload limit is refused unread."""
    with pytest.raises(npki.UnsafeInput):
        npki.open_pfx(bytes(2000), b"pw", limits=npki.Limits(upload_bytes=1000))


def test_pfx_bag_iterations_are_checked_even_when_the_mac_is_cheap(
    holder: Holder, seed_key: bytes
) -> None:
    """A PFX whose MAC uses 2048 rounds but whose bags use more is still refused."""
    opened = npki.open_pair(holder.cert_der, seed_key, factory.PASSWORD)
    data = npki.export_pfx(opened, b"pw", iterations=3000)
    pfx = _asn1.decode(data, _asn1.PFX())
    assert int(pfx["macData"]["iterations"]) <= 2048
    with pytest.raises(npki.UnsafeInput):
        npki.open_pfx(data, b"pw", limits=npki.Limits(kdf_iterations_max=2048))


# --- passwords ------------------------------------------------------------------


@pytest.mark.parametrize("password", [b"\x00", b"pfx-p@ss\x00", b"\xffpfx-p@ss", b"\xed\xa0\x80"])
def test_password_that_cannot_be_a_pfx_password_is_wrong(
    openssl_pfx: bytes, password: bytes
) -> None:
    """A NUL, or bytes that are not UTF-8 (a lone surrogate too), open no PFX: WrongPassword."""
    with pytest.raises(npki.WrongPassword):
        npki.open_pfx(openssl_pfx, password)


@pytest.mark.parametrize("password", [b"\x00", b"new\x00pw", b"\xff\xfe", b"\xed\xa0\x80"])
def test_export_refuses_a_password_no_pfx_can_carry(
    holder: Holder, seed_key: bytes, password: bytes
) -> None:
    """export_pfx says why instead of writing a file nobody can open."""
    opened = npki.open_pair(holder.cert_der, seed_key, factory.PASSWORD)
    with pytest.raises(npki.MalformedInput) as refused:
        npki.export_pfx(opened, password, iterations=1000)
    assert refused.value.reason is npki.Reason.PFX_PASSWORD_NOT_TEXT
    assert "NUL" in str(refused.value)
    assert "plain text" in str(refused.value)


@pytest.mark.parametrize("password", ["공동인증서1!", "p@ss😀"])
@pytest.mark.parametrize("cipher", ["3des", "aes"])
def test_pfx_with_a_non_ascii_password_opens(holder: Holder, password: str, cipher: str) -> None:
    """Hangul, and a character outside the BMP, open legacy (RC2-40 safe) and AES files alike.

    Our PKCS#12 PBE decryption must turn the password into the UTF-16 that OpenSSL does.
    """
    data = factory.openssl_pfx(holder.key, holder.cert, password, cipher=cipher)
    assert npki.open_pfx(data, password.encode()).certificate.der == holder.cert_der
    with pytest.raises(npki.WrongPassword):
        npki.open_pfx(data, (password + "x").encode())


# --- total key-derivation work ----------------------------------------------------


def test_pfx_over_the_total_budget_is_refused_before_any_derivation(
    openssl_pfx: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MAC, certificate safe and key bag ask 2048 rounds each: 6144 in all."""
    limits = npki.Limits(kdf_total_iterations=6144)
    assert npki.open_pfx(openssl_pfx, PFX_PW.encode(), limits=limits).certificate.holder == "홍길동"
    for name in ("pkcs12.load_key_and_certificates", "decrypt_payload", "decrypt_pkcs12_pbe"):
        monkeypatch.setattr(f"npki.pfx.{name}", None)  # any derivation now fails the test
    with pytest.raises(npki.UnsafeInput):
        npki.open_pfx(openssl_pfx, PFX_PW.encode(), limits=npki.Limits(kdf_total_iterations=6143))
