"""Reading certificates: the facts certmate shows and keeps."""

from __future__ import annotations

import hashlib
import ssl
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization

import npki
from tests import factory
from tests.conftest import Holder


def test_reads_the_facts_of_a_korean_bank_certificate(holder: Holder) -> None:
    """Subject in NPKI folder style, holder before '(', CA, policy, usage, serial, times."""
    cert = npki.read_certificate(holder.cert_der)
    assert cert.subject == "cn=홍길동()0012345678901234,ou=SHB,ou=personal4IB,o=yessign,c=kr"
    assert cert.holder == "홍길동"
    assert cert.ca == "yessign"
    assert cert.policy_oid == "1.2.410.200005.1.1.4"
    assert cert.usage == "bank"
    assert cert.holder_type == "personal"
    assert cert.serial == "1a2b3c"
    assert cert.not_before == datetime(2025, 6, 30, 15, 0, tzinfo=UTC)
    assert cert.not_after == datetime(2026, 7, 1, 14, 59, 59, tzinfo=UTC)
    assert cert.fingerprint_sha256 == hashlib.sha256(holder.cert_der).hexdigest()
    assert cert.has_identify_data
    assert cert.is_signing
    assert cert.der == holder.cert_der


def test_pem_and_der_give_the_same_certificate(holder: Holder) -> None:
    """A PEM file reads as the DER it wraps."""
    pem = holder.cert.public_bytes(serialization.Encoding.PEM)
    assert npki.read_certificate(pem) == npki.read_certificate(holder.cert_der)


def test_trailing_bytes_after_the_certificate_are_ignored(holder: Holder) -> None:
    """Real files sometimes carry junk after the DER structure."""
    cert = npki.read_certificate(holder.cert_der + b"\x00" * 46)
    assert cert.fingerprint_sha256 == hashlib.sha256(holder.cert_der).hexdigest()


def test_english_name_in_parentheses_is_not_part_of_the_holder(ca: factory.Authority) -> None:
    """`HONG GILDONG(홍길동)0012…` style CNs: the holder is what comes before '('."""
    key = factory.rsa_key()
    cert = factory.make_cert(ca, key, cn="HONGGILDONG(홍길동)0012345678901234")
    assert npki.read_certificate(factory.cert_der(cert)).holder == "HONGGILDONG"


def test_identify_data_absent_is_reported(ca: factory.Authority, holder: Holder) -> None:
    """A certificate without the KISA identifyData SAN says so."""
    cert = factory.make_cert(ca, holder.key, with_identify_data=False)
    assert not npki.read_certificate(factory.cert_der(cert)).has_identify_data


def test_encryption_certificate_is_not_a_signing_one(ca: factory.Authority, holder: Holder) -> None:
    """A km certificate (keyEncipherment only) is recognised as such."""
    cert = factory.make_cert(ca, holder.key, encryption_only=True)
    assert not npki.read_certificate(factory.cert_der(cert)).is_signing


@pytest.mark.parametrize("policy", list(npki.POLICIES.values()), ids=lambda p: p.oid)
def test_every_policy_in_the_table_is_recognised(
    ca: factory.Authority, holder: Holder, policy: npki.Policy
) -> None:
    """Each row of the policy table maps its OID to CA, usage and holder type."""
    cert = npki.read_certificate(
        factory.cert_der(factory.make_cert(ca, holder.key, policy_oid=policy.oid))
    )
    assert (cert.policy_oid, cert.ca, cert.usage, cert.holder_type) == (
        policy.oid,
        policy.ca,
        policy.usage,
        policy.holder_type,
    )
    assert cert.policy is policy


def test_policy_table_has_a_row_for_each_ca_and_usage() -> None:
    """The table covers all six CAs and every restricted-use kind."""
    assert {p.ca for p in npki.POLICIES.values()} == {
        "yessign",
        "kica",
        "signkorea",
        "crosscert",
        "tradesign",
        "ncasign",
    }
    assert {p.usage for p in npki.POLICIES.values()} >= {
        "general",
        "bank",
        "securities",
        "card",
        "e-government",
        "e-tax",
        "corporate-banking",
        "encryption",
    }
    for policy in npki.POLICIES.values():
        assert policy.name.isidentifier()  # a catalog key's last part: policy.<name>


@pytest.mark.parametrize(
    ("organization", "expected"),
    [
        ("yessign", "yessign"),
        ("KICA", "kica"),
        ("SignKorea", "signkorea"),
        ("CrossCert", "crosscert"),
        ("TradeSign", "tradesign"),
        ("NCASign", "ncasign"),
        ("Some Other CA", "unknown"),
    ],
)
def test_unknown_policy_falls_back_to_the_issuer_organization(
    holder: Holder, organization: str, expected: str
) -> None:
    """An OID not in the table: CA from the issuer's O, usage and holder type unknown."""
    ca = factory.make_ca(organization)
    cert = npki.read_certificate(
        factory.cert_der(factory.make_cert(ca, holder.key, policy_oid="1.2.3.4.5"))
    )
    assert (cert.ca, cert.usage, cert.holder_type, cert.policy_oid) == (
        expected,
        "unknown",
        "unknown",
        "1.2.3.4.5",
    )


def test_certificate_without_policies(ca: factory.Authority, holder: Holder) -> None:
    """No certificatePolicies extension: no OID, usage unknown."""
    cert = npki.read_certificate(
        factory.cert_der(factory.make_cert(ca, holder.key, policy_oid=None))
    )
    assert cert.policy_oid is None
    assert cert.usage == "unknown"


@pytest.mark.parametrize(
    "data",
    [b"", b"\x30", b"\x30\x82\xff\xff", b"not a certificate at all", b"-----BEGIN CERT"],
)
def test_garbage_is_malformed_input(data: bytes) -> None:
    """Anything that is not a certificate raises MalformedInput."""
    with pytest.raises(npki.MalformedInput):
        npki.read_certificate(data)


def test_truncated_certificate_is_malformed(holder: Holder) -> None:
    """A cut-short file says so instead of crashing."""
    with pytest.raises(npki.MalformedInput):
        npki.read_certificate(holder.cert_der[:-10])


def test_invalid_version_is_malformed_not_a_crash(holder: Holder) -> None:
    """cryptography's InvalidVersion (not a ValueError) is converted at the boundary."""
    tbs_version = bytes.fromhex("a003020102")  # [0] { INTEGER 2 } = v3
    assert tbs_version in holder.cert_der
    broken = holder.cert_der.replace(tbs_version, bytes.fromhex("a003020107"), 1)
    with pytest.raises(npki.MalformedInput):
        npki.read_certificate(broken)


def test_oversized_certificate_is_refused_unread() -> None:
    """A file over the upload limit is unsafe input."""
    with pytest.raises(npki.UnsafeInput):
        npki.read_certificate(b"\x30" * 2048, limits=npki.Limits(upload_bytes=1024))


def test_errors_name_their_reason() -> None:
    """A refusal says why as a reason, not as a sentence to show: junk is cut short."""
    with pytest.raises(npki.MalformedInput) as caught:
        npki.read_certificate(b"junk")
    assert caught.value.reason is npki.Reason.FILE_CUT_SHORT
    assert str(caught.value) == "The file is cut short."


# --- zero and negative serials (RFC 5280 forbids them; CAs have issued them) ---------

_VERSION_3 = bytes.fromhex("a003020102")  # [0] { INTEGER 2 }: the serial comes right after


def _with_serial(ca: factory.Authority, holder: Holder, content: bytes) -> bytes:
    """The holder's certificate with its serial INTEGER's content octets set to `content`.

    cryptography's builder refuses serials below 1, so the DER is patched; the
    signature no longer verifies, which reading does not check.
    """
    template = factory.make_cert(ca, holder.key, serial=int.from_bytes(b"\x01" * len(content)))
    original = factory.cert_der(template)
    serial = bytes([0x02, len(content)]) + b"\x01" * len(content)
    assert original.count(_VERSION_3 + serial) == 1
    return original.replace(_VERSION_3 + serial, _VERSION_3 + serial[:2] + content)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("00", "0"),  # zero
        ("ff", "ff"),  # -1
        ("e6", "e6"),  # -0x1a
        ("80", "80"),  # -128
        ("ff7f", "ff7f"),  # -129: the sign needs a second octet
        ("e5d4c4", "e5d4c4"),  # -0x1a2b3c
        ("7f", "7f"),  # positive, for comparison
    ],
)
@pytest.mark.parametrize("form", ["der", "pem"])
def test_zero_or_negative_serial_reads_as_hex_without_a_warning(
    ca: factory.Authority, holder: Holder, content: str, expected: str, form: str
) -> None:
    """A negative serial is the hex of its DER two's-complement octets; never a sign.

    cryptography warns about such serials (an error under pytest's
    filterwarnings=error, so a warning escaping would fail this test).
    """
    data = _with_serial(ca, holder, bytes.fromhex(content))
    if form == "pem":
        data = ssl.DER_cert_to_PEM_cert(data).encode()
    assert npki.read_certificate(data).serial == expected


def test_negative_serial_in_a_pair_and_a_pfx(
    ca: factory.Authority, holder: Holder, seed_key: bytes
) -> None:
    """open_pair, export_pfx and open_pfx carry a negative serial through unchanged."""
    cert_der = _with_serial(ca, holder, bytes.fromhex("e5d4c4"))
    opened = npki.open_pair(cert_der, seed_key, factory.PASSWORD)
    assert opened.certificate.serial == "e5d4c4"
    pfx = npki.export_pfx(opened, b"pfx-pw", iterations=1000)
    again = npki.open_pfx(pfx, b"pfx-pw")
    assert again.certificate.serial == "e5d4c4"
    assert again.certificate.der == cert_der


# --- trailing bytes after the DER -----------------------------------------------------


@pytest.mark.parametrize("extra", [46, 4096])
def test_a_few_trailing_bytes_are_read_as_real_files_carry_them(holder: Holder, extra: int) -> None:
    """Real NPKI files carry tens of bytes after their DER (46 in a TradeSign key): a
    certificate or key with up to `trailing_bytes` (4096) extra is read as usual."""
    cert = npki.read_certificate(holder.cert_der + b"\x00" * extra)
    assert cert.der == holder.cert_der
    key = factory.seed_cbc_sha1_key(holder.plain, factory.PASSWORD)
    assert npki.read_key_file(key + b"\x00" * extra).iterations == 2048


@pytest.mark.parametrize("extra", [4097, 1024 * 1024 - 2048])
def test_a_certificate_with_a_megabyte_appended_is_refused(holder: Holder, extra: int) -> None:
    """The attack: a real certificate with up to a megabyte appended (within the upload
    limit) was read and kept, megabyte and all. Past `trailing_bytes` it is unsafe."""
    with pytest.raises(npki.UnsafeInput) as refused:
        npki.read_certificate(holder.cert_der + b"\x00" * extra)
    assert refused.value.reason is npki.Reason.CERTIFICATE_TRAILING_DATA
    assert dict(refused.value.params) == {"size": extra, "limit": 4096}
    key = factory.seed_cbc_sha1_key(holder.plain, factory.PASSWORD)
    with pytest.raises(npki.UnsafeInput):
        npki.read_key_file(key + b"\x00" * extra)
    with pytest.raises(npki.UnsafeInput):
        npki.open_bundle({"signCert.der": holder.cert_der + b"\x00" * extra}, None)


def test_a_pem_certificate_with_a_megabyte_appended_is_refused(holder: Holder) -> None:
    """The same in PEM: bytes after the END line count as trailing bytes."""
    pem = holder.cert.public_bytes(serialization.Encoding.PEM)
    assert npki.read_certificate(pem + b"\n" * 10).der == holder.cert_der
    with pytest.raises(npki.UnsafeInput):
        npki.read_certificate(pem + b"x" * (512 * 1024))


def test_the_trailing_limit_is_a_parameter(holder: Holder) -> None:
    """`Limits(trailing_bytes=…)` moves the line."""
    limits = npki.Limits(trailing_bytes=10)
    assert npki.read_certificate(holder.cert_der + b"\x00" * 10, limits=limits)
    with pytest.raises(npki.UnsafeInput):
        npki.read_certificate(holder.cert_der + b"\x00" * 11, limits=limits)
