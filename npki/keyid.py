"""What identifies an encrypted private key, for counting wrong passwords against it.

A lockout counted against file bytes or against the certificate is reset by
appending a byte to the file or by pairing the key with another certificate.
What an attacker must keep to go on testing passwords is the ciphertext a
password decrypts; so the key is named by that, as parsed:

- an NPKI key file: its encrypted PrivateKeyInfo;
- a PFX: each encrypted safe, and the first shrouded key bag of its plain
  safes (OpenSSL decrypts only the first). A PFX whose password can be tested
  keeps every one of its encrypted safes and that key bag, so a counter on
  each of them (locked when any is) survives any rewrite that keeps a test.

Only the first `PREFIX_BYTES` of each ciphertext are hashed: the salt, IV and
parameters, and the ciphertext's tail, can be changed by anyone, but then the
right password no longer decrypts a well-formed key, so no test is left;
the head of the ciphertext holds the key's own bytes under a random salt,
so two keys never share a name.
"""

from __future__ import annotations

import hashlib
from typing import Final

PREFIX: Final = "key:"
PREFIX_BYTES: Final = 64
_HEX_DIGITS: Final = 60


def ciphertext_id(ciphertext: bytes) -> str:
    """The name of the key (or PFX safe) encrypted as `ciphertext`: 64 characters."""
    digest = hashlib.sha256(b"certmate key id\0" + ciphertext[:PREFIX_BYTES]).hexdigest()
    return PREFIX + digest[:_HEX_DIGITS]
