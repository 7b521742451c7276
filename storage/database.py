"""The database: one async engine, read and write transactions, the same code on both engines.

SQLite (the default) runs in WAL mode with a busy timeout, foreign keys on
and `secure_delete` (deleted secrets are zeroed, not left in free pages).
Its files (the database, `-wal`, `-shm`) are 0600 whatever the umask. A
write that dropped a secret (`SHREDDED`) is followed by a checkpoint that
truncates the WAL, since the page images the WAL still holds would give the
secret back; overlapping requests share one checkpoint.
Python's sqlite3 transaction handling is switched off and every transaction
is begun by us: `BEGIN IMMEDIATE` for writes, so a read-then-write never
fails on a lock upgrade, and plain `BEGIN` for reads. A transaction that
raises is rolled back, so a failed write never keeps holding the lock.

PostgreSQL runs through asyncpg with the same statements.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

_WRITE_OPTION: Final = "certmate_write"
SHREDDED: Final = "certmate_shredded"
"""Set in `session.info` by code that deleted secrets: the WAL is then checkpointed."""
BEFORE_COMMIT: Final = "certmate_before_commit"
"""In `session.info`: async callables run (in order) just before a write commits, for
rows a repository gathers during the transaction and writes in one statement."""
BUSY_TIMEOUT_MS: Final = 30_000

log = logging.getLogger("certmate.database")


class Database:
    """An async engine and the transactions every repository runs in."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._writer = asyncio.Lock()
        """SQLite has one writer: this process's writers queue here, in order, instead of
        each holding a pooled connection and retrying in SQLite's busy handler."""
        self._checkpointing = asyncio.Lock()
        self._checkpoints_begun = 0
        self._checkpoints_done = 0
        if self.is_sqlite:
            _configure_sqlite(engine)

    @classmethod
    def connect(cls, url: str, *, connect_args: Mapping[str, Any] | None = None) -> Database:
        """A database for `url` (sqlite+aiosqlite:///… or postgresql+asyncpg://…)."""
        parsed = sa.make_url(url)
        file = None
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            file = Path(parsed.database)
            file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(file, os.O_RDONLY | os.O_CREAT, 0o600))  # not the umask's 0644
        # hide_parameters: a database error's message (which may reach a log) names the
        # statement but never the values in it (sealed blobs, names, texts).
        engine = create_async_engine(
            url, connect_args=dict(connect_args or {}), hide_parameters=True
        )
        if file is not None:
            _keep_private(engine, file)
        return cls(engine)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        async with self._one_writer(), self.engine.connect() as connection:
            await connection.execution_options(**{_WRITE_OPTION: True})
            session = AsyncSession(bind=connection, expire_on_commit=False, autoflush=True)
            try:
                async with connection.begin():
                    yield session
                    await run_before_commit(session)
                    await session.flush()
                shredded = session.info.get(SHREDDED, False)
            finally:
                await session.close()
        if shredded:
            await self.checkpoint()

    @asynccontextmanager
    async def scratch(self) -> AsyncIterator[AsyncSession]:
        """A write transaction that is always rolled back: for dry runs."""
        async with self._one_writer(), self.engine.connect() as connection:
            await connection.execution_options(**{_WRITE_OPTION: True})
            session = AsyncSession(bind=connection, expire_on_commit=False, autoflush=True)
            try:
                async with connection.begin() as transaction:
                    yield session
                    await run_before_commit(session)
                    await session.flush()
                    await transaction.rollback()
            finally:
                await session.close()

    @asynccontextmanager
    async def _one_writer(self) -> AsyncIterator[None]:
        if not self.is_sqlite:  # PostgreSQL writers run concurrently
            yield
            return
        async with self._writer:
            yield

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction (a consistent snapshot on both engines)."""
        async with self.engine.connect() as connection:
            session = AsyncSession(bind=connection, expire_on_commit=False, autoflush=False)
            try:
                async with connection.begin():
                    yield session
            finally:
                await session.close()

    async def checkpoint(self) -> None:
        """SQLite: copy the WAL into the database file and truncate it.

        Page images of dropped secrets would otherwise linger in the WAL (and
        the old page in the database file) until the WAL is reused. Returns
        once a checkpoint that began after this call has finished: callers
        that overlap share one, so a burst of drops costs one checkpoint. A
        reader still open delays it (SQLite's busy timeout), never skips it
        silently.
        """
        if not self.is_sqlite:
            return
        wanted = self._checkpoints_begun + 1
        async with self._checkpointing:
            if self._checkpoints_done >= wanted:
                return  # one that began after our call has just finished
            self._checkpoints_begun += 1
            number = self._checkpoints_begun
            async with self.engine.connect() as connection:
                result = await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                busy = result.scalar()
            self._checkpoints_done = number
        if busy:
            log.warning("the WAL could not be truncated (busy); dropped secrets may remain in it")

    async def analyze(self, table: str) -> None:
        """PostgreSQL: refresh a table's planner statistics now.

        After a bulk of inserts (a first sweep over a large import) the planner
        would otherwise keep plans made for the empty table until autovacuum
        wakes up, and each batch would cost more than the last. SQLite's
        planner does not depend on them here.
        """
        if self.is_sqlite:
            return
        async with self.engine.connect() as connection:
            await connection.exec_driver_sql(f"ANALYZE {table}")
            await connection.commit()

    async def close(self) -> None:
        await self.engine.dispose()


def before_commit(session: AsyncSession, hook: Callable[[AsyncSession], Awaitable[None]]) -> None:
    """Run `hook(session)` just before this write transaction commits."""
    session.info.setdefault(BEFORE_COMMIT, []).append(hook)


async def run_before_commit(session: AsyncSession) -> None:
    hooks = session.info.get(BEFORE_COMMIT, [])
    while hooks:
        await hooks.pop(0)(session)


def _keep_private(engine: AsyncEngine, file: Path) -> None:
    """The database file, its -wal and -shm: 0600, checked at every new connection.

    SQLite gives a -wal or -shm it creates the database file's mode; files left
    looser (by an older version, or a copy) are tightened here.
    """

    def tighten(*_: Any) -> None:
        for path in (file, file.with_name(f"{file.name}-wal"), file.with_name(f"{file.name}-shm")):
            try:
                if stat.S_IMODE(path.stat().st_mode) & 0o077:
                    path.chmod(0o600)
            except FileNotFoundError:
                continue

    tighten()
    event.listen(engine.sync_engine, "connect", tighten)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
            "PRAGMA foreign_keys=ON",
            "PRAGMA secure_delete=ON",
            "PRAGMA synchronous=FULL",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
