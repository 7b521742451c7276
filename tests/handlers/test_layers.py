"""The conversation core keeps to its layer: SQL stays in `storage/`."""

from __future__ import annotations

import ast
from pathlib import Path

HANDLERS = Path(__file__).resolve().parents[2] / "handlers"
ALLOWED = {"sqlalchemy.ext.asyncio": {"AsyncSession"}}
"""What handlers may take from the SQL libraries: the session type, to pass it on."""


def test_no_module_of_the_core_writes_sql() -> None:
    for path in sorted(HANDLERS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith(("sqlalchemy", "sqlmodel")), path.name
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                ("sqlalchemy", "sqlmodel")
            ):
                names = {alias.name for alias in node.names}
                assert names <= ALLOWED.get(node.module or "", set()), (path.name, names)
