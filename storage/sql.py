"""Small SQL helpers that keep the repositories the same on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert


def insert_ignore(
    session: AsyncSession, model: Any, values: dict[str, Any], conflict: list[str]
) -> Insert:
    """INSERT of `values` that does nothing if a row with the same `conflict` columns exists."""
    if session.get_bind().dialect.name == "postgresql":
        pg = postgresql.insert(model).values(values)
        return pg.on_conflict_do_nothing(index_elements=conflict)
    lite = sqlite.insert(model).values(values)
    return lite.on_conflict_do_nothing(index_elements=conflict)


def insert_ignore_many(session: AsyncSession, model: Any, conflict: list[str]) -> Insert:
    """An INSERT to execute with many rows, skipping those whose `conflict` columns exist."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model).on_conflict_do_nothing(index_elements=conflict)
    return sqlite.insert(model).on_conflict_do_nothing(index_elements=conflict)


def affected(result: Result[Any]) -> int:
    """How many rows an INSERT, UPDATE or DELETE touched."""
    return int(cast("CursorResult[Any]", result).rowcount)


def flushed_id(row_id: int | None) -> int:
    """The id of a row that was flushed (the database gave it one)."""
    if row_id is None:
        raise RuntimeError("the row has no id: flush it first")
    return row_id
