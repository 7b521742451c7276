"""RC2 decryption against RFC 2268's vectors, OpenSSL and cryptography."""

from __future__ import annotations

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import RC2
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from npki import rc2

# RFC 2268 section 5: (key, effective key bits, plaintext, ciphertext), one block each.
RFC_2268_VECTORS = [
    ("0000000000000000", 63, "0000000000000000", "ebb773f993278eff"),
    ("ffffffffffffffff", 64, "ffffffffffffffff", "278b27e42e2f0d49"),
    ("3000000000000000", 64, "1000000000000001", "30649edf9be7d2c2"),
    ("88", 64, "0000000000000000", "61a8a244adacccf0"),
    ("88bca90e90875a", 64, "0000000000000000", "6ccf4308974c267f"),
    ("88bca90e90875a7f0f79c384627bafb2", 64, "0000000000000000", "1a807d272bbe5db1"),
    ("88bca90e90875a7f0f79c384627bafb2", 128, "0000000000000000", "2269552ab0f85ca6"),
    (
        "88bca90e90875a7f0f79c384627bafb216f80a6f85920584c42fceb0be255daf1e",
        129,
        "0000000000000000",
        "5b78d3a43dfff1f1",
    ),
]

# Made with OpenSSL 3.0 (legacy provider):
#   printf 'RFC 2268 test, 32 bytes long....' |
#   openssl enc -<cipher> -K <key> -iv 1020304050607080 -nopad -provider legacy -provider default
OPENSSL_IV = bytes.fromhex("1020304050607080")
OPENSSL_PLAINTEXT = b"RFC 2268 test, 32 bytes long...."
OPENSSL_VECTORS = [
    (  # rc2-40-cbc: the certificate safe of an `openssl pkcs12 -legacy` file
        "0102030405",
        40,
        "566c0930bb2ee7902a1d8ce76880a8cdb3b2c2ddb0c35fb7bbf83b4275fe48b6",
    ),
    (  # rc2-64-cbc
        "0102030405060708",
        64,
        "c2f68982e2c9a51e0df4045ee6c68c8dc4fe5361cc52f469b5e7c0711b4ec95e",
    ),
    (  # rc2-cbc
        "000102030405060708090a0b0c0d0e0f",
        128,
        "63b7e30d718c6091e6fbea461cfe8d42b08d1592d1d16ae5fc813eb96bac71cd",
    ),
]


@pytest.mark.parametrize(("key", "bits", "plain", "cipher"), RFC_2268_VECTORS)
def test_rfc_2268_vectors_decrypt(key: str, bits: int, plain: str, cipher: str) -> None:
    """Every known-answer vector of RFC 2268 §5 decrypts to its plaintext."""
    words = rc2.expand_key(bytes.fromhex(key), bits)
    assert rc2.decrypt_block(words, bytes.fromhex(cipher)).hex() == plain


@pytest.mark.parametrize(("key", "bits", "cipher"), OPENSSL_VECTORS)
def test_openssl_cbc_vectors_decrypt(key: str, bits: int, cipher: str) -> None:
    """CBC over several blocks, with 40-, 64- and 128-bit keys, agrees with OpenSSL."""
    plain = rc2.decrypt_cbc(bytes.fromhex(key), bits, OPENSSL_IV, bytes.fromhex(cipher))
    assert plain == OPENSSL_PLAINTEXT


@settings(max_examples=40)
@given(
    key=st.binary(min_size=16, max_size=16),
    iv=st.binary(min_size=8, max_size=8),
    plain=st.integers(1, 8).flatmap(lambda n: st.binary(min_size=8 * n, max_size=8 * n)),
)
def test_agrees_with_cryptography_for_128_bit_keys(key: bytes, iv: bytes, plain: bytes) -> None:
    """What cryptography's RC2 (128-bit keys only) encrypts, this decrypts back."""
    encryptor = Cipher(RC2(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(plain) + encryptor.finalize()
    assert rc2.decrypt_cbc(key, 128, iv, ciphertext) == plain


def test_pitable_is_a_permutation() -> None:
    """The table is a permutation of 0..255, as RFC 2268 §2 says (a typo would break it)."""
    assert sorted(rc2._PITABLE) == list(range(256))


@pytest.mark.parametrize(
    ("key", "bits", "iv", "data"),
    [
        (b"", 40, bytes(8), bytes(8)),
        (bytes(129), 40, bytes(8), bytes(8)),
        (bytes(5), 0, bytes(8), bytes(8)),
        (bytes(5), 40, bytes(7), bytes(8)),
        (bytes(5), 40, bytes(8), bytes(12)),
    ],
)
def test_refuses_impossible_arguments(key: bytes, bits: int, iv: bytes, data: bytes) -> None:
    """Key, effective bits, IV or data of a size RC2-CBC cannot take raise ValueError."""
    with pytest.raises(ValueError, match="RC2"):
        rc2.decrypt_cbc(key, bits, iv, data)
