"""SQLite's files are their owner's alone (0600), whatever the umask and whatever an
earlier run left: the database, its -wal and its -shm, which a thief copying them
would find readable otherwise."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from storage import migrate
from storage.database import Database

SUFFIXES = ("", "-wal", "-shm")


@contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def _modes(database: Path) -> dict[str, int]:
    return {
        suffix or "db": stat.S_IMODE(Path(f"{database}{suffix}").stat().st_mode)
        for suffix in SUFFIXES
    }


async def test_a_new_database_and_its_wal_are_0600_under_a_loose_umask(tmp_path: Path) -> None:
    """umask 002 would make them 0664; they are 0600 while certmate has them open."""
    file = tmp_path / "data" / "certmate.db"
    with umask(0o002):
        db = Database.connect(f"sqlite+aiosqlite:///{file}")
        try:
            await migrate.upgrade(db)
            async with db.write() as session:
                await session.execute(sa.text("CREATE TABLE probe (x INTEGER)"))
            async with db.read() as session:
                await session.execute(sa.text("SELECT * FROM probe"))
            assert _modes(file) == {"db": 0o600, "-wal": 0o600, "-shm": 0o600}
        finally:
            await db.close()
    assert stat.S_IMODE(file.parent.stat().st_mode) == 0o700


async def test_loose_files_left_from_before_are_tightened(tmp_path: Path) -> None:
    """A database, -wal and -shm made 0644 by another program (still open there) are
    0600 once certmate connects."""
    file = tmp_path / "certmate.db"
    with umask(0o022):
        other = sqlite3.connect(file)
        other.execute("PRAGMA journal_mode=WAL")
        other.execute("CREATE TABLE probe (x INTEGER)")
        other.commit()
    try:
        assert _modes(file) == {"db": 0o644, "-wal": 0o644, "-shm": 0o644}
        db = Database.connect(f"sqlite+aiosqlite:///{file}")
        try:
            async with db.read() as session:
                await session.execute(sa.text("SELECT * FROM probe"))
            assert _modes(file) == {"db": 0o600, "-wal": 0o600, "-shm": 0o600}
        finally:
            await db.close()
    finally:
        other.close()
