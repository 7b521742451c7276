"""No code switches on a language: outside handlers/i18n.py no module compares anything
with a locale literal ("ko", "en", "ko_KR", …), tests whether a string starts with one,
or matches one in a `match` statement. What differs per language lives in the catalogs,
in data kept per locale, or in a table keyed by locale, so adding a language touches
the catalog files and `i18n.LOCALES`, not the code.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from handlers.i18n import LOCALES

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("npki", "handlers", "bot", "storage")
ALLOWED = {Path("handlers/i18n.py")}
_TAG = re.compile(r"([a-z]{2})([-_][A-Za-z0-9]+)*")


def _is_locale(node: ast.AST) -> bool:
    """A locale literal, or a tuple/list/set holding one (`x in ("ko", "ko-KR")`)."""
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_is_locale(element) for element in node.elts)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        match = _TAG.fullmatch(node.value)
        return match is not None and match.group(1) in LOCALES
    return False


def switches(tree: ast.AST) -> Iterator[int]:
    """The lines of `tree` that switch on a locale literal."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Compare)
            and any(_is_locale(side) for side in (node.left, *node.comparators))
        ) or (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("startswith", "endswith")
            and any(_is_locale(argument) for argument in node.args)
        ):
            yield node.lineno
        elif isinstance(node, ast.MatchValue) and _is_locale(node.value):
            yield node.value.lineno


def _modules() -> Iterator[Path]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.relative_to(ROOT) not in ALLOWED:
                yield path


def test_the_scan_sees_a_switch() -> None:
    """The detector finds the forms this test forbids (so a clean result means something)."""
    sample = """
if locale == "ko": pass
label = a if "en" != locale else b
ok = lang in ("ko", "ko-KR")
korean = os.environ.get("LANG", "").lower().startswith("ko")
match locale:
    case "en_US": pass
fine = {"ko": 1, "en": 2}[locale]
also_fine = locale == DEFAULT_LOCALE
"""
    assert sorted(set(switches(ast.parse(sample)))) == [2, 3, 4, 5, 7]


def test_no_module_outside_i18n_compares_with_a_locale_literal() -> None:
    """npki/, handlers/, bot/ and storage/ hold no `if locale == "ko"` (or "en", or any
    locale of `LOCALES` with a region) anywhere but handlers/i18n.py."""
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in _modules()
        for line in switches(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert found == []
