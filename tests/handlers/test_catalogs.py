"""Message catalogs: Korean and English complete and alike, and an English conversation shows
no Korean except where it is meant to. That every key the code uses exists is
test_catalog_keys.py's."""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

from handlers.i18n import CATALOGS, DEFAULT_LOCALE, LOCALES
from tests.handlers.conftest import PASSWORD
from tests.handlers.harness import World, texts

HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]+")


def _catalog(locale: str) -> dict[str, str]:
    with (CATALOGS / f"{locale}.po").open("rb") as file:
        return {str(m.id): str(m.string) for m in read_po(file, locale=locale) if m.id}


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


@pytest.mark.parametrize("locale", LOCALES)
def test_every_language_has_the_same_keys(locale: str) -> None:
    """Every text exists in every language (English complete, no Korean-only leftovers)."""
    default = _catalog(DEFAULT_LOCALE)
    assert sorted(set(default) ^ set(_catalog(locale))) == []
    assert len(default) > 100


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
                 "/press PFX file", "short", "/cancel", "/link", "/press Shinhan Bank",
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
