"""Write an opened certificate back out as an NPKI pair under a new password.

The key keeps its scheme family and iteration count, so Korean banking
software reads it as it read the original, and keeps its PrivateKeyInfo as
it was, randomNum included. Two cases change scheme:

- `seed-cbc-legacy` (fixed IV) is written as `seed-cbc-sha1`: the same
  PBKDF1-SHA1 + SEED-CBC family, with the IV derived from the password;
- a key that was not NPKI-encrypted (a PFX, or plain PKCS#8) is written as
  `seed-cbc-sha1` with 2048 iterations, what every Korean CA's software reads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Final

from npki._guard import guarded
from npki.keyfile import KeyEncryption, Random, encrypt_private_key_info
from npki.pair import OpenedCertificate

DEFAULT_ITERATIONS: Final = 2048

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
