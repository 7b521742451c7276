"""Key names for the lockout and issuer signatures: the facts `npki` hands the flows."""

from __future__ import annotations

from datetime import UTC, datetime

import npki
from tests import factory
from tests.conftest import Holder

LATER = datetime(2027, 7, 1, tzinfo=UTC)


def test_a_key_keeps_its_name_whatever_file_or_certificate_comes_with_it(
    holder: Holder, other_holder: Holder, seed_key: bytes
) -> None:
    """Bytes appended, another certificate beside it: the same name; the same key
    encrypted anew (another salt, another ciphertext) is another key."""
    (name,) = npki.key_ids({"signPri.key": seed_key})
    assert npki.key_ids({"signPri.key": seed_key + b"\x00junk"}) == [name]
    items = npki.open_bundle({"signCert.der": other_holder.cert_der, "signPri.key": seed_key}, None)
    assert [item.key_ids for item in items] == [name]
    again = factory.seed_cbc_sha1_key(holder.plain, factory.PASSWORD)
    assert npki.key_ids({"signPri.key": again}) != [name]


def test_a_pfx_keeps_its_names_with_bytes_appended(holder: Holder) -> None:
    """A PFX is named by what its password is tested on, not by its file bytes."""
    pfx = factory.openssl_pfx(holder.key, holder.cert, factory.PASSWORD.decode(), cipher="aes")
    (names,) = npki.key_ids({"me.pfx": pfx})
    assert names
    assert npki.key_ids({"me.p12": pfx + b"\x00"}) == [names]
    (item,) = npki.open_bundle({"me.pfx": pfx}, factory.PASSWORD)
    assert item.key_ids == names


def test_signatures_are_checked_against_the_ca_certificates_named_as_issuer(
    holder: Holder, ca: factory.Authority
) -> None:
    """The CA's certificate verifies what it signed; one with the CA's name and another
    key does not; with no certificate of that name at hand nothing is known."""
    certificate = npki.read_certificate(holder.cert_der)
    impostor = factory.impostor_ca(ca)
    assert npki.check_signature(certificate, [ca.cert]) is npki.Signature.VERIFIED
    assert npki.check_signature(certificate, [impostor.cert]) is npki.Signature.FAILED
    assert npki.check_signature(certificate, []) is npki.Signature.UNKNOWN
    assert npki.issuer_name(certificate) == "cn=yessignCA Class 2,ou=AccreditedCA,o=yessign,c=kr"


def test_capubs_in_a_zip_come_back_beside_every_item(
    holder: Holder, ca: factory.Authority, seed_key: bytes
) -> None:
    """An NPKI zip's CaPubs (one DER certificate, or several one after another) is read;
    a damaged one is ignored, as it always was."""
    folder = factory.npki_folder("yessign", "cn=홍길동")
    tree = {f"{folder}/signCert.der": holder.cert_der, f"{folder}/signPri.key": seed_key}
    two = factory.cert_der(ca.cert) + factory.cert_der(factory.impostor_ca(ca).cert)
    (item,) = npki.open_bundle(
        {"a.zip": factory.make_zip({"NPKI/yessign/CaPubs": two} | tree)}, None
    )
    assert [a.subject for a in item.authorities] == [ca.cert.subject] * 2
    damaged = factory.make_zip({"NPKI/yessign/CaPubs": b"\x30\x03\x02\x01\x01"} | tree)
    (item,) = npki.open_bundle({"a.zip": damaged}, None)
    assert item.authorities == ()
