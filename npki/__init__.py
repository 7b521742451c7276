"""NPKI certificates (Korea's joint certificates, formerly "accredited"): bytes in, facts out.

A pure library: no files, network, database or chat. The public surface:

- `read_certificate(data)` → `Certificate` (DER or PEM)
- `read_key_file(data)` → `KeyFile` (scheme and iterations, not decrypted)
- `open_pair(cert, key, password)` → `OpenedCertificate`
- `open_pfx(data, password)` → `OpenedCertificate`
- `open_bundle(files, password)` → `list[BundleItem]` (loose files, zips, PFX)
- `key_ids(files)` → the names of the private keys in `files` (for lockouts)
- `check_signature(certificate, authorities)` → `Signature` (did a CA's key sign it)
- `read_ca_certificates(data)` → CA certificates (PEM, or DER one after another)
- `export_pfx(opened, password)` → PFX bytes (AES-256, PBKDF2-SHA256)
- `export_npki_pair(opened, password)` → `NpkiPair` (signCert.der + signPri.key)
- `npki_zip(ca, subject, files)` → zip bytes, `NPKI/<CA>/USER/<safe folder>/…`

Every function takes `limits=` (`Limits`) and raises only `NpkiError`
subclasses; see `npki.errors` for the tree. Each error names its `Reason`
and carries the params that fill a message; the library holds no user texts.
"""

from npki._guard import guarded
from npki.bundle import BundleItem, key_ids, open_bundle
from npki.certificate import Certificate, parse_certificate
from npki.errors import (
    KeyMismatch,
    MalformedInput,
    NpkiError,
    PasswordRequired,
    Reason,
    UnsafeInput,
    UnsupportedFormat,
    WrongPassword,
)
from npki.export import NpkiPair, export_npki_pair, folder_name, npki_zip
from npki.issuer import Signature, check_signature, issuer_name, read_authorities
from npki.keyfile import KeyEncryption, KeyFile, parse_key_file
from npki.limits import DEFAULT_LIMITS, Limits
from npki.pair import OpenedCertificate, open_pair
from npki.pfx import export_pfx, open_pfx
from npki.policies import CA_CODES, POLICIES, USAGES, Policy

read_certificate = guarded(parse_certificate)
read_key_file = guarded(parse_key_file)
read_ca_certificates = read_authorities

__all__ = [
    "CA_CODES",
    "DEFAULT_LIMITS",
    "POLICIES",
    "USAGES",
    "BundleItem",
    "Certificate",
    "KeyEncryption",
    "KeyFile",
    "KeyMismatch",
    "Limits",
    "MalformedInput",
    "NpkiError",
    "NpkiPair",
    "OpenedCertificate",
    "PasswordRequired",
    "Policy",
    "Reason",
    "Signature",
    "UnsafeInput",
    "UnsupportedFormat",
    "WrongPassword",
    "check_signature",
    "export_npki_pair",
    "export_pfx",
    "folder_name",
    "issuer_name",
    "key_ids",
    "npki_zip",
    "open_bundle",
    "open_pair",
    "open_pfx",
    "read_ca_certificates",
    "read_certificate",
    "read_key_file",
]
