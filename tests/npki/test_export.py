"""Writing certificates back out: an NPKI pair under a new password, keeping the scheme."""

from __future__ import annotations

import io
import itertools
import posixpath
import zipfile
from collections.abc import Callable
from pathlib import PurePosixPath

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pypinksign import PinkSign

import npki
from npki.export import write_zip
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
    holder: Holder, original: Callable[[bytes], bytes], written: tuple[str, int]
) -> None:
    """The new key opens with the new password only, same key, same randomNum, same family."""
    opened = npki.open_pair(holder.cert_der, original(holder.plain), PW)
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


# --- the NPKI zip: folder names from a hostile subject ------------------------------------

REAL_SUBJECTS = (
    "cn=홍길동()0012345678901234,ou=SHB,ou=personal4IB,o=yessign,c=kr",
    "cn=HONG GILDONG(HONG GIL DONG)0012345678901234,ou=KB,ou=personal4IB,o=yessign,c=kr",
    "cn=(주)가나다 & Co.()0001234567890123,ou=corporation4EC,o=SignKorea,c=kr",
    "cn=김철수_0098765432109876,ou=TradeSign,o=TradeSign,c=kr",
)


@pytest.mark.parametrize("subject", REAL_SUBJECTS)
def test_real_folder_names_are_kept_as_they_are(subject: str) -> None:
    """What NPKI folders really look like is written unchanged, so banking software
    finds the certificate where it expects it."""
    assert npki.folder_name(subject) == subject


def _entries_stay_under_the_root(archive: bytes) -> list[str]:
    names = zipfile.ZipFile(io.BytesIO(archive)).namelist()
    root = "/extract/here"
    for name in names:
        path = PurePosixPath(name)
        assert not path.is_absolute(), name
        assert ".." not in path.parts, name
        assert "\\" not in name, name
        assert ":" not in name, name
        assert posixpath.normpath(posixpath.join(root, name)).startswith(root + "/"), name
        assert path.parts[:3] == ("NPKI", "yessign", "USER"), name
        assert len(path.parts) == 5, name
    return names


def test_a_traversal_cn_stays_inside_the_zip(ca: factory.Authority, holder: Holder) -> None:
    """The attack: a CN of `../../../../tmp/x` made the zip entry
    `NPKI/yessign/USER/cn=../../../../tmp/x,…/signCert.der`, which an extracting tool
    writes to /tmp. The folder is one safe name under NPKI/yessign/USER now."""
    cert = factory.make_cert(ca, holder.key, cn="../../../../tmp/x", with_identify_data=False)
    facts = npki.read_certificate(factory.cert_der(cert))
    assert facts.subject.startswith("cn=../../../../tmp/x,")
    archive = npki.npki_zip(facts.ca, facts.subject, {"signCert.der": facts.der})
    (name,) = _entries_stay_under_the_root(archive)
    assert (
        name
        == "NPKI/yessign/USER/cn=________tmp_x,ou=SHB,ou=personal4IB,o=yessign,c=kr/signCert.der"
    )


@settings(max_examples=300)
@given(subject=st.text(max_size=400))
def test_any_subject_makes_entries_under_the_root(subject: str) -> None:
    """Whatever the subject text (separators, dots, NUL, controls, surrogates, huge),
    every entry is a plain relative path of exactly NPKI/<CA>/USER/<folder>/<file>."""
    archive = npki.npki_zip("yessign", subject, {"signCert.der": b"c", "signPri.key": b"k"})
    assert len(_entries_stay_under_the_root(archive)) == 2
    folder = npki.folder_name(subject)
    assert 0 < len(folder) <= npki.export.FOLDER_NAME_MAX
    assert not folder.startswith(".")


@settings(max_examples=40, deadline=None)
@given(cn=st.text(min_size=1, max_size=64))
def test_any_cn_of_a_real_certificate_stays_under_the_root(
    ca: factory.Authority, holder: Holder, cn: str
) -> None:
    """The same through a certificate the attacker signed: the CN goes through the
    parser's subject formatting first."""
    try:
        cert = factory.make_cert(ca, holder.key, cn=cn, with_identify_data=False)
    except (ValueError, UnicodeError):
        assume(False)  # a CN cryptography itself refuses to write
    facts = npki.read_certificate(factory.cert_der(cert))
    _entries_stay_under_the_root(npki.npki_zip(facts.ca, facts.subject, {"signCert.der": b"c"}))


@pytest.mark.parametrize(
    "name",
    ["/etc/passwd", "../x", "NPKI/../../x", "a\\..\\b", "C:/x", "a//b", "a/./b", "a\x00b", ""],
)
def test_the_zip_writer_refuses_names_that_leave_the_root(name: str) -> None:
    """The last guard: an entry name that is absolute, climbs, or could on Windows is
    never written, whoever built it."""
    with pytest.raises(npki.UnsafeInput):
        write_zip([(name, b"x")])
