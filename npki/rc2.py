"""RC2 decryption (RFC 2268), with any effective key length.

Legacy PFX files (OpenSSL's `-legacy`, and what Windows wrote for years)
encrypt their certificate safe with pbeWithSHAAnd40BitRC2-CBC: a 40-bit
key. `cryptography` offers RC2 with 128-bit keys only, so this is RC2
written out from the RFC. It only ever decrypts the few KB of a
certificate safe, so that `npki.pfx` can look inside before OpenSSL reads
the file: it is written to be read, not to be fast, and it never encrypts.
"""

from __future__ import annotations

from typing import Final

BLOCK_BYTES: Final = 8

# PITABLE (RFC 2268 section 2): a permutation of 0..255 built from the digits of pi.
_PITABLE: Final = bytes.fromhex(
    "d978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2"
    "179a59f587b34f1361456d8d09817d32bd8f40eb86b77b0bf09521225c6b4e82"
    "54d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626"
    "6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed7"
    "08e8eade8052eef784aa72ac354d6a2a961ad2715a1549744b9fd05e0418a4ec"
    "c2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731"
    "2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a9"
    "0d38341bab33ffb0bb480c5fb9b1cd2ec5f3db47e5a59c770aa62068fe7fc1ad"
)
_ROTATIONS: Final = (1, 2, 3, 5)
_MASK: Final = 0xFFFF


def expand_key(key: bytes, effective_bits: int) -> tuple[int, ...]:
    """The 64 sixteen-bit words K[0..63] of `key` cut to `effective_bits` (RFC 2268 §2)."""
    if not 1 <= len(key) <= 128 or not 1 <= effective_bits <= 1024:
        raise ValueError("RC2 takes a key of 1 to 128 bytes and 1 to 1024 effective bits")
    size = len(key)
    buffer = bytearray(key) + bytearray(128 - size)
    for i in range(size, 128):
        buffer[i] = _PITABLE[(buffer[i - 1] + buffer[i - size]) & 0xFF]
    effective_bytes = (effective_bits + 7) // 8
    mask = 0xFF >> (8 * effective_bytes - effective_bits)
    buffer[128 - effective_bytes] = _PITABLE[buffer[128 - effective_bytes] & mask]
    for i in range(127 - effective_bytes, -1, -1):
        buffer[i] = _PITABLE[buffer[i + 1] ^ buffer[i + effective_bytes]]
    return tuple(buffer[2 * i] | buffer[2 * i + 1] << 8 for i in range(64))


def decrypt_block(words: tuple[int, ...], block: bytes) -> bytes:
    """One 8-byte block decrypted with expanded key `words` (RFC 2268 §4.5)."""
    r = [block[2 * i] | block[2 * i + 1] << 8 for i in range(4)]
    j = 63

    def mix_round() -> None:  # §4.1-4.2: "r-mix up" R[3], R[2], R[1], R[0]
        nonlocal j
        for i in (3, 2, 1, 0):
            s = _ROTATIONS[i]
            r[i] = ((r[i] >> s) | (r[i] << (16 - s))) & _MASK
            r[i] = (r[i] - words[j] - (r[i - 1] & r[i - 2]) - (~r[i - 1] & r[i - 3])) & _MASK
            j -= 1

    def mash_round() -> None:  # §4.3-4.4: "r-mash" R[3], R[2], R[1], R[0]
        for i in (3, 2, 1, 0):
            r[i] = (r[i] - words[r[i - 1] & 63]) & _MASK

    for run, rounds in enumerate((5, 6, 5)):  # mixing rounds, a mashing round between runs
        if run:
            mash_round()
        for _ in range(rounds):
            mix_round()
    return b"".join(word.to_bytes(2, "little") for word in r)


def decrypt_cbc(key: bytes, effective_bits: int, iv: bytes, data: bytes) -> bytes:
    """`data` (whole blocks) decrypted in CBC mode; the padding is left for the caller."""
    if len(iv) != BLOCK_BYTES or len(data) % BLOCK_BYTES:
        raise ValueError("RC2-CBC takes an 8-byte IV and whole 8-byte blocks")
    words = expand_key(key, effective_bits)
    plain = bytearray()
    previous = iv
    for start in range(0, len(data), BLOCK_BYTES):
        block = data[start : start + BLOCK_BYTES]
        plain += bytes(a ^ b for a, b in zip(decrypt_block(words, block), previous, strict=True))
        previous = block
    return bytes(plain)
