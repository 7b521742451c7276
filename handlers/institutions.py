"""The directory of banks and securities firms a certificate can be registered at.

The list ships as data (`data/institutions.toml`) so that a renamed firm or a
new bank is a one-line change reviewed like code. Institutions are keyed by
their 3-digit 금융기관 공동코드: that is what accounts store, so a rename never
orphans a linked account.

Search is forgiving because people type what they say: "국민", "kb", "신한 은행",
"토스". Names are compared without case, spaces, punctuation or a trailing
은행/뱅크/증권, and ranked exact, then prefix, then substring.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal

from handlers.i18n import DEFAULT_LOCALE, LOCALES, localized

Kind = Literal["bank", "securities", "card", "insurance"]
Group = Literal["commercial", "internet", "regional", "special", "securities"]

DATA_FILE: Final = Path(__file__).parent / "data" / "institutions.toml"

# Mappings rather than casts: mypy narrows a looked-up str to the Literal.
_KINDS: Final[Mapping[str, Kind]] = {
    "bank": "bank",
    "securities": "securities",
    "card": "card",
    "insurance": "insurance",
}
_GROUPS: Final[Mapping[str, Group]] = {
    "commercial": "commercial",
    "internet": "internet",
    "regional": "regional",
    "special": "special",
    "securities": "securities",
}
_CODE: Final = re.compile(r"[0-9]{3}")

# Words that say what an institution is, not which one: "신한은행" and "신한" are
# the same bank. Longest first, so 투자증권 goes before 증권. The kind tells a
# typed suffix apart: "신한은행" should not also offer 신한투자증권.
_SUFFIXES: Final[tuple[tuple[str, Kind], ...]] = (
    ("securities", "securities"),
    ("투자증권", "securities"),
    ("금융투자", "securities"),
    ("증권", "securities"),
    ("bank", "bank"),
    ("은행", "bank"),
    ("뱅크", "bank"),
)
# Legal-form words people paste from statements: (주)신한은행, 주식회사 …
_LEGAL_FORMS: Final = ("주식회사", "(주)")
_NOT_WORD: Final = re.compile(r"[\W_]+")


@dataclass(frozen=True, slots=True)
class Institution:
    """One bank or securities firm, as the user picks it and as accounts store it."""

    code: str
    names: Mapping[str, str] = field(hash=False)
    """The name in each locale; the default locale's is always there."""
    kind: Kind
    group: Group
    aliases: tuple[str, ...] = ()

    def name(self, locale: str | None) -> str:
        """The name to show a user of `locale` (the default locale's when it has none)."""
        return localized(self.names, locale)


@dataclass(frozen=True, slots=True)
class _Keys:
    """An institution's names, folded once so that search does no string work per entry."""

    full: frozenset[str]
    core: frozenset[str]


class Directory:
    """All institutions, in file order (the order lists are shown in)."""

    def __init__(self, institutions: Iterable[Institution]) -> None:
        self._all: tuple[Institution, ...] = tuple(institutions)
        self._by_code: dict[str, Institution] = {}
        for institution in self._all:
            earlier = self._by_code.get(institution.code)
            if earlier is not None:
                raise ValueError(
                    f"duplicate code {institution.code!r}: "
                    f"{earlier.name(DEFAULT_LOCALE)!r} and {institution.name(DEFAULT_LOCALE)!r}"
                )
            self._by_code[institution.code] = institution
        self._keys: tuple[_Keys, ...] = tuple(_keys_of(i) for i in self._all)

    def __iter__(self) -> Iterator[Institution]:
        return iter(self._all)

    def __len__(self) -> int:
        return len(self._all)

    def get(self, code: str) -> Institution | None:
        """The institution with this code; None for a code we do not know (or no longer list)."""
        return self._by_code.get(code)

    def by_kind(self, kind: Kind) -> tuple[Institution, ...]:
        """Every institution of one kind, in file order, for the "show me all" lists."""
        return tuple(i for i in self._all if i.kind == kind)

    def search(self, query: str, limit: int = 8) -> tuple[Institution, ...]:
        """Institutions matching what the user typed, best first, at most `limit`.

        Exact name, alias or code first; then a name that starts with the query;
        then one that contains it. Ties keep file order, so banks come before
        securities firms ("토스" → 토스뱅크, 토스증권).
        """
        folded = _fold(query)
        if not folded or limit <= 0:
            return ()
        core, kind = _strip_suffix(folded)
        ranked: list[tuple[int, int, Institution]] = []
        for index, (institution, keys) in enumerate(zip(self._all, self._keys, strict=True)):
            rank = _rank(folded, core, kind, institution, keys)
            if rank is not None:
                ranked.append((rank, index, institution))
        ranked.sort(key=lambda entry: (entry[0], entry[1]))
        return tuple(institution for _, _, institution in ranked[:limit])


def load_directory(path: Path = DATA_FILE) -> Directory:
    """Read and check the institutions file; a mistake in it fails at startup, not mid-chat."""
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path.name}: not valid TOML: {error}") from error
    entries = document.get("institution")
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path.name}: no [[institution]] entries")
    institutions = [_parse(path.name, number, entry) for number, entry in enumerate(entries, 1)]
    try:
        return Directory(institutions)
    except ValueError as error:
        raise ValueError(f"{path.name}: {error}") from error


def _parse(file: str, number: int, entry: object) -> Institution:
    """One [[institution]] table, checked field by field with the entry named in every error."""
    if not isinstance(entry, dict):
        # ValueError like every other mistake in the file, so callers catch one type.
        raise ValueError(f"{file}: institution #{number} is not a table")  # noqa: TRY004
    label = f"institution #{number}"
    if isinstance(entry.get("code"), str):
        label += f" (code {entry['code']!r})"

    def fail(problem: str) -> ValueError:
        return ValueError(f"{file}: {label}: {problem}")

    def text(key: str) -> str:
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            raise fail(f"missing or empty {key}")
        return value.strip()

    code = text("code")
    if not _CODE.fullmatch(code):
        raise fail(f"code must be 3 digits, not {code!r}")
    names = _names(entry.get("names"), fail)
    kind = _KINDS.get(text("kind"))
    if kind is None:
        raise fail(f"unknown kind {entry['kind']!r} (one of {', '.join(_KINDS)})")
    group = _GROUPS.get(text("group"))
    if group is None:
        raise fail(f"unknown group {entry['group']!r} (one of {', '.join(_GROUPS)})")
    if (kind == "securities") != (group == "securities"):
        raise fail(f"kind {kind!r} does not go with group {group!r}")
    aliases = entry.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise fail("aliases must be a list of non-empty strings")
    unknown = sorted(set(entry) - {"code", "names", "kind", "group", "aliases"})
    if unknown:
        raise fail(f"unknown field {unknown[0]!r}")
    return Institution(code, names, kind, group, tuple(a.strip() for a in aliases))


def _names(value: object, fail: Callable[[str], ValueError]) -> Mapping[str, str]:
    """`names = { ko = …, en = … }`: a name per supported locale, the default one required."""
    if not isinstance(value, dict):
        raise fail(f"missing names (a table such as names = {{ {DEFAULT_LOCALE} = … }})")
    unknown = sorted(set(value) - set(LOCALES))
    if unknown:
        raise fail(f"names: unknown locale {unknown[0]!r} (one of {', '.join(LOCALES)})")
    for locale in (DEFAULT_LOCALE, *value):
        name = value.get(locale)
        if not isinstance(name, str) or not name.strip():
            raise fail(f"missing or empty names.{locale}")
    return MappingProxyType({locale: name.strip() for locale, name in value.items()})


def _fold(text: str) -> str:
    """The form names are compared in: "KB 국민-은행", "kb국민은행" and "ＫＢ국민은행" are one."""
    folded = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text).casefold())
    for form in _LEGAL_FORMS:
        folded = folded.replace(form, "")
    return _NOT_WORD.sub("", folded)


def _strip_suffix(folded: str) -> tuple[str, Kind | None]:
    """Drop one trailing 은행/뱅크/증권-like word, and say which kind it named."""
    for suffix, kind in _SUFFIXES:
        if folded.endswith(suffix) and len(folded) > len(suffix):
            return folded[: -len(suffix)], kind
    return folded, None


def _keys_of(institution: Institution) -> _Keys:
    full = {_fold(n) for n in (*institution.names.values(), *institution.aliases)}
    full.discard("")
    return _Keys(frozenset(full), frozenset(_strip_suffix(k)[0] for k in full))


def _rank(
    folded: str, core: str, kind: Kind | None, institution: Institution, keys: _Keys
) -> int | None:
    """0 exact, 1 same name without its suffix, 2 prefix, 3 substring; None for no match.

    A Latin query shorter than three letters is not looked for inside names:
    "nh" is in "shinhan" and "sk" in "yuantasecuritieskorea", which nobody means.
    """
    if folded == institution.code or folded in keys.full:
        return 0
    if kind is not None and kind != institution.kind:
        return None
    if core in keys.core:
        return 1
    names = keys.full | keys.core
    if any(name.startswith(core) for name in names):
        return 2
    if (len(core) >= 3 or not core.isascii()) and any(core in name for name in names):
        return 3
    return None
