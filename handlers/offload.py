"""Certificate work off the event loop.

Opening a key runs its key derivation (up to the `kdf_total_iterations`
budget, ~0.3 s of CPU), and PBKDF1 is a Python loop. Run on the event loop,
that would stall every other user's messages, webhook answers and the paced
reminder sends for as long. One worker thread does it instead: npki's
warning filter (`tolerating_nonpositive_serials`) is process-wide state,
safe while one thread reads certificates at a time, and one at a time is
also what bounds the CPU an upload burst can take. The worker belongs to
the `Services` of one assistant (made with it, shut down with it), not to
the module: a test or a second assistant in one process gets its own.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class Worker:
    """One thread for certificate work; its thread starts at the first call."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="certmate-npki")

    async def run(self, call: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """`call(*args, **kwargs)` on the worker thread; its result or exception."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(call, *args, **kwargs))

    def close(self) -> None:
        """Let the call in progress finish, then end the thread."""
        self._pool.shutdown(wait=True, cancel_futures=True)
