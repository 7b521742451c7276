"""What `/healthz` checks: whether the database answers, said in one word.

The answer names the part that fails and how (`unreachable`, `timeout`, `failed`),
never the error's text, which may carry the database URL or a statement. Concurrent
checks share one query and its answer is kept for `CACHE_SECONDS`, so a monitor (or a
flood) polling `/healthz` costs at most one connection a second.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from storage.database import Database

TIMEOUT_SECONDS: Final = 2.0
CACHE_SECONDS: Final = 1.0
OK: Final = "ok"

log = logging.getLogger("certmate.health")


class DatabaseCheck:
    """`SELECT 1` within `timeout` seconds; `clock` (monotonic seconds) ages the answer."""

    def __init__(
        self, database: Database, clock: Callable[[], float], *, timeout: float = TIMEOUT_SECONDS
    ) -> None:
        self.database = database
        self.clock = clock
        self.timeout = timeout
        self._lock = asyncio.Lock()
        self._last: tuple[float, str] | None = None

    async def status(self) -> str:
        """`ok`, or how the database fails."""
        async with self._lock:
            if self._last is not None and self.clock() - self._last[0] < CACHE_SECONDS:
                return self._last[1]
            answer = await self._ask()
            self._last = (self.clock(), answer)
            return answer

    async def _ask(self) -> str:
        try:
            async with asyncio.timeout(self.timeout), self.database.engine.connect() as connection:
                await connection.execute(sa.text("SELECT 1"))
            answer = OK
        except TimeoutError:
            answer = "timeout"
        except (OSError, DBAPIError) as err:
            unreachable = isinstance(err, OSError) or (
                err.connection_invalidated or isinstance(err.orig, OSError)
            )
            answer = "unreachable" if unreachable else "failed"
        except Exception:  # noqa: BLE001  (whatever the driver raised: one word)
            answer = "failed"
        if answer != OK:
            log.warning("health check: the database is %s", answer)
        return answer
