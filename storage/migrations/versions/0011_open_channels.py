"""open channels: a channel column takes any channel's name, not only the three listed

Revision ID: 0011
Revises: 0010

The CHECK listing telegram, kakao and console goes from the four tables holding a
channel, so a new channel needs no migration. PostgreSQL drops the constraints.
SQLite cannot drop a constraint and rebuilding these tables would trip the foreign
keys that point at `users`; it takes the procedure SQLite documents for removing a
CHECK ("Making Other Kinds Of Table Schema Changes", lang_altertable.html): the
table's definition is edited in sqlite_master within the migration's transaction,
the schema version is bumped, and the integrity check must pass.
"""

import re
from collections.abc import Callable, Sequence

from alembic import op
from sqlalchemy.engine import Connection

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("users", "conversation_states", "processed_updates", "button_tokens")
LISTED = "channel IN ('telegram', 'kakao', 'console')"


def _name(table: str) -> str:
    return f"ck_{table}_channel"


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "sqlite":
        for table in TABLES:
            op.drop_constraint(op.f(_name(table)), table, type_="check")
        return
    _edit_sqlite_tables(
        connection,
        lambda table, sql: re.sub(
            rf",\s*CONSTRAINT {_name(table)} CHECK \({re.escape(LISTED)}\)", "", sql
        ),
    )


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "sqlite":
        for table in TABLES:
            op.create_check_constraint(op.f(_name(table)), table, LISTED)
        return
    _edit_sqlite_tables(
        connection,
        lambda table, sql: re.sub(
            r"\)\s*$", f", \n\tCONSTRAINT {_name(table)} CHECK ({LISTED})\n)", sql
        ),
    )


def _edit_sqlite_tables(connection: Connection, edit: Callable[[str, str], str]) -> None:
    """Apply `edit` (table, its CREATE TABLE) to each table's definition in sqlite_master."""
    version = connection.exec_driver_sql("PRAGMA schema_version").scalar_one()
    connection.exec_driver_sql("PRAGMA writable_schema=ON")
    try:
        for table in TABLES:
            sql = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).scalar_one()
            edited = edit(table, sql)
            if edited == sql:
                raise RuntimeError(f"0011: the channel CHECK of {table} was not where expected")
            connection.exec_driver_sql(
                "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
                (edited, table),
            )
        connection.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    finally:
        connection.exec_driver_sql("PRAGMA writable_schema=OFF")
    problems = connection.exec_driver_sql("PRAGMA integrity_check").scalars().all()
    if problems != ["ok"]:
        raise RuntimeError(f"0011: integrity check after the edit: {problems}")
