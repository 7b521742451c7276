"""What a filled-in text needs to read as written by hand: Korean particles chosen by the
word they follow, and English singular or plural by the number.

Catalog texts ask for them in a placeholder's format spec:

    "{name:을} 연결했어요"          →  "국민은행을 연결했어요", "우리카드를 연결했어요"
    "'{query:으로}' 찾은 기관이에요"  →  "'국민'으로 …", "'KB'로 …", "'서울'로 …"
    "{count} {count:day|days}"     →  "1 day", "3 days"

A particle is chosen by the last sound of the word: the final consonant (받침) of its
last Hangul syllable, or how a digit or a Latin letter is read in Korean (3 삼, L 엘);
with 으로/로, a final ㄹ takes 로 (서울로). Either form of a pair may be written in the
spec. Sources: 국립국어원 표준국어대사전 on the particles 을/를, 이/가, 은/는, 와/과,
(으)로, 아/야 and (이)에요 (https://stdict.korean.go.kr).
"""

from __future__ import annotations

from typing import Final

_PAIRS: Final = (("을", "를"), ("이", "가"), ("은", "는"), ("과", "와"), ("으로", "로"),
                 ("아", "야"), ("이에요", "예요"), ("이라고", "라고"))  # fmt: skip
"""(after a final consonant, after a vowel)."""
PARTICLES: Final = {form: pair for pair in _PAIRS for form in pair}
_RIEUL: Final = 8
"""The index of ㄹ among final consonants (a syllable's (code - 0xAC00) % 28)."""
_DIGITS: Final = {"0": 4, "1": _RIEUL, "2": 0, "3": 16, "4": 0, "5": 0, "6": 1, "7": _RIEUL,
                  "8": _RIEUL, "9": 0}  # fmt: skip
"""The final consonant of each digit as read in Korean: 영 일 이 삼 사 오 육 칠 팔 구."""
_LETTERS: Final = {"l": _RIEUL, "m": 16, "n": 4, "r": _RIEUL}
"""Latin letters read with a final consonant (엘 엠 엔 알); the others end in a vowel
(에이 비 씨 …)."""


def final_consonant(word: str) -> int | None:
    """The last sound's final consonant (0: none, 8: ㄹ, …), or None when the word ends in
    nothing we can read (a symbol)."""
    for char in reversed(word.strip()):
        if "가" <= char <= "힣":
            return (ord(char) - 0xAC00) % 28
        if char in _DIGITS:
            return _DIGITS[char]
        if char.isascii() and char.isalpha():
            return _LETTERS.get(char.lower(), 0)
        if char.isspace() or char in ")]'\"’”.":
            continue
        return None
    return None


def particle(word: str, form: str) -> str:
    """The form of `form`'s pair that follows `word`."""
    after_consonant, after_vowel = PARTICLES[form]
    final = final_consonant(word)
    if final is None:
        return after_consonant
    if after_consonant == "으로" and final == _RIEUL:
        return after_vowel
    return after_consonant if final else after_vowel


def plural(value: object, forms: str) -> str:
    """`"day|days"`: the first for 1 (and -1), the second otherwise."""
    singular, _, many = forms.partition("|")
    return singular if isinstance(value, int) and abs(value) == 1 else many
