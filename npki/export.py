"""Write an opened certificate back out as an NPKI pair under a new password.

The key keeps its scheme family and iteration count, so Korean banking
software reads it as it read the original, and keeps its PrivateKeyInfo as
it was, randomNum included. Two cases change scheme:

- `seed-cbc-legacy` (fixed IV) is written as `seed-cbc-sha1`: the same
  PBKDF1-SHA1 + SEED-CBC family, with the IV derived from the password;
- a key that was not NPKI-encrypted (a PFX, or plain PKCS#8) is written as
  `seed-cbc-sha1` with 2048 iterations, what every Korean CA's software reads.

The NPKI zip's folder name comes from the certificate's subject, which the
uploader chose: `folder_name` keeps it to what real NPKI folders look like,
and `npki_zip` refuses any entry name that could leave the archive's root.
"""

from __future__ import annotations

import io
import os
import re
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from npki._guard import guarded
from npki.errors import Reason, UnsafeInput
from npki.keyfile import KeyEncryption, Random, encrypt_private_key_info
from npki.pair import OpenedCertificate

DEFAULT_ITERATIONS: Final = 2048
FOLDER_NAME_MAX: Final = 128
"""Characters of a folder name; real ones are about 70
(`cn=<holder>()0012345678901234,…`)."""
CA_FOLDERS: Final = {
    "yessign": "yessign",
    "kica": "KICA",
    "signkorea": "SignKorea",
    "crosscert": "CrossCert",
    "tradesign": "TradeSign",
    "ncasign": "NCASign",
}
NPKI_FILES: Final = ("signCert.der", "signPri.key", "kmCert.der", "kmPri.key")
_FOLDER_UNSAFE: Final = re.compile(r"[^\w=,()+&@'. -]")
"""Anything but letters (Hangul too), digits, `_` and the punctuation real subjects use."""
_DOTS: Final = re.compile(r"\.{2,}")

_PBES2_SCHEMES: Final = frozenset(
    {
        KeyEncryption.PBES2_SEED_CBC,
        KeyEncryption.PBES2_AES_128_CBC,
        KeyEncryption.PBES2_AES_192_CBC,
        KeyEncryption.PBES2_AES_256_CBC,
    }
)


@dataclass(frozen=True, slots=True)
class NpkiPair:
    """The two files of an NPKI folder."""

    sign_cert: bytes
    sign_key: bytes = field(repr=False)


@guarded
def export_npki_pair(
    opened: OpenedCertificate,
    password: bytes,
    *,
    rng: Random = os.urandom,
) -> NpkiPair:
    """`signCert.der` + `signPri.key`, the key re-encrypted under `password`.

    A PBES2 key keeps its cipher, PRF and iteration count; salt and IV are
    fresh, from `rng`.
    """
    if opened.encryption in _PBES2_SCHEMES:
        scheme, iterations = opened.encryption, opened.iterations or DEFAULT_ITERATIONS
    elif opened.encryption in (KeyEncryption.SEED_CBC_SHA1, KeyEncryption.SEED_CBC_LEGACY):
        scheme, iterations = KeyEncryption.SEED_CBC_SHA1, opened.iterations or DEFAULT_ITERATIONS
    else:
        scheme, iterations = KeyEncryption.SEED_CBC_SHA1, DEFAULT_ITERATIONS
    key = encrypt_private_key_info(
        opened.private_key_info,
        password,
        scheme,
        iterations,
        prf_oid=opened.key_file.prf_oid,
        rng=rng,
    )
    return NpkiPair(sign_cert=opened.certificate.der, sign_key=key)


def folder_name(subject: str) -> str:
    """`subject` as one safe folder name: `cn=<holder>()0012345678901234,ou=SHB,o=yessign,c=kr`
    stays as it is; separators, `..`, control and other unusual characters become `_`,
    leading and trailing dots and spaces go, and the length is capped."""
    text = unicodedata.normalize("NFC", subject)
    text = "".join("_" if unicodedata.category(ch)[0] == "C" else ch for ch in text)
    text = _DOTS.sub("_", _FOLDER_UNSAFE.sub("_", text))
    text = text[:FOLDER_NAME_MAX].strip(". ")
    return text or "certificate"


def npki_folder(ca: str, subject: str) -> str:
    """`NPKI/<CA>/USER/<subject>`: the layout banking software reads."""
    return f"NPKI/{folder_name(CA_FOLDERS.get(ca, ca))}/USER/{folder_name(subject)}"


def npki_zip(ca: str, subject: str, files: dict[str, bytes]) -> bytes:
    """A zip of the NPKI files in `files` under `npki_folder(ca, subject)`."""
    folder = npki_folder(ca, subject)
    return write_zip((f"{folder}/{name}", files[name]) for name in NPKI_FILES if name in files)


def write_zip(entries: Iterable[tuple[str, bytes]]) -> bytes:
    """A deflated zip of `entries`; `UnsafeInput` for a name that could leave its root."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            check_entry_name(name)
            archive.writestr(name, data)
    return buffer.getvalue()


def check_entry_name(name: str) -> None:
    """Refuse an absolute name, a `..` part, a backslash, a drive letter or a control
    character: an extracting tool could write such an entry outside the folder."""
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or ":" in name
        or any(part in ("", ".", "..") for part in parts)
        or any(unicodedata.category(ch)[0] == "C" for ch in name)
    ):
        raise UnsafeInput(Reason.ZIP_ENTRY_NAME_UNSAFE, path=name)
