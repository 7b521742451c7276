"""What `npki`'s refusals read as: a catalog key per reason, filled with the error's params.

`npki` holds no user texts: an error names its `Reason` and carries the
params that make it specific (a limit, a file name). The catalogs hold the
sentence under `npki.<reason>`. This module imports nothing but `npki` and
the catalogs, so `certmate inspect` uses it without the chat stack.
"""

from __future__ import annotations

import npki
from handlers.i18n import Texts


def reason_key(reason: npki.Reason) -> str:
    """The catalog key of a refusal."""
    return f"npki.{reason.value}"


def refusal(texts: Texts, error: npki.NpkiError) -> str:
    """Why `npki` refused, as one sentence in the language of `texts`."""
    return texts(reason_key(error.reason), **error.params)


def keys() -> frozenset[str]:
    """Every key this module can build, for the catalog test."""
    return frozenset(reason_key(reason) for reason in npki.Reason)
