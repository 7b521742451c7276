"""Finding certificates in what users hand over: loose files, NPKI zips, PFX, mixes."""

from __future__ import annotations

import pytest

import npki
from tests import factory
from tests.conftest import Holder

PW = factory.PASSWORD


def _folder(holder: Holder) -> str:
    return factory.npki_folder("yessign", npki.read_certificate(holder.cert_der).subject)


def test_loose_pair_opens(holder: Holder, seed_key: bytes) -> None:
    """signCert.der + signPri.key as two loose files: one opened item."""
    (item,) = npki.open_bundle({"signCert.der": holder.cert_der, "signPri.key": seed_key}, PW)
    assert item.source == "npki"
    assert item.opened is not None
    assert item.opened.random_num == holder.random_num
    assert item.key_error is None
    assert item.files == {"signCert.der": holder.cert_der, "signPri.key": seed_key}


def test_loose_pair_from_two_folders_is_paired(holder: Holder, seed_key: bytes) -> None:
    """A user who picked the two files from different places still gets them paired."""
    (item,) = npki.open_bundle(
        {"a/SignCert.der": holder.cert_der, "downloads/signPri.key": seed_key}, PW
    )
    assert item.opened is not None


def test_without_password_keys_are_described_not_opened(holder: Holder, seed_key: bytes) -> None:
    """No password: the key's scheme and count are known, nothing is decrypted."""
    (item,) = npki.open_bundle({"signCert.der": holder.cert_der, "signPri.key": seed_key}, None)
    assert (item.encryption, item.iterations) == ("seed-cbc-sha1", 2048)
    assert item.opened is None
    assert item.key_error is None


def test_certificate_alone(holder: Holder) -> None:
    """A certificate without its key is reported as certificate-only."""
    (item,) = npki.open_bundle({"cert.pem": holder.cert_der}, PW)
    assert item.source == "certificate"
    assert not item.has_key
    assert item.opened is None


def test_zip_of_an_npki_tree_at_any_depth_and_case(
    holder: Holder, other_holder: Holder, seed_key: bytes, ca: factory.Authority
) -> None:
    """Two folders, mixed name case, km pair, CaPubs and an extra file: two certificates."""
    other_key = factory.pbes2_key(other_holder.plain, PW)
    km_key = factory.rsa_key()
    km_cert = factory.make_cert(ca, km_key, encryption_only=True, serial=0x99)
    km_files = {
        "kmCert.der": factory.cert_der(km_cert),
        "kmPri.key": factory.seed_cbc_sha1_key(factory.private_key_info(km_key), PW),
    }
    first, second = _folder(holder), _folder(other_holder)
    archive = factory.make_zip(
        {
            f"backup/{first}/SignCert.der": holder.cert_der,
            f"backup/{first}/SIGNPRI.KEY": seed_key,
            f"backup/{first}/kmCert.der": km_files["kmCert.der"],
            f"backup/{first}/kmPri.key": km_files["kmPri.key"],
            "backup/NPKI/yessign/USER/CaPubs": b"\x30\x00",
            f"backup/{first}/readme.txt": b"hello",
            f"backup/{second}/signCert.der": other_holder.cert_der,
            f"backup/{second}/signPri.key": other_key,
        }
    )
    items = npki.open_bundle({"npki.zip": archive}, PW)
    assert [i.certificate.holder for i in items] == ["홍길동", "김철수"]
    assert all(i.opened is not None for i in items)
    assert items[0].files["kmCert.der"] == km_files["kmCert.der"]
    assert items[0].files["kmPri.key"] == km_files["kmPri.key"]
    assert items[1].encryption == "pbes2-seed-cbc"
    assert items[0].path == f"npki.zip/backup/{first}/SignCert.der"


def test_km_certificate_is_never_reported(ca: factory.Authority) -> None:
    """An encryption certificate alone yields nothing."""
    key = factory.rsa_key()
    km_cert = factory.make_cert(ca, key, encryption_only=True)
    assert npki.open_bundle({"kmCert.der": factory.cert_der(km_cert)}, None) == []
    assert npki.open_bundle({"x.der": factory.cert_der(km_cert)}, None) == []


def test_wrong_password_is_reported_per_certificate(
    holder: Holder, other_holder: Holder, seed_key: bytes
) -> None:
    """One key the password opens, one it does not: both reported, one error each."""
    other_key = factory.seed_cbc_sha1_key(other_holder.plain, b"another password")
    first, second = _folder(holder), _folder(other_holder)
    archive = factory.make_zip(
        {
            f"{first}/signCert.der": holder.cert_der,
            f"{first}/signPri.key": seed_key,
            f"{second}/signCert.der": other_holder.cert_der,
            f"{second}/signPri.key": other_key,
        }
    )
    ok, bad = npki.open_bundle({"two.zip": archive}, PW)
    assert ok.opened is not None
    assert bad.opened is None
    assert isinstance(bad.key_error, npki.WrongPassword)


def test_key_of_another_folder_is_a_mismatch_on_that_item(
    holder: Holder, other_holder: Holder
) -> None:
    """A folder whose key belongs to another certificate reports KeyMismatch."""
    archive = factory.make_zip(
        {
            "f/signCert.der": holder.cert_der,
            "f/signPri.key": factory.seed_cbc_sha1_key(other_holder.plain, PW),
        }
    )
    (item,) = npki.open_bundle({"x.zip": archive}, PW)
    assert isinstance(item.key_error, npki.KeyMismatch)


def test_pfx_in_a_bundle(holder: Holder) -> None:
    """A .pfx next to nothing else is one pkcs12 item."""
    data = factory.openssl_pfx(holder.key, holder.cert, "pw", cipher="aes")
    (item,) = npki.open_bundle({"my.pfx": data}, b"pw")
    assert (item.source, item.encryption, item.iterations) == ("pkcs12", "pkcs12", None)
    assert item.files == {"my.pfx": data}


def test_pfx_without_password_needs_one(holder: Holder) -> None:
    """A PFX's certificate is encrypted: without a password nothing can be listed."""
    data = factory.openssl_pfx(holder.key, holder.cert, "pw", cipher="aes")
    with pytest.raises(npki.PasswordRequired):
        npki.open_bundle({"my.p12": data}, None)


def test_same_certificate_twice_is_one_item(holder: Holder, seed_key: bytes) -> None:
    """A certificate present twice is listed once, the copy with a key winning."""
    archive = factory.make_zip({"a/signCert.der": holder.cert_der})
    items = npki.open_bundle(
        {"x.zip": archive, "b/signCert.der": holder.cert_der, "b/signPri.key": seed_key}, PW
    )
    assert len(items) == 1
    assert items[0].has_key


def test_files_are_recognised_by_content_when_names_say_nothing(
    holder: Holder, seed_key: bytes
) -> None:
    """Renamed files (no known suffix) are sniffed: certificate, key, PFX."""
    (item,) = npki.open_bundle({"cert": holder.cert_der, "key": seed_key}, PW)
    assert item.opened is not None
    pfx = factory.openssl_pfx(holder.key, holder.cert, "pw", cipher="aes")
    assert npki.open_bundle({"backup": pfx}, b"pw")[0].source == "pkcs12"


def test_unrecognisable_loose_file_is_malformed() -> None:
    """A loose file that is nothing we know is refused with its name in the message."""
    with pytest.raises(npki.MalformedInput, match="photo"):
        npki.open_bundle({"photo": b"\x89PNG\r\n\x1a\n"}, None)


def test_damaged_key_refuses_the_bundle(holder: Holder) -> None:
    """A damaged key file is invalid input for the whole bundle."""
    with pytest.raises(npki.MalformedInput):
        npki.open_bundle({"signCert.der": holder.cert_der, "signPri.key": b"\x30\x00"}, PW)


def test_oversized_loose_file_is_refused(holder: Holder) -> None:
    """The upload limit applies to every file."""
    with pytest.raises(npki.UnsafeInput):
        npki.open_bundle(
            {"signCert.der": holder.cert_der}, None, limits=npki.Limits(upload_bytes=10)
        )


def test_nothing_found_is_an_empty_list(seed_key: bytes) -> None:
    """A key without its certificate lists nothing (the caller says what is missing)."""
    assert npki.open_bundle({"signPri.key": seed_key}, PW) == []


# --- total key-derivation work ----------------------------------------------------


@pytest.fixture
def no_derivation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every key derivation of a bundle fail the test."""
    for name in (
        "npki.pair.decrypt_key_file",
        "npki.pfx.pkcs12.load_key_and_certificates",
        "npki.pfx.decrypt_payload",
        "npki.pfx.decrypt_pkcs12_pbe",
    ):
        monkeypatch.setattr(name, None)


def _two_folders(holder: Holder, other_holder: Holder, seed_key: bytes) -> dict[str, bytes]:
    """A zip of two NPKI folders, each key at 2048 rounds: 4096 for the bundle."""
    other_key = factory.pbes2_key(other_holder.plain, PW)
    files = {
        f"{_folder(holder)}/signCert.der": holder.cert_der,
        f"{_folder(holder)}/signPri.key": seed_key,
        f"{_folder(other_holder)}/signCert.der": other_holder.cert_der,
        f"{_folder(other_holder)}/signPri.key": other_key,
    }
    return {"npki.zip": factory.make_zip(files)}


def test_keys_within_the_total_budget_open(
    holder: Holder, other_holder: Holder, seed_key: bytes
) -> None:
    """Exactly the budget is allowed."""
    limits = npki.Limits(kdf_total_iterations=4096)
    items = npki.open_bundle(_two_folders(holder, other_holder, seed_key), PW, limits=limits)
    assert [item.opened is not None for item in items] == [True, True]


@pytest.mark.usefixtures("no_derivation")
def test_keys_over_the_total_budget_are_refused_before_any_derivation(
    holder: Holder, other_holder: Holder, seed_key: bytes
) -> None:
    """Each key is within kdf_iterations_max; together they are over: UnsafeInput, nothing tried."""
    limits = npki.Limits(kdf_total_iterations=4095)
    with pytest.raises(npki.UnsafeInput):
        npki.open_bundle(_two_folders(holder, other_holder, seed_key), PW, limits=limits)


@pytest.mark.usefixtures("no_derivation")
def test_pfx_work_counts_towards_the_budget(
    holder: Holder, other_holder: Holder, seed_key: bytes
) -> None:
    """A key (2048) and a PFX (MAC, safe, key bag: 6144) fit alone, not together."""
    pfx = factory.openssl_pfx(other_holder.key, other_holder.cert, PW.decode(), cipher="aes")
    files = {"signCert.der": holder.cert_der, "signPri.key": seed_key, "other.pfx": pfx}
    with pytest.raises(npki.UnsafeInput):
        npki.open_bundle(files, PW, limits=npki.Limits(kdf_total_iterations=8191))


@pytest.mark.usefixtures("no_derivation")
def test_without_a_password_the_budget_does_not_apply(
    holder: Holder, other_holder: Holder, seed_key: bytes
) -> None:
    """Nothing is derived without a password, so nothing is counted."""
    limits = npki.Limits(kdf_total_iterations=1)
    items = npki.open_bundle(_two_folders(holder, other_holder, seed_key), None, limits=limits)
    assert [item.iterations for item in items] == [2048, 2048]
