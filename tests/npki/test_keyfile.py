"""Private key files in every scheme Korean CAs use, opened as a pair with their certificate."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization
from pypinksign import PinkSign
from pypinksign.pypinksign import encrypt_decrypted_prikey

import npki
from tests import der, factory
from tests.conftest import Holder

PW = factory.PASSWORD

Writer = Callable[[bytes], bytes]

SCHEMES: dict[str, tuple[Writer, str, int | None]] = {
    "seed-cbc-sha1": (
        lambda p: factory.seed_cbc_sha1_key(p, PW),
        "seed-cbc-sha1",
        2048,
    ),
    "seed-cbc-sha1/1024": (
        lambda p: factory.seed_cbc_sha1_key(p, PW, iterations=1024),
        "seed-cbc-sha1",
        1024,
    ),
    "seed-cbc-sha1/odd": (
        lambda p: factory.seed_cbc_sha1_key(p, PW, iterations=777),
        "seed-cbc-sha1",
        777,
    ),
    "seed-cbc-sha1/1": (
        lambda p: factory.seed_cbc_sha1_key(p, PW, iterations=1),
        "seed-cbc-sha1",
        1,
    ),
    "seed-cbc-legacy": (lambda p: factory.seed_legacy_key(p, PW), "seed-cbc-legacy", 2048),
    "pbes2-seed-cbc": (lambda p: factory.pbes2_key(p, PW), "pbes2-seed-cbc", 2048),
    "pbes2-seed-cbc/sha256": (
        lambda p: factory.pbes2_key(p, PW, prf_sha256=True, with_key_length=True),
        "pbes2-seed-cbc",
        2048,
    ),
    "pbes2-aes-128-cbc": (
        lambda p: factory.pbes2_key(p, PW, cipher="aes", key_bytes=16),
        "pbes2-aes-128-cbc",
        2048,
    ),
    "pbes2-aes-192-cbc": (
        lambda p: factory.pbes2_key(p, PW, cipher="aes", key_bytes=24, iterations=1000),
        "pbes2-aes-192-cbc",
        1000,
    ),
    "pbes2-aes-256-cbc/sha256": (
        lambda p: factory.pbes2_key(p, PW, cipher="aes", key_bytes=32, prf_sha256=True),
        "pbes2-aes-256-cbc",
        2048,
    ),
    "none": (lambda p: p, "none", None),
}


@pytest.fixture(scope="module", params=list(SCHEMES), ids=list(SCHEMES))
def scheme(request: pytest.FixtureRequest, holder: Holder) -> tuple[bytes, str, int | None]:
    writer, encryption, iterations = SCHEMES[request.param]
    return writer(holder.plain), encryption, iterations


def test_every_scheme_opens_and_reports_itself(
    holder: Holder, scheme: tuple[bytes, str, int | None]
) -> None:
    """Each scheme decrypts with the right password and keeps randomNum."""
    key_file, encryption, iterations = scheme
    opened = npki.open_pair(holder.cert_der, key_file, PW)
    assert opened.encryption == encryption
    assert opened.iterations == iterations
    assert opened.random_num == holder.random_num
    assert opened.private_key.private_numbers() == holder.key.private_numbers()
    info = npki.read_key_file(key_file)
    assert (info.encryption, info.iterations) == (encryption, iterations)


@pytest.mark.parametrize("name", [name for name in SCHEMES if name != "none"])
def test_every_encrypted_scheme_refuses_a_wrong_password(holder: Holder, name: str) -> None:
    """A wrong password is told as such, not as a damaged file."""
    key_file = SCHEMES[name][0](holder.plain)
    with pytest.raises(npki.WrongPassword):
        npki.open_pair(holder.cert_der, key_file, b"not the password")


def test_trailing_bytes_after_the_key_are_ignored(holder: Holder, seed_key: bytes) -> None:
    """46 extra bytes, as in a real TradeSign key, do not stop the key from opening."""
    opened = npki.open_pair(holder.cert_der, seed_key + bytes(range(46)), PW)
    assert opened.random_num == holder.random_num


def test_key_without_random_num(holder: Holder) -> None:
    """A PrivateKeyInfo without attributes opens with random_num None."""
    plain = factory.private_key_info(holder.key)
    opened = npki.open_pair(holder.cert_der, factory.seed_cbc_sha1_key(plain, PW), PW)
    assert opened.random_num is None


def test_key_written_by_pypinksign_opens(holder: Holder) -> None:
    """A key encrypted by another implementation (PyPinkSign) opens here."""
    import base64  # noqa: PLC0415

    encoded = encrypt_decrypted_prikey(base64.b64encode(holder.plain).decode(), PW)
    opened = npki.open_pair(holder.cert_der, base64.b64decode(encoded), PW)
    assert opened.random_num == holder.random_num


def test_pypinksign_reads_what_we_read(holder: Holder, seed_key: bytes) -> None:
    """Our reference key file is one PyPinkSign opens too: both agree on the format."""
    signer = PinkSign(pubkey_data=holder.cert_der)
    signer.load_prikey(prikey_data=seed_key, prikey_password=PW)
    assert signer.prikey is not None
    assert signer.prikey.private_numbers() == holder.key.private_numbers()


@pytest.mark.parametrize("iterations", [100_001, 2**31 - 1, 10**40])
def test_iteration_count_over_the_limit_is_refused_without_computing(
    holder: Holder, iterations: int
) -> None:
    """A key asking for absurd work is refused at once (no derivation is started)."""
    params = der.seq(der.octets(b"saltsalt"), der.integer(iterations))
    key_file = der.seq(
        der.seq(der.oid(factory.OID_SEED_CBC_WITH_SHA1), params), der.octets(bytes(64))
    )
    started = time.perf_counter()
    with pytest.raises(npki.UnsafeInput):
        npki.open_pair(holder.cert_der, key_file, PW)
    assert time.perf_counter() - started < 0.2


def test_iteration_limit_is_configurable(holder: Holder, seed_key: bytes) -> None:
    """A lower limit refuses the usual 2048-iteration key."""
    with pytest.raises(npki.UnsafeInput):
        npki.open_pair(holder.cert_der, seed_key, PW, limits=npki.Limits(kdf_iterations_max=1000))


def test_pbes2_iteration_limit_also_applies(holder: Holder) -> None:
    """PBKDF2 counts are checked like PBKDF1 ones."""
    key_file = factory.pbes2_key(holder.plain, PW, iterations=3000)
    with pytest.raises(npki.UnsafeInput):
        npki.read_key_file(key_file, limits=npki.Limits(kdf_iterations_max=2048))


def test_zero_iterations_is_damaged() -> None:
    """An iteration count below 1 is a damaged file."""
    params = der.seq(der.octets(b"saltsalt"), der.integer(0))
    key_file = der.seq(
        der.seq(der.oid(factory.OID_SEED_CBC_WITH_SHA1), params), der.octets(bytes(64))
    )
    with pytest.raises(npki.MalformedInput):
        npki.read_key_file(key_file)


def test_unknown_encryption_is_unsupported() -> None:
    """A well-formed envelope with an algorithm we do not know: UnsupportedFormat."""
    params = der.seq(der.octets(b"saltsalt"), der.integer(2048))
    key_file = der.seq(der.seq(der.oid("1.2.3.4"), params), der.octets(bytes(64)))
    with pytest.raises(npki.UnsupportedFormat):
        npki.read_key_file(key_file)


def test_unknown_pbes2_cipher_and_prf_are_unsupported() -> None:
    """PBES2 with an unknown cipher or PRF is unsupported, not damaged."""
    kdf = der.seq(
        der.oid(factory.OID_PBKDF2),
        der.seq(der.octets(b"saltsalt"), der.integer(2048)),
    )
    params = der.seq(kdf, der.seq(der.oid("1.2.3.4"), der.octets(bytes(16))))
    key_file = der.seq(der.seq(der.oid(factory.OID_PBES2), params), der.octets(bytes(64)))
    with pytest.raises(npki.UnsupportedFormat):
        npki.read_key_file(key_file)
    kdf = der.seq(
        der.oid(factory.OID_PBKDF2),
        der.seq(der.octets(b"saltsalt"), der.integer(2048), der.seq(der.oid("1.2.3"), der.null())),
    )
    params = der.seq(kdf, der.seq(der.oid(factory.OID_SEED_CBC), der.octets(bytes(16))))
    key_file = der.seq(der.seq(der.oid(factory.OID_PBES2), params), der.octets(bytes(64)))
    with pytest.raises(npki.UnsupportedFormat):
        npki.read_key_file(key_file)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x30\x03\x02\x01\x00", b"hello world", bytes(64)],
)
def test_garbage_key_is_malformed(data: bytes) -> None:
    """Bytes that are no key file raise MalformedInput."""
    with pytest.raises(npki.MalformedInput):
        npki.read_key_file(data)


def test_ciphertext_not_a_block_multiple_is_damaged() -> None:
    """A ciphertext that cannot be CBC output is a damaged file, not a wrong password."""
    params = der.seq(der.octets(b"saltsalt"), der.integer(2048))
    key_file = der.seq(
        der.seq(der.oid(factory.OID_SEED_CBC_WITH_SHA1), params), der.octets(bytes(63))
    )
    with pytest.raises(npki.MalformedInput):
        npki.read_key_file(key_file)


def test_key_file_is_not_a_certificate_pair_with_plain_pem(holder: Holder) -> None:
    """A PEM private key is not an NPKI key file: refused, not crashed on."""
    pem = holder.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(npki.MalformedInput):
        npki.open_pair(holder.cert_der, pem, PW)
