"""Message catalogs: Korean and English complete and alike, every key the code uses exists,
and an English conversation shows no Korean except where it is meant to."""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

from handlers.i18n import CATALOGS, LOCALES
from handlers.institutions import load_directory
from handlers.present import Window
from storage.links import Refusal
from storage.models import AccountKind, Channel, Platform
from tests.handlers.conftest import PASSWORD
from tests.handlers.harness import World, texts

HANDLERS = Path(__file__).resolve().parents[2] / "handlers"
HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]+")
LITERAL_KEY = re.compile(r'(?<![\w{])"([a-z][a-z_]*(?:\.[a-z_]+)+)"')
FAMILY = re.compile(r'f"([a-z][a-z_]*(?:\.[a-z_]+)*\.)\{')
NOT_KEYS = {"institutions.toml"}  # a file name in a docstring

# Keys built with f-strings, enumerated by hand from what fills them in.
FAMILIES: dict[str, set[str]] = {
    "add.where.": {p.value for p in Platform} | {"all"},
    "start.platform_set.": {p.value for p in Platform},
    "renew.steps.": {p.value for p in Platform} | {"all"},
    "cert.window.": {w.value for w in Window},
    "link.list.": {k.value for k in AccountKind} | {i.kind for i in load_directory()},
    "unknown.": {"text", "photo", "sticker", "oversized", "other"},
    "page.": {r.value for r in Refusal},
    "page.channel.": {c.value for c in Channel},
}


def _catalog(locale: str) -> dict[str, str]:
    with (CATALOGS / f"{locale}.po").open("rb") as file:
        return {str(m.id): str(m.string) for m in read_po(file, locale=locale) if m.id}


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def _used_keys() -> tuple[set[str], set[str]]:
    """Literal text keys in handlers/*.py, and the prefixes of f-string-built keys."""
    literal, families = set(), set()
    for path in sorted(HANDLERS.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        literal |= {k for k in LITERAL_KEY.findall(source) if k not in NOT_KEYS}
        families |= set(FAMILY.findall(source))
    return literal, families


def test_korean_and_english_have_the_same_keys() -> None:
    """Every text exists in both languages (English complete, no Korean-only leftovers)."""
    ko, en = _catalog("ko"), _catalog("en")
    assert set(LOCALES) == {"ko", "en"}
    assert sorted(set(ko) ^ set(en)) == []
    assert len(ko) > 100


@pytest.mark.parametrize("locale", LOCALES)
def test_no_text_is_empty(locale: str) -> None:
    """No key has an empty or blank text (an untranslated entry)."""
    catalog = _catalog(locale)
    assert [key for key, text in catalog.items() if not text.strip()] == []


def test_both_languages_fill_the_same_placeholders() -> None:
    """For every key the Korean and English texts use the same `{placeholders}`, so one
    `format(**values)` fills both, and each placeholder is a plain name."""
    ko, en = _catalog("ko"), _catalog("en")
    differing = {k: (_placeholders(ko[k]), _placeholders(en[k])) for k in ko
                 if _placeholders(ko[k]) != _placeholders(en[k])}  # fmt: skip
    assert differing == {}
    for key, text in ko.items():
        for name in _placeholders(text):
            assert name.isidentifier(), (key, name)


def test_every_key_the_handlers_use_exists_in_both_catalogs() -> None:
    """Every literal key in handlers/*.py and every key an f-string family can build is in
    both catalogs; a new f-string family must be enumerated here."""
    literal, families = _used_keys()
    assert families == set(FAMILIES), "enumerate the new f-string family in FAMILIES"
    assert len(literal) > 100
    built = {prefix + value for prefix, values in FAMILIES.items() for value in values}
    for locale in LOCALES:
        catalog = _catalog(locale)
        assert sorted((literal | built) - set(catalog)) == [], locale


def test_every_catalog_key_is_used() -> None:
    """No dead text: every key of the catalogs is used by the handlers (or built by them)."""
    literal, _families = _used_keys()
    built = {prefix + value for prefix, values in FAMILIES.items() for value in values}
    assert sorted(set(_catalog("ko")) - literal - built) == []


ALLOWED_KOREAN = {"한국어", "공동인증서", "공인인증서", "홍길동"}
"""The language button, the Korean names the English greeting mentions on purpose, and the
holder's own name (data, not text)."""


def _korean(entries: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for entry in entries:
        if entry["type"] == "text":
            found |= set(HANGUL.findall(entry["text"]))
            for label in entry["buttons"]:
                found |= set(HANGUL.findall(label))
    return found


async def test_an_english_conversation_shows_no_korean(
    world: World, pair_files: tuple[Path, Path], tmp_path: Path
) -> None:
    """After /lang en, onboarding, help, registration, lists, settings and errors are all in
    English: the only Korean is 한국어, 공동인증서/공인인증서, and the holder's name."""
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    chat = world.chat()
    reply = await chat.say("/lang")
    assert reply[-1]["buttons"] == ["한국어", "English"]
    start = len(chat.transcript)  # the question itself was still in Korean
    reply = await chat.press("English")
    assert texts(reply) == "I'll speak English from now on."
    for line in ("/start", "/press Android", "/help", "/add", "/press Where are my files?",
                 "/cancel", "hello", "/certs", "/remind", "/privacy", "/nonsense"):  # fmt: skip
        await chat.say(line)
    await chat.upload(broken)
    await chat.upload(pair_files[0])
    await chat.upload(pair_files[1])
    await chat.say("wrong-password")
    await chat.say(PASSWORD)
    for line in ("/certs", "/press 홍길동 · 2026-07-01", "/renew", "/export",
                 "/press PFX (iPhone/Mac)", "short", "/cancel", "/link", "/press Shinhan Bank",
                 "/press Skip", "/press Skip", "/deleteme", "no"):  # fmt: skip
        await chat.say(line)
    english_part = chat.transcript[start:]
    said = texts(english_part)
    for english in ("Hi, I'm certmate", "Android it is", "Here's what I can do",
                    "Older phones: My Files", "Cancelled", "How can I help",
                    "I couldn't read that", "That password didn't open it (1/5)",
                    "Certificate registered", "KFTC (yessign)", "Expires 2026-07-01 (July 1, 2026)",
                    "Renewing on Android", "6 characters or more",
                    "Linked Shinhan Bank", "Nothing was deleted"):  # fmt: skip
        assert english in said, english
    assert _korean(english_part) <= ALLOWED_KOREAN, _korean(english_part)
    assert "한국어" in said  # /help names the language choice on purpose
    assert "공동인증서" in said


async def test_switching_back_to_korean(world: World, pair_files: tuple[Path, Path]) -> None:
    """`/lang ko` (or the 한국어 button) switches back; the choice is stored per user."""
    chat = world.chat()
    await chat.say("/lang en")
    await chat.upload(*pair_files)
    assert "Certificate registered" in texts(await chat.say(PASSWORD))
    assert "My certificates" in texts(await chat.say("/certs"))
    reply = await chat.say("/lang ko")
    assert texts(reply) == "이제 한국어로 안내할게요."
    assert "내 인증서" in texts(await chat.say("/certs"))
    await chat.say("/lang")
    assert texts(await chat.press("English")) == "I'll speak English from now on."
    assert "My certificates" in texts(await world.chat().say("/certs"))
    assert "등록된 인증서가 없어요" in texts(await world.chat("someone else").say("/certs"))
