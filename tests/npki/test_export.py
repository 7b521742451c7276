"""Writing certificates back out: an NPKI pair under a new password, keeping the scheme."""

from __future__ import annotations

import itertools

import pytest
from pypinksign import PinkSign

import npki
from tests import factory
from tests.conftest import Holder

PW = factory.PASSWORD
NEW = b"n3w-passw0rd"


@pytest.mark.parametrize(
    ("original", "written"),
    [
        (lambda p: factory.seed_cbc_sha1_key(p, PW), ("seed-cbc-sha1", 2048)),
        (lambda p: factory.seed_cbc_sha1_key(p, PW, iterations=1024), ("seed-cbc-sha1", 1024)),
        (lambda p: factory.seed_legacy_key(p, PW), ("seed-cbc-sha1", 2048)),
        (lambda p: factory.pbes2_key(p, PW), ("pbes2-seed-cbc", 2048)),
        (
            lambda p: factory.pbes2_key(p, PW, cipher="aes", key_bytes=32, prf_sha256=True),
            ("pbes2-aes-256-cbc", 2048),
        ),
        (lambda p: p, ("seed-cbc-sha1", 2048)),
    ],
    ids=["seed", "seed-1024", "legacy", "pbes2-seed", "pbes2-aes256-sha256", "plain"],
)
def test_export_keeps_the_scheme_family_and_random_num(
    holder: Holder, original: object, written: tuple[str, int]
) -> None:
    """The new key opens with the new password only, same key, same randomNum, same family."""
    opened = npki.open_pair(holder.cert_der, original(holder.plain), PW)  # type: ignore[operator]
    pair = npki.export_npki_pair(opened, NEW)
    assert pair.sign_cert == holder.cert_der
    again = npki.open_pair(pair.sign_cert, pair.sign_key, NEW)
    assert (again.encryption, again.iterations) == written
    assert again.random_num == holder.random_num
    assert again.private_key_info == opened.private_key_info
    with pytest.raises(npki.WrongPassword):
        npki.open_pair(pair.sign_cert, pair.sign_key, PW)


def test_pbes2_export_keeps_the_prf(holder: Holder) -> None:
    """A PBES2 key with HMAC-SHA256 is written with HMAC-SHA256 again."""
    key = factory.pbes2_key(holder.plain, PW, prf_sha256=True)
    opened = npki.open_pair(holder.cert_der, key, PW)
    again = npki.read_key_file(npki.export_npki_pair(opened, NEW).sign_key)
    assert again.prf_oid == "1.2.840.113549.2.9"


def test_export_uses_fresh_salt_from_rng(holder: Holder, seed_key: bytes) -> None:
    """Salt and IV come from the rng parameter: two exports differ, a fixed rng repeats."""
    opened = npki.open_pair(holder.cert_der, seed_key, PW)
    assert (
        npki.export_npki_pair(opened, NEW).sign_key != npki.export_npki_pair(opened, NEW).sign_key
    )

    def fixed(n: int) -> bytes:
        return bytes(itertools.islice(itertools.cycle(b"\x07"), n))

    first = npki.export_npki_pair(opened, NEW, rng=fixed).sign_key
    assert first == npki.export_npki_pair(opened, NEW, rng=fixed).sign_key


def test_pypinksign_opens_our_export(holder: Holder, seed_key: bytes) -> None:
    """Another implementation (PyPinkSign) reads the key we wrote, randomNum included."""
    opened = npki.open_pair(holder.cert_der, seed_key, PW)
    pair = npki.export_npki_pair(opened, NEW)
    signer = PinkSign(pubkey_data=pair.sign_cert)
    signer.load_prikey(prikey_data=pair.sign_key, prikey_password=NEW)
    assert signer.prikey is not None
    assert signer.prikey.private_numbers() == holder.key.private_numbers()
    assert signer._rand_num is not None
    assert bytes(signer._rand_num.asOctets()) == holder.random_num


def test_pfx_origin_exports_as_seed(holder: Holder) -> None:
    """A certificate that came as a PFX is written as a seedCBCWithSHA1 NPKI pair."""
    pfx = factory.openssl_pfx(holder.key, holder.cert, "pw", cipher="seed")
    opened = npki.open_pfx(pfx, b"pw")
    pair = npki.export_npki_pair(opened, NEW)
    again = npki.open_pair(pair.sign_cert, pair.sign_key, NEW)
    assert (again.encryption, again.iterations, again.random_num) == ("seed-cbc-sha1", 2048, None)
    assert again.certificate.der == holder.cert_der
