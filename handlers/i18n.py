"""Message catalogs: gettext `.po` files per language, Korean by default, English complete.

Texts are looked up by a symbolic id (`start.greeting`) so that the Korean
text is written as Korean, not translated from an English source string.
Placeholders use `{name}` and are filled as `str.format` does, and a placeholder's
format spec may ask for a Korean particle chosen by the value (`{name:을}`) or an
English singular or plural (`{count:day|days}`): `handlers.grammar`. The catalogs
are read once, with Babel, when the assistant is built.

This is the one module that knows which languages exist: `supported` reads a
locale ("ko_KR.UTF-8", "en-US") as one of `LOCALES`, `localized` picks from
data kept per locale (institution names). Nothing else compares a locale
(tests/test_locale_switches.py). Adding a language is a catalog file, an
entry in `LOCALES` (the /lang flow offers every one); institution names in the new
language are optional data.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, TypeVar

from babel.messages.pofile import read_po

from handlers.grammar import PARTICLES, particle, plural

LOCALES: Final = ("ko", "en")
DEFAULT_LOCALE: Final = "ko"
CATALOGS: Final = Path(__file__).resolve().parent / "locale"
_LANGUAGE: Final = re.compile(r"[A-Za-z]+")
T = TypeVar("T")


def supported(locale: str | None, default: str = DEFAULT_LOCALE) -> str:
    """The supported locale that `locale` names by its language ("ko_KR.UTF-8", "ko-KR" and
    "ko" are all "ko"), or `default` when it names none of `LOCALES`."""
    match = _LANGUAGE.match(locale or "")
    language = match.group().lower() if match else ""
    return language if language in LOCALES else default


def localized(values: Mapping[str, T], locale: str | None) -> T:
    """The value for `locale` from data kept per locale (`{"ko": …, "en": …}`), or the
    default locale's when the data has none for it (which it must have)."""
    chosen = supported(locale)
    return values[chosen] if chosen in values else values[DEFAULT_LOCALE]


class Texts:
    """The texts of one language."""

    def __init__(self, locale: str, messages: Mapping[str, str]) -> None:
        self.locale = locale
        self._messages = messages

    def __call__(self, key: str, **values: Any) -> str:
        text = self._messages[key]
        return _FORMATTER.format(text, **values) if values else text

    def has(self, key: str) -> bool:
        return key in self._messages


class Catalog:
    """Texts for every supported language."""

    def __init__(self, texts: Mapping[str, Texts]) -> None:
        self._texts = texts

    def texts(self, locale: str | None) -> Texts:
        return self._texts[supported(locale)]

    def keys(self, locale: str) -> set[str]:
        return set(self._texts[locale]._messages)

    def words(self, key: str) -> set[str]:
        """The words `key` lists (`|` between them) in every language, compared as typed
        words are: case and spaces ignored."""
        return {typed_word(w) for texts in self._texts.values() for w in texts(key).split("|")}


def typed_word(text: str) -> str:
    """A typed message compared as a word: "인증서등록", "인증서 등록" and "Help " match."""
    return "".join(text.split()).lower()


def load_catalog(folder: Path = CATALOGS) -> Catalog:
    """Read `<folder>/<locale>.po` for every supported locale."""
    texts = {}
    for locale in LOCALES:
        with (folder / f"{locale}.po").open("rb") as file:
            catalog = read_po(file, locale=locale)
        texts[locale] = Texts(
            locale, {str(m.id): str(m.string) for m in catalog if m.id and m.string}
        )
    return Catalog(texts)


class _Grammar(string.Formatter):
    """`str.format`, plus particles (`{name:을}`) and plurals (`{count:day|days}`)."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec in PARTICLES:
            text = str(value)
            return text + particle(text, format_spec)
        if "|" in format_spec:
            return plural(value, format_spec)
        return str(super().format_field(value, format_spec))


_FORMATTER: Final = _Grammar()
