"""Whether a certificate being registered may retire the stored one it looks like renewing.

Anyone can write a certificate with someone's subject and a later expiry, so
looking like a renewal (`certificates.find_predecessor`) is not enough.
Retiring a certificate shreds its key, so it takes, all of:

1. proof of possession: the new certificate's own key opened with its password
   in this registration (a certificate alone never retires one with a key);
2. the same issuer: the new certificate's issuer name is the old one's;
3. the issuer's signature, where the issuing CA's certificate is at hand: one
   the operator configured, or one from the upload's `CaPubs` that also
   verifies the stored certificate (a CaPubs file is the uploader's word; the
   stored certificate proves it is the real CA's).

Without a CA certificate for the issuer, 1 and 2 decide.
"""

from __future__ import annotations

from enum import StrEnum

from cryptography import x509

import npki
from handlers.flow import Context
from storage import certificates
from storage.models import Certificate


class Verdict(StrEnum):
    RENEWAL = "renewal"
    NO_KEY = "no_key"
    """The new one came without its key, the old one has a key."""
    OTHER_ISSUER = "other_issuer"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_ISSUER = "unknown_issuer"
    """The old one's issuer cannot be read (kept before issuers were recorded, as a PFX)."""


async def judge(ctx: Context, item: npki.BundleItem, old: Certificate, *, proven: bool) -> Verdict:
    """May `item` (its key opened here when `proven`) retire `old`?"""
    if old.has_private_key and not proven:
        return Verdict.NO_KEY
    assert old.id is not None  # noqa: S101  (a stored row)
    der = await certificates.stored_certificate(
        ctx.session, ctx.services.vault, ctx.user_id, old.id
    )
    stored = npki.read_certificate(der) if der is not None else None
    issuer = old.issuer or (npki.issuer_name(stored) if stored is not None else None)
    if issuer is None:
        return Verdict.UNKNOWN_ISSUER
    if issuer != npki.issuer_name(item.certificate):
        return Verdict.OTHER_ISSUER
    authorities = [*ctx.services.settings.ca_certificates, *_vouched(item, stored)]
    if npki.check_signature(item.certificate, authorities) is npki.Signature.FAILED:
        return Verdict.BAD_SIGNATURE
    return Verdict.RENEWAL


def _vouched(item: npki.BundleItem, stored: npki.Certificate | None) -> list[x509.Certificate]:
    """The upload's CA certificates that also signed the stored certificate."""
    if stored is None:
        return []
    verified = npki.Signature.VERIFIED
    return [ca for ca in item.authorities if npki.check_signature(stored, [ca]) is verified]
