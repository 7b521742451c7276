"""Korean particles chosen by the word, English plurals by the number, and catalogs that
read as written by hand: no "을(를)", no "(s)", one speech level."""

from __future__ import annotations

import re
import string

import pytest
from babel.messages.pofile import read_po

from handlers.grammar import PARTICLES, particle
from handlers.i18n import CATALOGS, load_catalog


@pytest.mark.parametrize(
    ("word", "form", "expected"),
    [
        ("국민은행", "를", "국민은행을"),
        ("우리카드", "을", "우리카드를"),
        ("키움증권", "이", "키움증권이"),
        ("NH투자증권", "가", "NH투자증권이"),
        ("토스", "이", "토스가"),
        ("서울", "으로", "서울로"),  # ㄹ takes 로
        ("국민", "로", "국민으로"),
        ("KB", "으로", "KB로"),
        ("3", "을", "3을"),  # 삼
        ("2", "을", "2를"),  # 이
        ("(주)한국", "와", "(주)한국과"),
        ("홍길동", "예요", "홍길동이에요"),
        ("'국민'", "으로", "'국민'으로"),  # a closing quote is looked through
    ],
)
def test_a_particle_follows_the_word(word: str, form: str, expected: str) -> None:
    assert word + particle(word, form) == expected


def test_texts_fill_particles_and_plurals() -> None:
    catalog = load_catalog()
    ko, en = catalog.texts("ko"), catalog.texts("en")
    assert ko("link.done", name="우리카드", details="").startswith("우리카드를 연결했어요.")
    assert ko("link.done", name="국민은행", details=" (월급)").startswith(
        "국민은행을 연결했어요 (월급)."
    )
    assert en("reminder.snooze", days=1) == "Remind me in 1 day"
    assert en("reminder.snooze", days=3) == "Remind me in 3 days"


def _texts(locale: str) -> dict[str, str]:
    with (CATALOGS / f"{locale}.po").open("rb") as file:
        return {str(m.id): str(m.string) for m in read_po(file, locale=locale) if m.id}


UNRESOLVED = re.compile(r"\((?:을|를|이|가|은|는|와|과|으|아|야|이에|이라)\)|\(s\)|\(es\)")
FORMAL = re.compile(r"(?:습|ㅂ)니다|니까\?")


@pytest.mark.parametrize("locale", ["ko", "en"])
def test_no_unresolved_particle_or_plural_pattern(locale: str) -> None:
    found = {key: text for key, text in _texts(locale).items() if UNRESOLVED.search(text)}
    assert found == {}


def test_korean_texts_keep_one_speech_level() -> None:
    """해요체 everywhere: no 합니다체 ending ("…습니다", "…합니까?") in the Korean catalog."""
    formal = {key: text for key, text in _texts("ko").items() if FORMAL.search(text)}
    assert formal == {}


@pytest.mark.parametrize("locale", ["ko", "en"])
def test_every_format_spec_is_a_particle_or_a_plural(locale: str) -> None:
    for key, text in _texts(locale).items():
        for _, field, spec, _ in string.Formatter().parse(text):
            if field is not None and spec:
                assert spec in PARTICLES or spec.count("|") == 1 or spec == ",", (key, spec)
