"""PKCS#12 PBE: the RFC 7292 KDF against published vectors, decryption against OpenSSL."""

from __future__ import annotations

import pytest

import npki
from npki import _asn1
from npki.pfx import check_pfx
from npki.pkcs12_pbe import Pkcs12Pbe, bmp_password, decrypt_pkcs12_pbe, pkcs12_kdf
from tests import factory
from tests.conftest import Holder

# Test vectors of the PKCS#12 KDF published with OpenSSL's early PKCS#12 code (Dr S. Henson,
# "test.txt") and carried by BouncyCastle and others: (purpose ID, password, salt,
# iterations, size, output).
KDF_VECTORS = [
    (1, "smeg", "0a58cf64530d823f", 1, 24, "8aaae6297b6cb04642ab5b077851284eb7128f1a2a7fbca3"),
    (2, "smeg", "0a58cf64530d823f", 1, 8, "79993dfe048d3b76"),
    (1, "smeg", "642b99ab44fb4b1f", 1, 24, "f3a95fec48d7711e985cfe67908c5ab79fa3d7c5caa5d966"),
    (2, "smeg", "642b99ab44fb4b1f", 1, 8, "c0a38d64a79bea1d"),
    (3, "smeg", "3d83c0e4546ac140", 1, 20, "8d967d88f6caa9d714800ab3d48051d63f73a312"),
    (1, "queeg", "05dec959acff72f7", 1000, 24, "ed2034e36328830ff09df1e1a07dd357185dac0d4f9eb3d4"),
    (1, "queeg", "1682c0fc5b3f7ec5", 1000, 24, "483dd6e919d7de2e8e648ba8f862f3fbfbdc2bcb2c02957f"),
]
LEGACY_SCHEMES = {  # openssl -certpbe name → the OID it writes
    "PBE-SHA1-3DES": _asn1.OID_PBE_SHA1_3DES,
    "PBE-SHA1-2DES": _asn1.OID_PBE_SHA1_2DES,
    "PBE-SHA1-RC2-128": _asn1.OID_PBE_SHA1_RC2_128,
    "PBE-SHA1-RC2-40": _asn1.OID_PBE_SHA1_RC2_40,
}
OID_CERT_BAG = "1.2.840.113549.1.12.10.1.3"


@pytest.mark.parametrize("vector", KDF_VECTORS, ids=lambda v: f"{v[1]}-{v[2]}-id{v[0]}")
def test_kdf_vectors(vector: tuple[int, str, str, int, int, str]) -> None:
    """The appendix B.2 KDF gives the published key, IV and MAC-key material."""
    purpose, password, salt, rounds, size, out = vector
    assert (
        pkcs12_kdf(bmp_password(password), bytes.fromhex(salt), rounds, purpose, size).hex() == out
    )


def test_bmp_password_is_utf16_with_a_terminator() -> None:
    """ASCII, Hangul and a character outside the BMP (a surrogate pair), then two NUL bytes."""
    assert bmp_password("smeg").hex() == "0073006d006500670000"
    assert bmp_password("한").hex() == "d55c0000"
    assert bmp_password("😀").hex() == "d83dde000000"
    assert bmp_password("") == b"\x00\x00"


@pytest.fixture(scope="module", params=sorted(LEGACY_SCHEMES))
def legacy_pfx(request: pytest.FixtureRequest, holder: Holder) -> tuple[str, bytes]:
    """A PFX from openssl whose certificate safe uses one PKCS#12 PBE scheme (key: 3DES)."""
    options = ("-legacy", "-certpbe", request.param, "-keypbe", "PBE-SHA1-3DES")
    return request.param, factory.openssl_pkcs12(holder.key, holder.cert, "pw", *options)


def test_decrypts_the_certificate_safe_openssl_wrote(
    legacy_pfx: tuple[str, bytes], holder: Holder
) -> None:
    """3DES, 2-key 3DES, RC2-128 and RC2-40 safes decrypt to the certificate bag inside."""
    scheme, data = legacy_pfx
    (safe,) = check_pfx(data, npki.DEFAULT_LIMITS).encrypted_safes
    assert isinstance(safe, Pkcs12Pbe)
    assert safe.oid == LEGACY_SCHEMES[scheme]
    bags = _asn1.decode_exact(decrypt_pkcs12_pbe(safe, bmp_password("pw")), _asn1.SafeContents())
    assert [str(bag["bagId"]) for bag in bags] == [OID_CERT_BAG]
    assert holder.cert_der in bytes(bags[0]["bagValue"].asOctets())


def test_legacy_pfx_opens_and_refuses_a_wrong_password(
    legacy_pfx: tuple[str, bytes], holder: Holder
) -> None:
    """open_pfx reads each scheme; a wrong password fails at our decryption: WrongPassword."""
    _scheme, data = legacy_pfx
    assert npki.open_pfx(data, b"pw").certificate.der == holder.cert_der
    with pytest.raises(npki.WrongPassword):
        npki.open_pfx(data, b"pW")
