"""Property tests for `npki`: hostile bytes raise only `NpkiError`; exports round-trip.

Inputs are arbitrary bytes, or real files (certificate, key in every scheme
the factory writes, PFX from `npki` and from `openssl`, zip of an NPKI tree)
edited at positions hypothesis chooses. Whatever comes in, the public
functions either return something consistent or raise an `NpkiError` with a
message for the user: any other exception escapes `_only_npki_errors` and
fails the test.
"""

from __future__ import annotations

import hashlib
import itertools
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

import npki
from npki.errors import ENGLISH
from tests import der, factory
from tests.conftest import Holder

PASSWORD = factory.PASSWORD
PFX_ITERATIONS = 1000
KINDS = {"wrong_password", "invalid_input", "unsupported", "unsafe_input", "key_mismatch"}
SCHEMES = (
    "seed-cbc-sha1",
    "seed-cbc-legacy",
    "pbes2-seed-cbc",
    "pbes2-aes-128-cbc",
    "pbes2-aes-192-cbc",
    "pbes2-aes-256-cbc-sha256",
)
PFX_SOURCES = ("npki", "openssl-seed", "openssl-3des", "openssl-aes")


# --- material, made once ------------------------------------------------------


@pytest.fixture(scope="module")
def keys(holder: Holder) -> dict[str, bytes]:
    """signPri.key of the holder in every scheme the factory writes, under PASSWORD."""
    plain = holder.plain
    return {
        "seed-cbc-sha1": factory.seed_cbc_sha1_key(plain, PASSWORD),
        "seed-cbc-legacy": factory.seed_legacy_key(plain, PASSWORD),
        "pbes2-seed-cbc": factory.pbes2_key(plain, PASSWORD),
        "pbes2-aes-128-cbc": factory.pbes2_key(plain, PASSWORD, cipher="aes", key_bytes=16),
        "pbes2-aes-192-cbc": factory.pbes2_key(plain, PASSWORD, cipher="aes", key_bytes=24),
        "pbes2-aes-256-cbc-sha256": factory.pbes2_key(
            plain, PASSWORD, cipher="aes", key_bytes=32, prf_sha256=True, with_key_length=True
        ),
    }


@pytest.fixture(scope="module")
def opened(holder: Holder, keys: dict[str, bytes]) -> dict[str, npki.OpenedCertificate]:
    return {scheme: npki.open_pair(holder.cert_der, key, PASSWORD) for scheme, key in keys.items()}


@pytest.fixture(scope="module")
def pfxs(holder: Holder, opened: dict[str, npki.OpenedCertificate]) -> dict[str, bytes]:
    """PFX files of the holder under PASSWORD: one from `npki.export_pfx`, three from openssl."""
    made = {"npki": npki.export_pfx(opened["seed-cbc-sha1"], PASSWORD, iterations=PFX_ITERATIONS)}
    for cipher in ("seed", "3des", "aes"):
        made[f"openssl-{cipher}"] = factory.openssl_pfx(
            holder.key, holder.cert, PASSWORD.decode(), cipher=cipher
        )
    return made


@pytest.fixture(scope="module")
def npki_zips(holder: Holder, keys: dict[str, bytes]) -> dict[str, bytes]:
    """A zip of an NPKI tree (pair, km pair, CaPubs), deflated and stored."""
    subject = npki.read_certificate(holder.cert_der).subject
    folder = factory.npki_folder("yessign", subject)
    files = {
        f"{folder}/signCert.der": holder.cert_der,
        f"{folder}/signPri.key": keys["seed-cbc-sha1"],
        f"{folder}/kmCert.der": holder.cert_der,
        f"{folder}/kmPri.key": keys["pbes2-seed-cbc"],
        "NPKI/yessign/CaPubs": b"\x30\x03\x02\x01\x01",
    }
    return {
        "deflated": factory.make_zip(files),
        "stored": factory.make_zip(files, compression=zipfile.ZIP_STORED),
    }


# --- strategies ---------------------------------------------------------------

# Edits at positions biased towards the headers, where the parsers branch most.
_POSITION = st.one_of(st.integers(0, 64), st.integers(0, 1 << 16))
_EDIT = st.one_of(
    st.tuples(st.just("flip"), _POSITION, st.integers(1, 255)),
    st.tuples(st.just("truncate"), _POSITION, st.just(0)),
    st.tuples(st.just("insert"), _POSITION, st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), _POSITION, st.integers(1, 16)),
)
EDITS = st.lists(_EDIT, min_size=1, max_size=4)

ANY_BYTES = st.one_of(
    st.binary(max_size=2048),
    st.binary(max_size=2048).map(der.seq),  # passes the DER framing, reaches the decoders
    st.binary(max_size=512).map(lambda b: b"PK\x03\x04" + b),
    st.binary(max_size=512).map(lambda b: b"PK\x05\x06" + b),
    st.binary(max_size=512).map(lambda b: b"-----BEGIN CERTIFICATE-----\n" + b),
)

PASSWORDS = st.binary(min_size=1, max_size=64)
# What a user can type (chat text, a line of stdin): the PFX round trip is pinned
# for these; NUL and non-UTF-8 passwords have their own tests below.
TEXT_PASSWORDS = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=32
).map(str.encode)


def mutate(data: bytes, edits: list[tuple[str, int, Any]]) -> bytes:
    """`data` with each edit applied in turn (positions wrap around the current length)."""
    buffer = bytearray(data)
    for kind, position, argument in edits:
        at = position % (len(buffer) + 1)
        if kind == "flip":
            if buffer:
                buffer[at % len(buffer)] ^= argument
        elif kind == "truncate":
            del buffer[at:]
        elif kind == "insert":
            buffer[at:at] = argument
        else:
            del buffer[at : at + argument]
    return bytes(buffer)


def seeded_rng(seed: bytes) -> Callable[[int], bytes]:
    """A deterministic byte source: SHA-256 of `seed` and a counter."""
    counter = itertools.count()

    def rng(size: int) -> bytes:
        out = b""
        while len(out) < size:
            out += hashlib.sha256(seed + next(counter).to_bytes(8, "big")).digest()
        return out[:size]

    return rng


def _only_npki_errors(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`call(...)`'s result, or None when it raised an `NpkiError`; anything else propagates.

    A refusal must also carry its kind, a reason and an English sentence.
    """
    try:
        return call(*args, **kwargs)
    except npki.NpkiError as err:
        error = err
    assert error.kind in KINDS
    assert error.reason in npki.Reason
    assert str(error) == ENGLISH[error.reason].format(**error.params)
    return None


def _private_numbers(
    opened: npki.OpenedCertificate,
) -> rsa.RSAPrivateNumbers | ec.EllipticCurvePrivateNumbers:
    return opened.private_key.private_numbers()


def _assert_key_is_certificates(opened: npki.OpenedCertificate) -> None:
    public = opened.certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey), public
    assert opened.private_key.public_key().public_numbers() == public.public_numbers()


# --- arbitrary bytes ----------------------------------------------------------


@given(data=ANY_BYTES)
def test_read_certificate_arbitrary_bytes_raise_only_npki_errors(data: bytes) -> None:
    """read_certificate on any bytes returns a Certificate or raises an NpkiError, nothing else."""
    certificate = _only_npki_errors(npki.read_certificate, data)
    if certificate is not None:
        assert len(certificate.fingerprint_sha256) == 64


@given(data=ANY_BYTES)
def test_read_key_file_arbitrary_bytes_raise_only_npki_errors(data: bytes) -> None:
    """read_key_file on any bytes returns a KeyFile or raises an NpkiError, nothing else."""
    key_file = _only_npki_errors(npki.read_key_file, data)
    if key_file is not None:
        assert key_file.encryption in set(npki.KeyEncryption)


@settings(max_examples=100)
@given(cert=ANY_BYTES, key=ANY_BYTES, password=PASSWORDS)
def test_open_pair_arbitrary_bytes_raise_only_npki_errors(
    cert: bytes, key: bytes, password: bytes
) -> None:
    """open_pair on any certificate and key bytes raises an NpkiError, nothing else."""
    assert _only_npki_errors(npki.open_pair, cert, key, password) is None


@settings(max_examples=100)
@given(cert=ANY_BYTES, password=PASSWORDS)
def test_open_pair_real_key_arbitrary_certificate_raises_only_npki_errors(
    keys: dict[str, bytes], cert: bytes, password: bytes
) -> None:
    """open_pair with a real key and a garbage certificate raises an NpkiError, nothing else."""
    assert _only_npki_errors(npki.open_pair, cert, keys["seed-cbc-sha1"], password) is None


@given(data=ANY_BYTES)
def test_open_pfx_arbitrary_bytes_raise_only_npki_errors(data: bytes) -> None:
    """open_pfx on any bytes raises an NpkiError, nothing else."""
    assert _only_npki_errors(npki.open_pfx, data, PASSWORD) is None


@given(
    name=st.sampled_from(
        ["x.zip", "signCert.der", "SignPri.key", "cert.pfx", "me.p12", "upload.bin", "CaPubs"]
    ),
    data=ANY_BYTES,
    password=st.sampled_from([None, PASSWORD]),
)
def test_open_bundle_arbitrary_bytes_raise_only_npki_errors(
    name: str, data: bytes, password: bytes | None
) -> None:
    """open_bundle on any one file, under any name, returns items or raises an NpkiError."""
    items = _only_npki_errors(npki.open_bundle, {name: data}, password)
    for item in items or []:
        assert item.certificate.is_signing


# --- structured hostile envelopes ---------------------------------------------

_CIPHER_OIDS = [factory.OID_SEED_CBC, *factory.AES_CBC.values(), "1.2.840.113549.3.7"]
_PRF_OIDS = ["1.2.840.113549.2.7", factory.OID_HMAC_SHA256, "1.2.840.113549.2.5"]


@st.composite
def key_envelopes(draw: st.DrawFn) -> tuple[bytes, int]:
    """An EncryptedPrivateKeyInfo with well-formed DER and hostile values; and its iterations."""
    iterations = draw(st.one_of(st.integers(-3, 6000), st.integers(-(2**70), 2**70)))
    salt = draw(st.one_of(st.binary(min_size=8, max_size=8), st.binary(max_size=80)))
    blocks = st.integers(1, 4).flatmap(lambda n: st.binary(min_size=16 * n, max_size=16 * n))
    ciphertext = draw(st.one_of(blocks, st.binary(max_size=64)))
    kind = draw(st.sampled_from(["seed", "legacy", "pbes2", "other"]))
    if kind in ("seed", "legacy", "other"):
        oid = {
            "seed": factory.OID_SEED_CBC_WITH_SHA1,
            "legacy": factory.OID_SEED_CBC,
            "other": "1.2.840.113549.1.5.3",
        }[kind]
        algorithm = der.seq(der.oid(oid), der.seq(der.octets(salt), der.integer(iterations)))
    else:
        kdf = [der.octets(salt), der.integer(iterations)]
        if draw(st.booleans()):
            kdf.append(der.integer(draw(st.integers(-1, 40))))
        if draw(st.booleans()):
            kdf.append(der.seq(der.oid(draw(st.sampled_from(_PRF_OIDS))), der.null()))
        iv = der.octets(draw(st.one_of(st.binary(min_size=16, max_size=16), st.binary())))
        scheme = der.seq(der.oid(draw(st.sampled_from(_CIPHER_OIDS))), iv)
        algorithm = der.seq(
            der.oid(factory.OID_PBES2),
            der.seq(der.seq(der.oid(factory.OID_PBKDF2), der.seq(*kdf)), scheme),
        )
    return der.seq(algorithm, der.octets(ciphertext)), iterations


@given(envelope=key_envelopes())
def test_read_key_file_never_accepts_an_iteration_count_outside_the_limit(
    envelope: tuple[bytes, int],
) -> None:
    """A key file is read only when its iteration count is within [1, kdf_iterations_max]."""
    data, iterations = envelope
    limits = npki.Limits(kdf_iterations_max=5000)
    key_file = _only_npki_errors(npki.read_key_file, data, limits=limits)
    if key_file is not None:
        assert 1 <= iterations <= limits.kdf_iterations_max
        assert key_file.iterations == iterations


@settings(max_examples=100)
@given(envelope=key_envelopes())
def test_open_pair_refuses_hostile_envelopes(holder: Holder, envelope: tuple[bytes, int]) -> None:
    """open_pair refuses a hostile key envelope; an over-limit count never reaches a derivation.

    (A refusal after deriving is WrongPassword; an over-limit count must be
    refused for itself, or for something wrong found before it.)
    """
    data, iterations = envelope
    limits = npki.Limits(kdf_iterations_max=5000)
    with pytest.raises(npki.NpkiError) as refused:
        npki.open_pair(holder.cert_der, data, PASSWORD, limits=limits)
    if iterations > limits.kdf_iterations_max:
        assert not isinstance(refused.value, npki.WrongPassword)


def _children(element: bytes) -> list[bytes]:
    """The encoded children of a DER SEQUENCE."""

    def length(data: bytes) -> tuple[int, int]:
        if data[1] < 0x80:
            return data[1], 2
        count = data[1] & 0x7F
        return int.from_bytes(data[2 : 2 + count], "big"), 2 + count

    size, header = length(element)
    content, children = element[header : header + size], []
    while content:
        size, header = length(content)
        children.append(content[: header + size])
        content = content[header + size :]
    return children


@settings(max_examples=60)
@given(iterations=st.one_of(st.integers(-3, 4200), st.integers(-(2**70), 2**70)))
def test_open_pfx_checks_the_mac_iteration_count_before_deriving(
    pfxs: dict[str, bytes], iterations: int
) -> None:
    """A PFX MAC asking for more rounds than the limit is UnsafeInput, never a wrong password."""
    version, auth_safe, mac_data = _children(pfxs["openssl-aes"])
    digest, salt, original = _children(mac_data)
    assert original == der.integer(2048)
    pfx = der.seq(version, auth_safe, der.seq(digest, salt, der.integer(iterations)))
    limits = npki.Limits(kdf_iterations_max=4096)
    if iterations > limits.kdf_iterations_max:
        with pytest.raises(npki.UnsafeInput):
            npki.open_pfx(pfx, PASSWORD, limits=limits)
    elif iterations < 1:
        with pytest.raises(npki.MalformedInput):
            npki.open_pfx(pfx, PASSWORD, limits=limits)
    elif iterations == 2048:
        _assert_key_is_certificates(npki.open_pfx(pfx, PASSWORD, limits=limits))
    else:
        with pytest.raises(npki.WrongPassword):
            npki.open_pfx(pfx, PASSWORD, limits=limits)


# --- mutated real files -------------------------------------------------------


@pytest.mark.parametrize("form", ["der", "pem"])
@given(edits=EDITS)
def test_read_certificate_mutated_raises_only_npki_errors(
    holder: Holder, form: str, edits: list[tuple[str, int, Any]]
) -> None:
    """An edited certificate is read or refused with an NpkiError; what is read re-reads alike."""
    original = holder.cert_der
    if form == "pem":
        original = holder.cert.public_bytes(serialization.Encoding.PEM)
    certificate = _only_npki_errors(npki.read_certificate, mutate(original, edits))
    if certificate is not None:
        again = npki.read_certificate(certificate.der)
        assert again.fingerprint_sha256 == certificate.fingerprint_sha256


@pytest.mark.parametrize("scheme", SCHEMES)
@given(edits=EDITS)
def test_read_key_file_mutated_raises_only_npki_errors(
    keys: dict[str, bytes], scheme: str, edits: list[tuple[str, int, Any]]
) -> None:
    """An edited signPri.key is read (iterations within the limit) or refused with an NpkiError."""
    key_file = _only_npki_errors(npki.read_key_file, mutate(keys[scheme], edits))
    if key_file is not None and key_file.iterations is not None:
        assert 1 <= key_file.iterations <= npki.DEFAULT_LIMITS.kdf_iterations_max


@settings(max_examples=100)
@pytest.mark.parametrize("scheme", SCHEMES)
@given(edits=EDITS)
def test_open_pair_mutated_key_raises_only_npki_errors(
    holder: Holder, keys: dict[str, bytes], scheme: str, edits: list[tuple[str, int, Any]]
) -> None:
    """open_pair with an edited key opens only the certificate's own key, else an NpkiError."""
    result = _only_npki_errors(
        npki.open_pair, holder.cert_der, mutate(keys[scheme], edits), PASSWORD
    )
    if result is not None:
        _assert_key_is_certificates(result)


@settings(max_examples=60)
@given(edits=EDITS)
def test_open_pair_mutated_certificate_raises_only_npki_errors(
    holder: Holder, keys: dict[str, bytes], edits: list[tuple[str, int, Any]]
) -> None:
    """open_pair with an edited certificate opens only when the key is still its key."""
    cert = mutate(holder.cert_der, edits)
    result = _only_npki_errors(npki.open_pair, cert, keys["pbes2-seed-cbc"], PASSWORD)
    if result is not None:
        _assert_key_is_certificates(result)


@settings(max_examples=100)
@pytest.mark.parametrize("source", PFX_SOURCES)
@given(edits=EDITS)
def test_open_pfx_mutated_raises_only_npki_errors(
    pfxs: dict[str, bytes], source: str, edits: list[tuple[str, int, Any]]
) -> None:
    """open_pfx on an edited PFX opens the certificate's own key or raises an NpkiError."""
    result = _only_npki_errors(npki.open_pfx, mutate(pfxs[source], edits), PASSWORD)
    if result is not None:
        _assert_key_is_certificates(result)
        assert result.random_num is None


@settings(max_examples=60)
@pytest.mark.parametrize("compression", ["deflated", "stored"])
@given(edits=EDITS, password=st.sampled_from([None, PASSWORD]))
def test_open_bundle_mutated_zip_raises_only_npki_errors(
    npki_zips: dict[str, bytes],
    compression: str,
    edits: list[tuple[str, int, Any]],
    password: bytes | None,
) -> None:
    """open_bundle on an edited NPKI zip returns consistent items or raises an NpkiError."""
    items = _only_npki_errors(
        npki.open_bundle, {"npki.zip": mutate(npki_zips[compression], edits)}, password
    )
    for item in items or []:
        assert item.certificate.is_signing
        if item.opened is not None:
            _assert_key_is_certificates(item.opened)


@settings(max_examples=60)
@pytest.mark.parametrize("edited", ["signCert.der", "signPri.key", "cert.pfx"])
@given(edits=EDITS)
def test_open_bundle_mutated_loose_files_raise_only_npki_errors(
    holder: Holder,
    keys: dict[str, bytes],
    pfxs: dict[str, bytes],
    edited: str,
    edits: list[tuple[str, int, Any]],
) -> None:
    """open_bundle on loose files, one of them edited, returns items or raises an NpkiError."""
    files = {
        "signCert.der": holder.cert_der,
        "signPri.key": keys["pbes2-aes-128-cbc"],
        "cert.pfx": pfxs["openssl-seed"],
    }
    files[edited] = mutate(files[edited], edits)
    items = _only_npki_errors(npki.open_bundle, files, PASSWORD)
    for item in items or []:
        if item.opened is not None:
            _assert_key_is_certificates(item.opened)


# --- round trips ----------------------------------------------------------------


@settings(max_examples=20)
@pytest.mark.parametrize("scheme", SCHEMES)
@given(password=PASSWORDS, seed=st.binary(max_size=16))
def test_export_npki_pair_round_trips(
    opened: dict[str, npki.OpenedCertificate], scheme: str, password: bytes, seed: bytes
) -> None:
    """export_npki_pair then open_pair with the new password gives the same key and randomNum.

    The scheme family, iteration count and PRF are kept (legacy SEED is written
    as seed-cbc-sha1), the output depends only on the rng, and the old password
    no longer opens the new file.
    """
    original = opened[scheme]
    pair = npki.export_npki_pair(original, password, rng=seeded_rng(seed))
    assert pair == npki.export_npki_pair(original, password, rng=seeded_rng(seed))
    assert pair.sign_cert == original.certificate.der

    again = npki.open_pair(pair.sign_cert, pair.sign_key, password)
    assert _private_numbers(again) == _private_numbers(original)
    assert again.random_num == original.random_num
    assert again.random_num is not None
    expected = (
        npki.KeyEncryption.SEED_CBC_SHA1
        if original.encryption is npki.KeyEncryption.SEED_CBC_LEGACY
        else original.encryption
    )
    assert again.encryption is expected
    assert again.iterations == original.iterations
    assert again.key_file.prf_oid == original.key_file.prf_oid
    if password != PASSWORD:
        with pytest.raises(npki.WrongPassword):
            npki.open_pair(pair.sign_cert, pair.sign_key, PASSWORD)


@settings(max_examples=20)
@given(password=TEXT_PASSWORDS)
def test_export_pfx_round_trips(opened: dict[str, npki.OpenedCertificate], password: bytes) -> None:
    """export_pfx then open_pfx gives the same certificate and key; randomNum is gone."""
    original = opened["seed-cbc-sha1"]
    pfx = npki.export_pfx(original, password, iterations=PFX_ITERATIONS)
    again = npki.open_pfx(pfx, password)
    assert again.certificate.fingerprint_sha256 == original.certificate.fingerprint_sha256
    assert _private_numbers(again) == _private_numbers(original)
    assert again.random_num is None
    assert again.encryption is npki.KeyEncryption.PKCS12
    assert again.iterations is None


@settings(max_examples=15)
@given(pfx_password=TEXT_PASSWORDS, password=PASSWORDS, seed=st.binary(max_size=16))
def test_pfx_then_npki_export_round_trips(
    opened: dict[str, npki.OpenedCertificate], pfx_password: bytes, password: bytes, seed: bytes
) -> None:
    """A key opened from a PFX exports as seed-cbc-sha1/2048 and opens to the same key."""
    original = opened["pbes2-aes-256-cbc-sha256"]
    from_pfx = npki.open_pfx(
        npki.export_pfx(original, pfx_password, iterations=PFX_ITERATIONS), pfx_password
    )
    pair = npki.export_npki_pair(from_pfx, password, rng=seeded_rng(seed))
    again = npki.open_pair(pair.sign_cert, pair.sign_key, password)
    assert _private_numbers(again) == _private_numbers(original)
    assert again.random_num is None
    assert again.encryption is npki.KeyEncryption.SEED_CBC_SHA1
    assert again.iterations == 2048


@settings(max_examples=50)
@given(password=PASSWORDS)
def test_open_pair_wrong_password_is_wrong_password(
    holder: Holder, keys: dict[str, bytes], password: bytes
) -> None:
    """Any password but the right one (any bytes, NUL included) raises WrongPassword."""
    if password == PASSWORD:
        return
    for scheme in ("seed-cbc-sha1", "pbes2-aes-192-cbc"):
        with pytest.raises(npki.WrongPassword):
            npki.open_pair(holder.cert_der, keys[scheme], password)


@settings(max_examples=30)
@given(password=TEXT_PASSWORDS)
def test_open_pfx_wrong_text_password_is_wrong_password(
    pfxs: dict[str, bytes], password: bytes
) -> None:
    """Any typed password but the right one raises WrongPassword on every kind of PFX."""
    if password == PASSWORD:
        return
    for source in PFX_SOURCES:
        with pytest.raises(npki.WrongPassword):
            npki.open_pfx(pfxs[source], password)


def test_export_pfx_password_that_is_not_utf8_raises_an_npki_error(
    opened: dict[str, npki.OpenedCertificate],
) -> None:
    """export_pfx refuses a password that is not UTF-8 with an NpkiError, nothing else."""
    with pytest.raises(npki.NpkiError):
        npki.export_pfx(opened["seed-cbc-sha1"], b"\xff\xfe", iterations=PFX_ITERATIONS)


# --- bugs found while writing these properties (fixed) --------------------------


@pytest.mark.parametrize("password", [b"\x00", b"p@ss\x00word"])
@pytest.mark.parametrize("via", ["open_pfx", "open_bundle"])
def test_open_pfx_password_with_nul_byte_raises_only_npki_errors(
    pfxs: dict[str, bytes], password: bytes, via: str
) -> None:
    """A password containing a NUL byte on a valid PFX raises an NpkiError, nothing else."""
    try:
        if via == "open_pfx":
            npki.open_pfx(pfxs["npki"], password)
        else:
            npki.open_bundle({"cert.pfx": pfxs["npki"]}, password)
    except npki.NpkiError:
        return
    except BaseException as err:  # noqa: BLE001  (the panic is a BaseException)
        pytest.fail(f"{type(err).__module__}.{type(err).__name__} escaped: {err}")
    pytest.fail("a NUL-byte password opened the PFX")


@pytest.mark.parametrize("source", PFX_SOURCES)
def test_open_pfx_password_that_is_not_utf8_is_wrong_password(
    pfxs: dict[str, bytes], source: str
) -> None:
    """A password that is not UTF-8 does not open a PFX: WrongPassword, as any wrong password."""
    with pytest.raises(npki.WrongPassword):
        npki.open_pfx(pfxs[source], b"\xffp@ssw0rd")
