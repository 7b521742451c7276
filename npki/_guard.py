"""The library boundary: nothing but an `NpkiError` leaves a public function.

Parsers below raise our errors where they can say something useful; this
catches what a hostile input can still shake loose from cryptography,
pyasn1 or zipfile (ValueError, IndexError, RecursionError, …) and reports
it as damaged input, chained with `from` so a developer still sees the cause.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from npki.errors import MalformedInput, NpkiError

P = ParamSpec("P")
R = TypeVar("R")


def guarded(function: Callable[P, R]) -> Callable[P, R]:
    """Wrap a public `npki` function so that it raises only `NpkiError`."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except NpkiError:
            raise
        except Exception as err:  # the boundary: anything else means unreadable input
            raise MalformedInput() from err

    return wrapper
