"""Transient database failures, told apart from bugs, and retried with backoff.

A lost connection, a server restarting, a full disk for a second or a lock
timeout says nothing about the work itself: the same statement succeeds a
moment later. An integrity violation or a programming error fails the same
way every time, so retrying it only hides it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, TypeVar

from sqlalchemy import exc

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

BACKOFF: Final = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
"""Seconds between tries: ~16 s in all, well inside a reminder lease (60 s)."""


def is_transient(error: BaseException) -> bool:
    """Whether `error` is a database or network failure that a retry may get past."""
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return True
        return isinstance(error, exc.OperationalError | exc.InterfaceError)
    return isinstance(error, exc.DisconnectionError | ConnectionError | TimeoutError | OSError)


async def retry_transient(
    operation: Callable[[], Awaitable[T]],
    *,
    what: str,
    backoff: Sequence[float] = BACKOFF,
    sleep: Sleep = asyncio.sleep,
) -> T:
    """`operation()`, tried again after each transient failure (waiting `backoff[i]`);
    the last failure, or any other error, is raised."""
    for delay in backoff:
        try:
            return await operation()
        except Exception as error:
            if not is_transient(error):
                raise
            log.warning("%s failed (%s); retrying in %.2f s", what, type(error).__name__, delay)
        await sleep(delay)
    return await operation()
