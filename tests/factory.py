"""Test certificates and key files, made at run time: a throwaway CA, Korean subjects, every scheme.

Key files are encrypted here by a reference implementation written from the
specifications in NPKI.md (PBKDF1/PBKDF2, SEED/AES-CBC, DER by hand), not
by `npki`, so reading them with `npki` is a real check. PFX files come from
the `openssl` command, a third implementation.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import SEED
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.x509.oid import NameOID

from tests import der

OID_SEED_CBC_WITH_SHA1 = "1.2.410.200004.1.15"
OID_SEED_CBC = "1.2.410.200004.1.4"
OID_PBES2 = "1.2.840.113549.1.5.13"
OID_PBKDF2 = "1.2.840.113549.1.5.12"
OID_HMAC_SHA256 = "1.2.840.113549.2.9"
OID_RANDOM_NUM = "1.2.410.200004.10.1.1.3"
OID_IDENTIFY_DATA = "1.2.410.200004.10.1.1"
AES_CBC = {
    16: "2.16.840.1.101.3.4.1.2",
    24: "2.16.840.1.101.3.4.1.22",
    32: "2.16.840.1.101.3.4.1.42",
}

BANK_PERSONAL = "1.2.410.200005.1.1.4"  # yessign 은행/신용카드/보험용 개인
HOLDER_CN = "홍길동()0012345678901234"
PASSWORD = b"p@ssw0rd!1"


def rsa_key(bits: int = 1024) -> rsa.RSAPrivateKey:
    """A fresh RSA key; 1024 bits where the size does not matter (fast to make)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@dataclass(frozen=True)
class Authority:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate


def make_ca(organization: str = "yessign") -> Authority:
    key = rsa_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "kr"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "AccreditedCA"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{organization}CA Class 2"),
        ]
    )
    now = datetime(2024, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Authority(key, cert)


def impostor_ca(real: Authority) -> Authority:
    """A CA certificate with `real`'s very name over another key: what a forger writes to
    pass for that CA."""
    key = rsa_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(real.cert.subject)
        .issuer_name(real.cert.subject)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(real.cert.not_valid_before_utc)
        .not_valid_after(real.cert.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Authority(key, cert)


def forged_copy(
    template: x509.Certificate,
    key: rsa.RSAPrivateKey,
    *,
    not_after: datetime,
    signer: rsa.RSAPrivateKey | None = None,
    issuer: x509.Name | None = None,
) -> x509.Certificate:
    """`template`'s subject and extensions over `key`, expiring at `not_after`: self-signed
    by default, or signed by `signer` in the name of `issuer`."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(template.subject)
        .issuer_name(issuer if issuer is not None else template.subject)
        .public_key(key.public_key())
        .serial_number(template.serial_number + 1)
        .not_valid_before(template.not_valid_before_utc)
        .not_valid_after(not_after)
    )
    for extension in template.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    return builder.sign(signer or key, hashes.SHA256())


def identify_data(real_name: str) -> bytes:
    """The DER of a KISA identifyData value (real name and a VID)."""
    vid = der.seq(
        der.seq(der.oid("2.16.840.1.101.3.4.2.1"), der.null()),
        der.context(0, der.octets(hashlib.sha256(b"not a real VID").digest())),
    )
    return der.seq(der.utf8(real_name), der.seq(der.seq(der.oid("1.2.410.200004.10.1.1.1"), vid)))


def make_cert(
    ca: Authority,
    key: rsa.RSAPrivateKey,
    *,
    cn: str = HOLDER_CN,
    ous: tuple[str, ...] = ("personal4IB", "SHB"),
    policy_oid: str | None = BANK_PERSONAL,
    not_before: datetime = datetime(2025, 6, 30, 15, 0, tzinfo=UTC),
    not_after: datetime = datetime(2026, 7, 1, 14, 59, 59, tzinfo=UTC),
    serial: int = 0x1A2B3C,
    with_identify_data: bool = True,
    encryption_only: bool = False,
) -> x509.Certificate:
    """A user certificate as a Korean CA issues it (subject `cn=…,ou=…,o=<CA>,c=kr`)."""
    issuer_o = ca.cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "kr"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, str(issuer_o)),
        *(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou) for ou in ous),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ]
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attributes))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if policy_oid is not None:
        builder = builder.add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier(policy_oid), None)]
            ),
            critical=True,
        )
    usage = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    if encryption_only:
        usage["key_encipherment"] = True
    else:
        usage["digital_signature"] = usage["content_commitment"] = True
    builder = builder.add_extension(x509.KeyUsage(**usage), critical=True)
    if with_identify_data:
        real_name = cn.split("(", 1)[0]
        other = x509.OtherName(x509.ObjectIdentifier(OID_IDENTIFY_DATA), identify_data(real_name))
        builder = builder.add_extension(x509.SubjectAlternativeName([other]), critical=False)
    return builder.sign(ca.key, hashes.SHA256())


def cert_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def private_key_info(key: rsa.RSAPrivateKey, random_num: bytes | None = None) -> bytes:
    """PKCS#8 PrivateKeyInfo, with the KISA randomNum attribute when given."""
    plain = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    if random_num is None:
        return plain
    # Re-wrap: version, algorithm, key octets, then attributes [0].
    body = _children(plain)
    attribute = der.seq(der.oid(OID_RANDOM_NUM), der.set_of(der.bit_string(random_num)))
    return der.seq(*body, der.context(0, attribute))


def _children(element: bytes) -> list[bytes]:
    """The encoded children of a DER SEQUENCE (enough for PKCS#8 here)."""
    content = _content(element)
    children = []
    while content:
        length, header = _length(content)
        children.append(content[: header + length])
        content = content[header + length :]
    return children


def _length(data: bytes) -> tuple[int, int]:
    first = data[1]
    if first < 0x80:
        return first, 2
    count = first & 0x7F
    return int.from_bytes(data[2 : 2 + count], "big"), 2 + count


def _content(element: bytes) -> bytes:
    length, header = _length(element)
    return element[header : header + length]


# --- reference key-file writers (from the specifications, not from npki) -----


def pbkdf1_sha1(password: bytes, salt: bytes, iterations: int) -> bytes:
    digest = hashlib.sha1(password + salt).digest()
    for _ in range(iterations - 1):
        digest = hashlib.sha1(digest).digest()
    return digest


def _cbc_encrypt(
    algorithm: Callable[[bytes], BlockCipherAlgorithm], key: bytes, iv: bytes, plain: bytes
) -> bytes:
    padder = padding.PKCS7(128).padder()
    data = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithm(key), modes.CBC(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def seed_cbc_sha1_key(
    plain: bytes, password: bytes, *, iterations: int = 2048, salt: bytes | None = None
) -> bytes:
    salt = salt if salt is not None else os.urandom(8)
    dk = pbkdf1_sha1(password, salt, iterations)
    iv = hashlib.sha1(dk[16:20]).digest()[:16]
    ciphertext = _cbc_encrypt(SEED, dk[:16], iv, plain)
    params = der.seq(der.octets(salt), der.integer(iterations))
    return der.seq(der.seq(der.oid(OID_SEED_CBC_WITH_SHA1), params), der.octets(ciphertext))


def seed_legacy_key(plain: bytes, password: bytes, *, iterations: int = 2048) -> bytes:
    salt = os.urandom(8)
    key = pbkdf1_sha1(password, salt, iterations)[:16]
    ciphertext = _cbc_encrypt(SEED, key, b"0123456789012345", plain)
    params = der.seq(der.octets(salt), der.integer(iterations))
    return der.seq(der.seq(der.oid(OID_SEED_CBC), params), der.octets(ciphertext))


def pbes2_key(
    plain: bytes,
    password: bytes,
    *,
    cipher: str = "seed",
    key_bytes: int = 16,
    iterations: int = 2048,
    prf_sha256: bool = False,
    with_key_length: bool = False,
) -> bytes:
    salt, iv = os.urandom(8), os.urandom(16)
    prf = hashes.SHA256() if prf_sha256 else hashes.SHA1()
    key = PBKDF2HMAC(prf, key_bytes, salt, iterations).derive(password)
    algorithm: Callable[[bytes], BlockCipherAlgorithm]
    if cipher == "seed":
        algorithm, cipher_oid = SEED, OID_SEED_CBC
    else:
        algorithm, cipher_oid = algorithms.AES, AES_CBC[key_bytes]
    ciphertext = _cbc_encrypt(algorithm, key, iv, plain)
    kdf_fields = [der.octets(salt), der.integer(iterations)]
    if with_key_length:
        kdf_fields.append(der.integer(key_bytes))
    if prf_sha256:
        kdf_fields.append(der.seq(der.oid(OID_HMAC_SHA256), der.null()))
    params = der.seq(
        der.seq(der.oid(OID_PBKDF2), der.seq(*kdf_fields)),
        der.seq(der.oid(cipher_oid), der.octets(iv)),
    )
    return der.seq(der.seq(der.oid(OID_PBES2), params), der.octets(ciphertext))


# --- bundles ------------------------------------------------------------------


def npki_folder(ca_folder: str, subject: str) -> str:
    return f"NPKI/{ca_folder}/USER/{subject}"


def make_zip(files: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def openssl_pfx(
    key: rsa.RSAPrivateKey, cert: x509.Certificate, password: str, *, cipher: str
) -> bytes:
    """A PFX written by the `openssl` command: cipher `seed`, `3des` or `aes`."""
    options = {
        "seed": ["-legacy", "-keypbe", "SEED-CBC", "-certpbe", "SEED-CBC"],
        "3des": ["-legacy"],
        "aes": ["-keypbe", "AES-256-CBC", "-certpbe", "AES-256-CBC"],
    }[cipher]
    return openssl_pkcs12(key, cert, password, *options)


def openssl_pkcs12(
    key: rsa.RSAPrivateKey, cert: x509.Certificate, password: str, *options: str
) -> bytes:
    """`openssl pkcs12 -export` of `key` and `cert` under `password`, with `options` added."""
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command is needed to make PFX test files"
    with tempfile.TemporaryDirectory() as folder:
        key_path, cert_path, out = (Path(folder) / n for n in ("k.pem", "c.pem", "o.pfx"))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        subprocess.run(
            [openssl, "pkcs12", "-export", "-inkey", str(key_path), "-in", str(cert_path),
             "-out", str(out), "-passout", f"pass:{password}", *options],
            check=True,
            capture_output=True,
        )  # fmt: skip
        return out.read_bytes()
