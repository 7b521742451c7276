"""Every text key the code can ask for exists in every locale's catalog, found by reading
the code (its syntax tree), not by running it.

Three ways a key reaches a catalog lookup, and how each is covered:

- a literal (`ctx.say("add.ask_files")`, a key kept in a table or returned by a helper):
  every string in handlers/ and bot/ shaped like a key of a catalog section is one;
- an f-string family (`f"cert.window.{window.value}"`): every family in the code must be
  declared in `FAMILIES` below with the enum, literal type or data table its values come
  from, and every key it can build is checked;
- nothing else: a key built by `+`, `%` or `.format` fails the test, so no key can be
  made at run time out of sight.
"""

from __future__ import annotations

import ast
import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import pytest

import npki
from bot.inspect_cmd import Problem
from handlers import npki_texts
from handlers.i18n import LOCALES, load_catalog
from handlers.institutions import Kind
from handlers.messages import Unsupported
from handlers.present import Window
from npki.errors import ENGLISH, placeholders
from storage.links import Refusal
from storage.models import AccountKind, Channel, Platform

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("handlers", "bot")
CATALOG = load_catalog()
KEYS = {locale: CATALOG.keys(locale) for locale in LOCALES}
SECTIONS = {key.partition(".")[0] for keys in KEYS.values() for key in keys}

# Where the values of each f-string family come from (the code formats exactly these).
FAMILIES: dict[str, frozenset[str]] = {
    "add.where.": frozenset({p.value for p in Platform} | {"all"}),
    "start.platform_set.": frozenset(p.value for p in Platform),
    "renew.steps.": frozenset({p.value for p in Platform} | {"all"}),
    "cert.window.": frozenset(w.value for w in Window),
    "link.list.": frozenset({k.value for k in AccountKind} | set(get_args(Kind))),
    "unknown.": frozenset(u.value for u in Unsupported),
    "page.": frozenset(r.value for r in Refusal),
    "npki.": frozenset(r.value for r in npki.Reason),
    "ca.": frozenset(npki.CA_CODES),
    "usage.": frozenset(npki.USAGES),
    "policy.": frozenset(p.name for p in npki.POLICIES.values()),
    "inspect.": frozenset(p.value for p in Problem),
    "lang.": frozenset(LOCALES),
    "page.channel.": frozenset({Channel.TELEGRAM, Channel.KAKAO, Channel.CONSOLE}),
}
# The parameters that name a text key, by the name of the function called.
KEY_PARAMETERS: dict[str, tuple[tuple[int, str], ...]] = {
    "say": ((0, "key"),),
    "ask_secret": ((0, "key"),),
    "texts": ((0, "key"),),
    "button": ((0, "label"),),
    "link": ((1, "label"), (2, "text")),
    "delete": ((1, "refused"),),
    "_page_retry": ((2, "key"),),
}
FORMATTING = ("say", "ask_secret", "texts", "_page_retry")
"""The calls that fill a text with the values named in the call."""


def _is_key(text: str) -> bool:
    """Shaped like a catalog key: dotted lowercase words, the first a catalog section."""
    parts = text.split(".")
    return (
        len(parts) >= 2
        and parts[0] in SECTIONS
        and all(part and part.replace("_", "").replace("-", "").isalnum() for part in parts)
        and text == text.lower()
    )


@dataclass(frozen=True)
class Source:
    where: str
    tree: ast.Module


def _sources() -> list[Source]:
    return [
        Source(str(path.relative_to(ROOT)), ast.parse(path.read_text(encoding="utf-8")))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    ]


SOURCES = _sources()


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            found.add(id(body[0].value))
    return found


def _strings(tree: ast.Module) -> Iterator[tuple[str, int]]:
    """Every plain string of a module, with its line: not a docstring, not a piece of an
    f-string."""
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skip |= {id(part) for part in node.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.value, node.lineno


def _family(node: ast.JoinedStr) -> str | None:
    """The literal prefix of an f-string that builds a key (`"cert.window."`), if it does."""
    first = node.values[0] if node.values else None
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return None
    prefix = first.value
    return prefix if prefix.endswith(".") and _is_key(prefix + "x") else None


def _called(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return node.func.id if isinstance(node.func, ast.Name) else None


def _key_arguments(node: ast.Call) -> Iterator[ast.expr]:
    """The arguments of a call that name a text key."""
    for position, name in KEY_PARAMETERS.get(_called(node) or "", ()):
        if position < len(node.args) and not isinstance(node.args[position], ast.Starred):
            yield node.args[position]
        yield from (kw.value for kw in node.keywords if kw.arg == name)


def _branches(expression: ast.expr) -> Iterator[ast.expr]:
    if isinstance(expression, ast.IfExp):
        yield from _branches(expression.body)
        yield from _branches(expression.orelse)
    else:
        yield expression


def literal_keys() -> dict[str, str]:
    """Every literal key of handlers/ and bot/, with where it is first seen."""
    found: dict[str, str] = {}
    for source in SOURCES:
        for text, line in _strings(source.tree):
            if _is_key(text):
                found.setdefault(text, f"{source.where}:{line}")
    return found


def built_keys() -> set[str]:
    return {prefix + value for prefix, values in FAMILIES.items() for value in values}


def test_the_scan_finds_what_the_code_says() -> None:
    """The scan sees the keys of the main flows (a guard against a scan that finds nothing)."""
    found = literal_keys()
    assert len(found) > 200
    assert {"add.ask_files", "add.unreadable", "lang.set", "inspect.summary"} <= set(found)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_literal_key_exists(locale: str) -> None:
    """A key written in the code (called, kept in a table, returned by a helper) is in the
    catalog of every locale."""
    missing = {key: where for key, where in literal_keys().items() if key not in KEYS[locale]}
    assert missing == {}


def test_every_key_argument_is_a_key_or_built_from_a_declared_family() -> None:
    """What a `say`, `texts`, `ask_secret`, `button`, `link`, … call gets as its key is a
    literal key, a declared f-string family, or a value (a variable, a table lookup) whose
    literals the scan above checks; a literal there that is not a key fails, so does a
    typo in a section name."""
    wrong = []
    for source in SOURCES:
        for node in ast.walk(source.tree):
            if not isinstance(node, ast.Call):
                continue
            for argument in _key_arguments(node):
                for branch in _branches(argument):
                    where = f"{source.where}:{branch.lineno}"
                    if isinstance(branch, ast.Constant) and isinstance(branch.value, str):
                        if not _is_key(branch.value) or branch.value not in KEYS["ko"]:
                            wrong.append((where, branch.value))
                    elif (
                        isinstance(branch, ast.JoinedStr)
                        and _family(branch) is None
                        and _called(node) != "button"  # a label shown as it is (`✓ 신한은행`)
                    ):
                        wrong.append((where, ast.unparse(branch)))
    assert wrong == []


def test_every_f_string_family_is_declared() -> None:
    """An f-string that builds a key anywhere in handlers/ or bot/ belongs to a family of
    `FAMILIES`, which says where its values come from; a new one must be added there."""
    found = {
        prefix
        for source in SOURCES
        for node in ast.walk(source.tree)
        if isinstance(node, ast.JoinedStr) and (prefix := _family(node)) is not None
    }
    assert found == set(FAMILIES)


def test_no_key_is_built_any_other_way() -> None:
    """`"npki." + reason`, `"npki.%s" % reason` or `"npki.{}".format(reason)` would build a
    key the scan cannot enumerate: none may exist."""
    hidden = []
    for source in SOURCES:
        for node in ast.walk(source.tree):
            head: ast.expr | None = None
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
                head = node.left
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "format"
            ):
                head = node.func.value
            if isinstance(head, ast.Constant) and isinstance(head.value, str):
                stem = head.value.split("{")[0].split("%")[0]
                if stem.endswith(".") and _is_key(stem + "x"):
                    hidden.append(f"{source.where}:{head.lineno}")
    assert hidden == []


@pytest.mark.parametrize("locale", LOCALES)
def test_every_key_a_family_can_build_exists(locale: str) -> None:
    """Every value of every family (each `Platform`, `Window`, `npki.Reason`, policy of the
    table, …) has its text in the catalog of every locale."""
    assert sorted(built_keys() - KEYS[locale]) == []


def test_npki_texts_builds_only_declared_keys() -> None:
    """The generated key list of handlers/npki_texts.py is what the families declare for
    npki, so a new `npki.Reason`, CA, usage or policy is checked by the test above."""
    declared = {key for key in built_keys() if key.partition(".")[0] in npki_texts.SECTIONS}
    assert npki_texts.keys() == declared


def test_every_catalog_key_is_used() -> None:
    """No dead text: every key of the catalogs is written in the code or built by it."""
    assert sorted(KEYS["ko"] - set(literal_keys()) - built_keys()) == []


def test_refusals_fill_the_placeholders_npki_gives() -> None:
    """`npki.<reason>` uses exactly the params npki passes for that reason (its English
    sentence's), in every locale, so `refusal()` can always fill it."""
    for locale in LOCALES:
        texts = CATALOG.texts(locale)
        for reason in npki.Reason:
            text = texts(npki_texts.reason_key(reason))
            fields = {name for _, name, _, _ in string.Formatter().parse(text) if name}
            assert fields == set(placeholders(ENGLISH[reason])), (locale, reason)


def test_literal_calls_pass_every_placeholder() -> None:
    """A call with a literal key and named values (`ctx.say("add.unreadable", reason=…)`)
    passes every placeholder its text has in every locale (one without values is shown
    as written, so its text must have none)."""
    unfilled = []
    for source in SOURCES:
        for node in ast.walk(source.tree):
            if not isinstance(node, ast.Call) or _called(node) not in FORMATTING:
                continue
            if any(kw.arg is None for kw in node.keywords):
                continue  # **values: filled at run time
            given = {kw.arg for kw in node.keywords}
            for argument in _key_arguments(node):
                for branch in _branches(argument):
                    if isinstance(branch, ast.Constant) and branch.value in KEYS["ko"]:
                        for locale in LOCALES:
                            text = CATALOG.texts(locale)(branch.value)
                            needed = {n for _, n, _, _ in string.Formatter().parse(text) if n}
                            if not needed <= given:
                                unfilled.append((f"{source.where}:{node.lineno}", branch.value))
    assert unfilled == []
