"""Find every signing certificate in what a user hands over, and pair it with its key.

Input is any mix of loose files and zips of an NPKI tree
(`NPKI/<CA>/USER/<dn-folder>/signCert.der` at any depth, names in any case)
and PFX files. Each signing certificate is paired with the key in its own
folder and keeps the folder's `km` pair; unknown files inside a zip are
ignored; encryption (`km`) certificates are never reported. The CA
certificates of `CaPubs` files are handed back beside every item
(`BundleItem.authorities`), a damaged one ignored as before. When
loose files leave exactly one certificate and one key unpaired, those two are
paired (a user who picked `signCert.der` and `signPri.key` from two places).

A password, when given, is tried on every key: a key it does not open, or
that does not belong to its certificate, is reported on that certificate
(`BundleItem.key_error`) rather than raised, so one bad key does not hide
the others. Anything unsafe or damaged refuses the whole bundle.

Each key is named by its ciphertext (`BundleItem.key_ids`, `key_ids`), so a
lockout counts against the key itself, whatever file or certificate it
comes with (`npki.keyid`).

Every file is read before any key is derived, so that the rounds all of
them ask for together are checked against `Limits.kdf_total_iterations`
first: one upload cannot make us derive keys for seconds.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum, auto
from functools import partial
from typing import Final, Literal

from cryptography import x509

from npki._guard import guarded
from npki.archive import is_zip, read_zip
from npki.certificate import Certificate, parse_certificate
from npki.errors import (
    KeyMismatch,
    MalformedInput,
    NpkiError,
    Reason,
    UnsafeInput,
    WrongPassword,
)
from npki.issuer import read_authorities
from npki.keyfile import KeyEncryption, KeyFile, parse_key_file
from npki.keyid import ciphertext_id
from npki.limits import DEFAULT_LIMITS, Limits, check_kdf_budget
from npki.pair import OpenedCertificate, open_key
from npki.pfx import CheckedPfx, check_pfx, looks_like_pfx, open_checked_pfx

SIGN_CERT: Final = "signCert.der"
SIGN_KEY: Final = "signPri.key"
KM_CERT: Final = "kmCert.der"
KM_KEY: Final = "kmPri.key"


class _Role(Enum):
    SIGN_CERT = auto()
    SIGN_KEY = auto()
    KM_CERT = auto()
    KM_KEY = auto()
    PFX = auto()
    CA_PUBS = auto()


_ROLE_BY_NAME: Final = {
    "signcert.der": _Role.SIGN_CERT,
    "signpri.key": _Role.SIGN_KEY,
    "kmcert.der": _Role.KM_CERT,
    "kmpri.key": _Role.KM_KEY,
}
_CERT_SUFFIXES: Final = (".der", ".cer", ".crt", ".pem")
_PFX_SUFFIXES: Final = (".pfx", ".p12")


@dataclass(frozen=True, slots=True)
class BundleItem:
    """One signing certificate found, with its key's state."""

    certificate: Certificate
    source: Literal["npki", "pkcs12", "certificate"]
    path: str
    """Where the certificate was found (file name, or zip name/member path)."""
    encryption: KeyEncryption | None
    """How its key is protected; None when no key came with it."""
    iterations: int | None
    files: Mapping[str, bytes] = field(repr=False)
    """The files to keep for it: signCert.der, signPri.key, kmCert.der, kmPri.key, or a PFX."""
    opened: OpenedCertificate | None = field(default=None, repr=False)
    """The opened key, when the password opened it and it belongs to the certificate."""
    key_error: WrongPassword | KeyMismatch | None = None
    key_ids: tuple[str, ...] = ()
    """What a lockout counts against: its key's ciphertext(s); empty when no key came."""
    authorities: tuple[x509.Certificate, ...] = field(default=(), repr=False, compare=False)
    """The CA certificates of the `CaPubs` files that came with it (unverified: anyone
    can write one)."""

    @property
    def has_key(self) -> bool:
        return self.encryption is not None


@dataclass(slots=True)
class _Entry:
    path: str
    data: bytes
    role: _Role


@dataclass(slots=True)
class _Folder:
    certs: list[_Entry] = field(default_factory=list)
    keys: list[_Entry] = field(default_factory=list)
    km_cert: _Entry | None = None
    km_key: _Entry | None = None


@dataclass(frozen=True, slots=True)
class _Found:
    """A signing certificate read, its key not yet tried."""

    kdf_iterations: int
    """What trying its key with a password costs: the iteration counts it names."""
    open: Callable[[bytes | None], BundleItem]


@guarded
def open_bundle(
    files: Mapping[str, bytes],
    password: bytes | None,
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> list[BundleItem]:
    """Every signing certificate in `files` (name → bytes), with keys opened by `password`."""
    entries = _expand(files, limits)
    pairs = _pairs(entries)
    found: list[_Found] = []
    for entry in entries:
        if entry.role is _Role.PFX:
            found.append(_pfx_found(entry, limits))
        elif entry.role is _Role.SIGN_CERT:
            key, folder = pairs[id(entry)]
            npki_found = _npki_found(entry, key, folder, limits)
            if npki_found is not None:
                found.append(npki_found)
    if password is not None:
        check_kdf_budget(
            sum(f.kdf_iterations for f in found), limits, Reason.UPLOAD_ROUNDS_OVER_LIMIT
        )
    authorities = _authorities(entries, limits)
    items = _unique([f.open(password) for f in found])
    return [replace(item, authorities=authorities) for item in items]


@guarded
def key_ids(
    files: Mapping[str, bytes], *, limits: Limits = DEFAULT_LIMITS
) -> list[tuple[str, ...]]:
    """The names of every private key in `files`, one tuple per key file or PFX, derived
    from the envelopes only (no password, no key derivation)."""
    found: list[tuple[str, ...]] = []
    for entry in _expand(files, limits):
        if entry.role is _Role.SIGN_KEY:
            found.append(_key_file_ids(parse_key_file(entry.data, limits)))
        elif entry.role is _Role.PFX:
            found.append(check_pfx(entry.data, limits).key_ids)
    return [ids for ids in found if ids]


def _key_file_ids(key_file: KeyFile) -> tuple[str, ...]:
    return (ciphertext_id(key_file.payload),) if key_file.is_encrypted else ()


def _authorities(entries: list[_Entry], limits: Limits) -> tuple[x509.Certificate, ...]:
    """The CA certificates of every readable `CaPubs` file."""
    found: list[x509.Certificate] = []
    for entry in entries:
        if entry.role is _Role.CA_PUBS:
            try:
                found.extend(read_authorities(entry.data, limits))
            except NpkiError:
                continue  # a damaged CaPubs was always ignored; it still is
    return tuple(found)


def _expand(files: Mapping[str, bytes], limits: Limits) -> list[_Entry]:
    entries: list[_Entry] = []
    for name, data in files.items():
        if len(data) > limits.upload_bytes:
            raise UnsafeInput(
                Reason.FILE_TOO_LARGE, name=_basename(name), limit=limits.upload_bytes
            )
        if is_zip(name, data):
            for path, content in read_zip(data, limits):
                role = _role_in_zip(path)
                if role is not None:
                    entries.append(_Entry(f"{name}/{path}", content, role))
        else:
            role = _role_in_zip(name) or _role_of_loose(name) or _sniff(name, data, limits)
            entries.append(_Entry(name, data, role))
    return entries


def _role_in_zip(path: str) -> _Role | None:
    """The role of a file by its NPKI name; inside a zip, other files are ignored."""
    base = _basename(path).lower()
    if base in _ROLE_BY_NAME:
        return _ROLE_BY_NAME[base]
    if base.startswith("capubs"):
        return _Role.CA_PUBS
    if base.endswith(_PFX_SUFFIXES):
        return _Role.PFX
    return None


def _role_of_loose(path: str) -> _Role | None:
    """The role of a file a user picked by hand, by its suffix."""
    base = _basename(path).lower()
    if base.startswith("capubs"):
        return _Role.CA_PUBS
    if base.endswith(_CERT_SUFFIXES):
        return _Role.SIGN_CERT
    if base.endswith(".key"):
        return _Role.SIGN_KEY
    return None


def _sniff(name: str, data: bytes, limits: Limits) -> _Role:
    """The role of a loose file whose name says nothing, from its content."""
    if looks_like_pfx(data):
        return _Role.PFX
    try:
        parse_certificate(data, limits)
    except MalformedInput:
        pass
    else:
        return _Role.SIGN_CERT
    try:
        parse_key_file(data, limits)
    except MalformedInput:
        pass
    else:
        return _Role.SIGN_KEY
    raise MalformedInput(Reason.FILE_NOT_RECOGNISED, name=_basename(name))


def _pairs(entries: list[_Entry]) -> dict[int, tuple[_Entry | None, _Folder]]:
    """For every certificate entry (by id): its key or None, and its folder."""
    folders: dict[str, _Folder] = {}
    for entry in entries:
        folder = folders.setdefault(posixpath.dirname(entry.path), _Folder())
        if entry.role is _Role.SIGN_CERT:
            folder.certs.append(entry)
        elif entry.role is _Role.SIGN_KEY:
            folder.keys.append(entry)
        elif entry.role is _Role.KM_CERT:
            folder.km_cert = entry
        elif entry.role is _Role.KM_KEY:
            folder.km_key = entry
    key_of: dict[int, _Entry] = {}
    lonely_certs: list[_Entry] = []
    lonely_keys: list[_Entry] = []
    for folder in folders.values():
        if len(folder.certs) == 1 and len(folder.keys) == 1:
            key_of[id(folder.certs[0])] = folder.keys[0]
        else:
            lonely_certs.extend(folder.certs)
            lonely_keys.extend(folder.keys)
    if len(lonely_certs) == 1 and len(lonely_keys) == 1:
        key_of[id(lonely_certs[0])] = lonely_keys[0]
    return {
        id(cert): (key_of.get(id(cert)), folder)
        for folder in folders.values()
        for cert in folder.certs
    }


def _npki_found(cert: _Entry, key: _Entry | None, folder: _Folder, limits: Limits) -> _Found | None:
    certificate = parse_certificate(cert.data, limits)
    if not certificate.is_signing:
        return None
    files = {SIGN_CERT: certificate.der}
    key_file: KeyFile | None = None
    if key is not None:
        key_file = parse_key_file(key.data, limits)
        files[SIGN_KEY] = key.data
        if len(folder.certs) == 1:
            if folder.km_cert is not None:
                files[KM_CERT] = folder.km_cert.data
            if folder.km_key is not None:
                files[KM_KEY] = folder.km_key.data
    item = BundleItem(
        certificate=certificate,
        source="npki" if key is not None else "certificate",
        path=cert.path,
        encryption=key_file.encryption if key_file else None,
        iterations=key_file.iterations if key_file else None,
        files=files,
        key_ids=_key_file_ids(key_file) if key_file else (),
    )
    if key_file is None:
        return _Found(0, lambda _password: item)
    return _Found(key_file.iterations or 0, partial(_open_npki_key, item, key_file, limits))


def _open_npki_key(
    item: BundleItem, key_file: KeyFile, limits: Limits, password: bytes | None
) -> BundleItem:
    """`item` with its key opened by `password`, or the reason it did not open."""
    if password is None:
        return item
    try:
        opened = open_key(item.certificate, key_file, password, limits)
    except (WrongPassword, KeyMismatch) as err:
        return replace(item, key_error=err)
    return replace(item, opened=opened)


def _pfx_found(entry: _Entry, limits: Limits) -> _Found:
    pfx = check_pfx(entry.data, limits)
    return _Found(pfx.kdf_iterations, partial(_open_pfx, entry.path, pfx, limits))


def _open_pfx(path: str, pfx: CheckedPfx, limits: Limits, password: bytes | None) -> BundleItem:
    opened = open_checked_pfx(pfx, password, limits)
    return BundleItem(
        certificate=opened.certificate,
        source="pkcs12",
        path=path,
        encryption=KeyEncryption.PKCS12,
        iterations=None,
        files={_basename(path): pfx.data},
        opened=opened,
        key_ids=pfx.key_ids,
    )


def _unique(items: list[BundleItem]) -> list[BundleItem]:
    """One item per certificate; a copy that came with a key wins over one without."""
    chosen: dict[str, BundleItem] = {}
    for item in items:
        previous = chosen.get(item.certificate.fingerprint_sha256)
        if previous is None or (item.has_key and not previous.has_key):
            chosen[item.certificate.fingerprint_sha256] = item
    return list(chosen.values())


def _basename(path: str) -> str:
    return posixpath.basename(path.replace("\\", "/"))
