"""Certificate work off the event loop.

Opening a key runs its key derivation (up to the `kdf_total_iterations`
budget, ~0.3 s of CPU), and PBKDF1 is a Python loop. Run on the event loop,
that would stall every other user's messages, webhook answers and the paced
reminder sends for as long. One worker thread does it instead: npki's
warning filter (`tolerating_nonpositive_serials`) is process-wide state,
safe while one thread reads certificates at a time, and one at a time is
also what bounds the CPU an upload burst can take.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_WORKER: Final = ThreadPoolExecutor(max_workers=1, thread_name_prefix="certmate-npki")


async def off_loop(call: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """`call(*args, **kwargs)` on the certificate worker thread; its result or exception."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_WORKER, functools.partial(call, *args, **kwargs))
