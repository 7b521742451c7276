"""What `npki`'s facts and refusals read as: catalog keys built from npki's own codes.

`npki` holds no user texts. An error names its `Reason` and carries the
params that make it specific (a limit, a file name): the catalogs hold the
sentence under `npki.<reason>`. A certificate's issuer, usage and policy are
codes from npki's tables: the catalogs name them under `ca.<code>`,
`usage.<usage>` and `policy.<name>`. Every key built here is in `keys()`, so
the catalog test checks them all. This module imports nothing but `npki` and
the catalogs, so `certmate inspect` uses it without the chat stack.
"""

from __future__ import annotations

from typing import Final

import npki
from handlers.i18n import Texts

SECTIONS: Final = ("npki", "ca", "usage", "policy")
"""The catalog sections whose keys are built here."""


def reason_key(reason: npki.Reason) -> str:
    """The catalog key of a refusal."""
    return f"npki.{reason.value}"


def refusal(texts: Texts, error: npki.NpkiError) -> str:
    """Why `npki` refused, as one sentence in the language of `texts`."""
    return texts(reason_key(error.reason), **error.params)


def ca_label(texts: Texts, ca: str) -> str:
    """The issuer's name (`ca` as stored; a code npki no longer knows reads as unknown)."""
    return texts(_ca_key(ca))


def usage_label(texts: Texts, policy_oid: str | None, usage: str) -> str:
    """What the certificate is for: its policy's name when the table knows the OID (it says
    personal or corporate too), else its usage."""
    policy = npki.POLICIES.get(policy_oid or "")
    return texts(_policy_key(policy.name) if policy else _usage_key(usage))


def keys() -> frozenset[str]:
    """Every key this module can build, for the catalog test."""
    return frozenset(
        {reason_key(reason) for reason in npki.Reason}
        | {_ca_key(ca) for ca in npki.CA_CODES}
        | {_usage_key(usage) for usage in npki.USAGES}
        | {_policy_key(policy.name) for policy in npki.POLICIES.values()}
    )


def _ca_key(ca: str) -> str:
    return f"ca.{ca if ca in npki.CA_CODES else 'unknown'}"


def _usage_key(usage: str) -> str:
    return f"usage.{usage if usage in npki.USAGES else 'unknown'}"


def _policy_key(name: str) -> str:
    return f"policy.{name}"
