"""Limits applied to every input before any expensive work is done.

Uploads are hostile until parsed: these bound how much a single request can
make us decompress, hash or allocate. The defaults match
`config.example.toml` (`[limits]`).
"""

from __future__ import annotations

from dataclasses import dataclass

from npki.errors import Envelope, MalformedInput, Reason, UnsafeInput

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Size, count and work limits for one `npki` call."""

    upload_bytes: int = 1 * MIB
    """Largest single file (certificate, key, PFX or zip) accepted."""
    zip_entries: int = 64
    """Most entries (files and folders) a zip may list."""
    zip_uncompressed_bytes: int = 4 * MIB
    """Most bytes all entries of one zip may decompress to, together."""
    zip_ratio: int = 100
    """Highest uncompressed/compressed ratio of any zip entry."""
    kdf_iterations_max: int = 100_000
    """Highest key-derivation iteration count tried; above it the key is refused unread."""
    kdf_total_iterations: int = 1_000_000
    """Most key-derivation rounds one call may ask for, all keys and PFX layers together.

    `kdf_iterations_max` bounds one key; a zip may hold 64 of them (~2 s at
    100,000 rounds each). Real bundles need far less: a few keys at 2048
    rounds, an exported PFX at 50,000. A million rounds is about 0.3 s of
    CPU here (PBKDF1-SHA1 in Python, the slowest scheme), all one upload
    may cost.
    """
    trailing_bytes: int = 4096
    """Most bytes a certificate or key file may carry after its DER structure (or a PEM
    certificate after its END line). Real files carry tens (46 in a TradeSign key)."""
    rsa_bits_max: int = 4096
    """Largest RSA key accepted (signing with a huge key costs seconds)."""


DEFAULT_LIMITS = Limits()


def check_kdf_iterations(iterations: int, limits: Limits, envelope: Envelope) -> int:
    """`iterations` if it is sane; refused before any key derivation otherwise.

    `envelope` names the reasons for the file being read (a private key, a PFX).
    """
    if iterations < 1:
        raise MalformedInput(envelope.damaged)
    if iterations > limits.kdf_iterations_max:
        raise UnsafeInput(
            envelope.rounds_over_limit, rounds=iterations, limit=limits.kdf_iterations_max
        )
    return iterations


def check_kdf_budget(total: int, limits: Limits, reason: Reason) -> None:
    """Refuse, before any key derivation, a call that would take more than the total budget.

    `total` sums the iteration counts of everything the call will derive;
    `reason` says what the input is (`PFX_TOTAL_ROUNDS_OVER_LIMIT`, `UPLOAD_ROUNDS_OVER_LIMIT`).
    """
    if total > limits.kdf_total_iterations:
        raise UnsafeInput(reason, rounds=total, limit=limits.kdf_total_iterations)
