"""The institution directory: the shipped list, its checks, and search as a Korean user types."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest

from handlers.i18n import LOCALES
from handlers.institutions import DATA_FILE, Directory, Institution, load_directory


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_directory()


ENTRY = """
[[institution]]
code = "{code}"
names = {names}
kind = "{kind}"
group = "{group}"
aliases = {aliases}
"""


def entry(
    *,
    code: str = "999",
    name_ko: str = "테스트은행",
    name_en: str = "Test Bank",
    kind: str = "bank",
    group: str = "commercial",
    aliases: str = "[]",
) -> str:
    names = f'{{ ko = "{name_ko}", en = "{name_en}" }}'
    return ENTRY.format(code=code, names=names, kind=kind, group=group, aliases=aliases)


def write(tmp_path: Path, *entries: str) -> Path:
    path = tmp_path / "institutions.toml"
    path.write_text("".join(entries), encoding="utf-8")
    return path


# ── the shipped file ─────────────────────────────────────────────────────────


def test_the_packaged_file_sits_beside_the_module() -> None:
    """The loader reads handlers/data/institutions.toml, the file shipped as package data."""
    assert DATA_FILE.is_file()
    assert DATA_FILE.parent.name == "data"
    assert DATA_FILE.parent.parent.name == "handlers"


def test_shipped_file_loads_and_passes_its_checks(directory: Directory) -> None:
    """The real list loads through the same validation a broken file would fail."""
    assert len(directory) >= 50
    assert all(isinstance(i, Institution) for i in directory)


def test_codes_are_unique_three_digit_strings(directory: Directory) -> None:
    """Accounts store the 3-digit 금융기관 공동코드; each one names exactly one institution."""
    codes = [i.code for i in directory]
    assert all(re.fullmatch(r"[0-9]{3}", code) for code in codes)
    assert len(codes) == len(set(codes))


def test_banks_are_0xx_and_securities_firms_2xx(directory: Directory) -> None:
    """The KFTC numbering: banks and 상호금융 below 100, securities firms in the 200s."""
    for institution in directory:
        if institution.kind == "bank":
            assert institution.code < "100", institution
        if institution.kind == "securities":
            assert "200" <= institution.code < "300", institution


def _korean_names(directory: Directory, codes: Iterable[str]) -> dict[str, str | None]:
    """The Korean name listed for each code; None for a code the directory does not know."""
    names: dict[str, str | None] = {}
    for code in codes:
        institution = directory.get(code)
        names[code] = None if institution is None else institution.name("ko")
    return names


@pytest.mark.parametrize(
    ("group", "codes"),
    [
        ("commercial", {"004", "088", "020", "081", "023", "027", "031"}),
        ("internet", {"090", "089", "092"}),
        ("regional", {"032", "034", "035", "037", "039"}),
        ("special", {"002", "003", "011", "007", "045", "048", "071", "050"}),
    ],
)
def test_every_required_bank_is_in_its_group(
    directory: Directory, group: str, codes: set[str]
) -> None:
    """All commercial, internet-only and regional banks and the special/상호금융 ones are there."""
    for code in codes:
        institution = directory.get(code)
        assert institution is not None, code
        assert institution.kind == "bank"
        assert institution.group == group, institution


def test_group_counts(directory: Directory) -> None:
    """Seven 시중은행 (iM뱅크 became one in 2024), three 인터넷은행, five 지방은행."""
    counts = Counter(i.group for i in directory)
    assert counts["commercial"] == 7
    assert counts["internet"] == 3
    assert counts["regional"] == 5
    assert counts["special"] >= 8
    assert counts["securities"] >= 20


def test_major_securities_firms_are_listed(directory: Directory) -> None:
    """At least twenty securities firms, the big retail brokers among them."""
    securities = directory.by_kind("securities")
    assert len(securities) >= 20
    assert all(i.group == "securities" for i in securities)
    expected = {
        "209": "유안타증권",
        "218": "KB증권",
        "238": "미래에셋증권",
        "240": "삼성증권",
        "243": "한국투자증권",
        "247": "NH투자증권",
        "264": "키움증권",
        "265": "LS증권",
        "267": "대신증권",
        "270": "하나증권",
        "271": "토스증권",
        "278": "신한투자증권",
        "288": "카카오페이증권",
    }
    assert _korean_names(directory, expected) == expected


def test_well_known_codes(directory: Directory) -> None:
    """The codes everyone sees on a transfer screen map to the bank people expect."""
    expected = {
        "004": "KB국민은행",
        "088": "신한은행",
        "020": "우리은행",
        "081": "하나은행",
        "011": "NH농협은행",
        "003": "IBK기업은행",
        "090": "카카오뱅크",
        "089": "케이뱅크",
        "092": "토스뱅크",
        "071": "우체국",
    }
    assert _korean_names(directory, expected) == expected


def test_every_entry_has_a_name_in_every_language(directory: Directory) -> None:
    """Buttons show each user the name in their language: every shipped entry has one per
    locale, none blank, the English one in Latin letters."""
    for institution in directory:
        assert set(institution.names) == set(LOCALES), institution.code
        assert all(name.strip() for name in institution.names.values())
        assert institution.name("en").isascii()


def test_name_follows_the_locale(directory: Directory) -> None:
    """The name of the user's language ("ko", "ko-KR", "en_US" name theirs by language);
    a language the data does not have gets the default locale's name, as texts do."""
    shinhan = directory.get("088")
    assert shinhan is not None
    assert shinhan.name("ko") == "신한은행"
    assert shinhan.name("ko-KR") == "신한은행"
    assert shinhan.name("en") == "Shinhan Bank"
    assert shinhan.name("en_US") == "Shinhan Bank"
    assert shinhan.name("ja") == "신한은행"
    assert shinhan.name(None) == "신한은행"


def test_a_name_missing_for_a_language_falls_back_to_the_default(tmp_path: Path) -> None:
    """Only the default locale's name is required: an entry with no English name shows its
    Korean one to English users (a new language can ship before every name is written)."""
    path = write(tmp_path, '[[institution]]\ncode = "901"\nnames = { ko = "가나은행" }\n'
                 'kind = "bank"\ngroup = "commercial"\n')  # fmt: skip
    institution = load_directory(path).get("901")
    assert institution is not None
    assert institution.name("en") == "가나은행"


def test_get_unknown_code_is_none(directory: Directory) -> None:
    """An account whose code left the list still opens: the caller falls back to the code."""
    assert directory.get("999") is None
    assert directory.get("") is None


def test_by_kind_keeps_file_order(directory: Directory) -> None:
    """Lists are shown in file order: the big commercial banks first."""
    banks = directory.by_kind("bank")
    assert [i.code for i in banks[:4]] == ["004", "088", "020", "081"]
    assert [i for i in directory if i.kind == "bank"] == list(banks)
    assert directory.by_kind("card") == ()


# ── search on the real list ──────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("신한", "신한은행"),
        ("신한은행", "신한은행"),
        ("shinhan", "신한은행"),
        ("Shinhan Bank", "신한은행"),
        ("국민", "KB국민은행"),
        ("kb", "KB국민은행"),
        ("KB 국민 은행", "KB국민은행"),
        ("카카오", "카카오뱅크"),
        ("카뱅", "카카오뱅크"),
        ("토스", "토스뱅크"),
        ("토뱅", "토스뱅크"),
        ("미래에셋", "미래에셋증권"),
        ("nh", "NH농협은행"),
        ("NH", "NH농협은행"),
        ("농협", "NH농협은행"),
        ("기업", "IBK기업은행"),
        ("IBK", "IBK기업은행"),
        ("대구은행", "iM뱅크"),
        ("이베스트", "LS증권"),
        ("088", "신한은행"),
        ("271", "토스증권"),
        ("하나", "하나은행"),
        ("우리", "우리은행"),
        ("씨티", "한국씨티은행"),
        ("새마을", "새마을금고"),
        ("우체국", "우체국"),
        ("키움", "키움증권"),
        ("한투", "한국투자증권"),
        ("신한금융투자", "신한투자증권"),
        ("하이투자증권", "iM증권"),
        ("(주)신한은행", "신한은행"),
        ("ＫＢ", "KB국민은행"),
    ],
)
def test_search_finds_what_a_korean_user_means(
    directory: Directory, query: str, first: str
) -> None:
    """The first result is the institution a Korean user typing this has in mind."""
    found = directory.search(query)
    assert found, query
    assert found[0].name("ko") == first


def test_toss_finds_the_bank_and_the_securities_firm(directory: Directory) -> None:
    """Typing 토스 means two companies: both come back, the bank first (file order breaks ties)."""
    assert [i.name("ko") for i in directory.search("토스")] == ["토스뱅크", "토스증권"]


def test_a_typed_suffix_narrows_to_that_kind(directory: Directory) -> None:
    """A typed suffix narrows: 신한은행 is the bank only, 신한 증권 the securities firm only."""
    assert [i.code for i in directory.search("신한은행")] == ["088"]
    assert [i.code for i in directory.search("신한 증권")] == ["278"]
    assert [i.code for i in directory.search("토스증권")] == ["271"]


def test_bare_name_offers_bank_then_securities(directory: Directory) -> None:
    """Plain 신한 could be either: the bank first, 신한투자증권 next."""
    assert [i.code for i in directory.search("신한")[:2]] == ["088", "278"]


def test_exact_code_finds_only_that_institution(directory: Directory) -> None:
    """A typed code is a precise choice: one result, so the flow can skip the buttons."""
    assert [i.name("ko") for i in directory.search("088")] == ["신한은행"]
    assert [i.name("ko") for i in directory.search(" 004 ")] == ["KB국민은행"]


@pytest.mark.parametrize("query", ["", "   ", "\t\n", "-·-"])
def test_empty_query_finds_nothing(directory: Directory, query: str) -> None:
    """Blank input or punctuation alone is not a search: nothing comes back."""
    assert directory.search(query) == ()


def test_unknown_name_finds_nothing(directory: Directory) -> None:
    """A name we do not list finds nothing, so the flow can offer the full list instead."""
    assert directory.search("없는은행이름") == ()


def test_limit_caps_the_results(directory: Directory) -> None:
    """A broad query (증권) returns at most `limit` results, 8 by default."""
    assert len(directory.search("증권")) == 8
    assert len(directory.search("증권", limit=3)) == 3
    assert directory.search("증권", limit=0) == ()


def test_short_latin_query_is_not_found_inside_words(directory: Directory) -> None:
    """Two Latin letters match whole names and prefixes only: nh is inside shinhan, not meant."""
    assert {i.code for i in directory.search("nh")} == {"011", "247"}
    assert [i.code for i in directory.search("sk")] == ["266"]


def test_english_name_is_found_inside(directory: Directory) -> None:
    """Three or more letters are looked for inside English names: "kookmin", "mirae"."""
    assert directory.search("kookmin")[0].code == "004"
    assert directory.search("mirae")[0].code == "238"


# ── ranking, on a list made for it ──────────────────────────────────────────


def test_ranking_exact_then_prefix_then_substring(tmp_path: Path) -> None:
    """Exact beats prefix beats substring, whatever order the file lists them in."""
    path = write(
        tmp_path,
        entry(code="901", name_ko="새가나은행", name_en="Sae Gana Bank"),
        entry(code="902", name_ko="가나다은행", name_en="Ganada Bank"),
        entry(code="903", name_ko="라마은행", name_en="Rama Bank", aliases='["가나"]'),
    )
    found = load_directory(path).search("가나")
    assert [i.code for i in found] == ["903", "902", "901"]


def test_ranking_ties_keep_file_order(tmp_path: Path) -> None:
    """Two prefix matches come back in file order, so the list reads like the menus."""
    path = write(
        tmp_path,
        entry(code="911", name_ko="가나다은행", name_en="One"),
        entry(code="912", name_ko="가나라은행", name_en="Two"),
    )
    assert [i.code for i in load_directory(path).search("가나")] == ["911", "912"]


def test_suffix_stripped_match_ranks_between_exact_and_prefix(tmp_path: Path) -> None:
    """가나 is 가나증권 without its suffix: ranked after an exact alias, before a prefix."""
    path = write(
        tmp_path,
        entry(code="921", name_ko="가나다은행", name_en="Prefix"),
        entry(
            code="222", name_ko="가나증권", name_en="Core", kind="securities", group="securities"
        ),
        entry(code="923", name_ko="마바은행", name_en="Exact", aliases='["가나"]'),
    )
    assert [i.code for i in load_directory(path).search("가나")] == ["923", "222", "921"]


# ── a broken file fails loudly, naming the entry ────────────────────────────


def test_duplicate_code_is_refused_naming_both(tmp_path: Path) -> None:
    """Two entries with one code would make linked accounts ambiguous."""
    path = write(tmp_path, entry(name_ko="첫째은행"), entry(name_ko="둘째은행"))
    with pytest.raises(ValueError, match=r"duplicate code '999'.*첫째은행.*둘째은행"):
        load_directory(path)


def test_directory_itself_refuses_duplicate_codes() -> None:
    """A Directory built in code keeps the same rule as one loaded from the file."""
    one = Institution("999", {"ko": "하나", "en": "One"}, "bank", "commercial")
    with pytest.raises(ValueError, match="duplicate code '999'"):
        Directory([one, one])


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (entry(kind="loan"), r"institution #2 \(code '999'\): unknown kind 'loan'"),
        (entry(group="foreign"), r"institution #2 \(code '999'\): unknown group 'foreign'"),
        (entry(name_ko=""), r"institution #2 \(code '999'\): missing or empty names\.ko"),
        (entry(name_en="  "), r"institution #2 \(code '999'\): missing or empty names\.en"),
        (
            entry().replace("en = ", "jp = "),
            r"institution #2 \(code '999'\): names: unknown locale 'jp' \(one of ko, en\)",
        ),
        (
            entry().replace('names = { ko = "테스트은행", en = "Test Bank" }', 'names = "x"'),
            r"institution #2 \(code '999'\): missing names",
        ),
        (entry(code="88"), r"institution #2 \(code '88'\): code must be 3 digits"),
        (entry(code="A88"), r"institution #2 \(code 'A88'\): code must be 3 digits"),
        (
            entry(kind="securities", group="commercial"),
            r"institution #2 \(code '999'\): kind 'securities' does not go with group",
        ),
        (
            entry(kind="bank", group="securities"),
            r"institution #2 \(code '999'\): kind 'bank' does not go with group",
        ),
        (entry(aliases='"신한"'), r"institution #2 \(code '999'\): aliases must be a list"),
        (entry(aliases='["", "x"]'), r"institution #2 \(code '999'\): aliases must be a list"),
        (entry() + 'colour = "blue"\n', r"institution #2 \(code '999'\): unknown field 'colour'"),
    ],
)
def test_invalid_entry_is_refused_naming_it(tmp_path: Path, broken: str, message: str) -> None:
    """Each mistake raises ValueError naming the file, the entry (position, code) and the field."""
    path = write(tmp_path, entry(code="901"), broken)
    with pytest.raises(ValueError, match=r"institutions\.toml: " + message):
        load_directory(path)


def test_missing_field_is_refused_naming_the_entry(tmp_path: Path) -> None:
    """An entry without the default locale's name at all is as wrong as a blank one."""
    path = write(tmp_path, '[[institution]]\ncode = "901"\nnames = { en = "Ga" }\nkind = "bank"\n')
    with pytest.raises(
        ValueError, match=r"institution #1 \(code '901'\): missing or empty names\.ko"
    ):
        load_directory(path)


def test_missing_code_is_refused_naming_the_position(tmp_path: Path) -> None:
    """Without a code the entry is named by its position in the file."""
    path = write(tmp_path, entry(code="901"), '[[institution]]\nnames = { ko = "가" }\n')
    with pytest.raises(ValueError, match=r"institution #2: missing or empty code"):
        load_directory(path)


def test_file_without_entries_is_refused(tmp_path: Path) -> None:
    """An empty (or misspelt [[institutions]]) file would leave the link flow with nothing."""
    with pytest.raises(ValueError, match=r"no \[\[institution\]\] entries"):
        load_directory(write(tmp_path, "# nothing yet\n"))
    with pytest.raises(ValueError, match=r"no \[\[institution\]\] entries"):
        load_directory(write(tmp_path, entry().replace("[[institution]]", "[[institutions]]")))


def test_invalid_toml_is_a_value_error_naming_the_file(tmp_path: Path) -> None:
    """A syntax error is reported as ValueError too, so startup has one error type to show."""
    with pytest.raises(ValueError, match=r"institutions\.toml: not valid TOML"):
        load_directory(write(tmp_path, "[[institution]]\ncode = \n"))


def test_non_table_entry_is_refused(tmp_path: Path) -> None:
    """`institution = [1, 2]` is not a list of tables: refused, naming the position."""
    with pytest.raises(ValueError, match=r"institution #1 is not a table"):
        load_directory(write(tmp_path, "institution = [1, 2]\n"))


def test_whitespace_around_values_is_trimmed(tmp_path: Path) -> None:
    """A stray space in the file does not end up on a button or break get()."""
    path = write(tmp_path, entry(name_ko=" 가나은행 ", aliases='[" 가나 "]'))
    institution = load_directory(path).get("999")
    assert institution is not None
    assert institution.name("ko") == "가나은행"
    assert institution.aliases == ("가나",)
