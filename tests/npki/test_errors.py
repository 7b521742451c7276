"""The error tree: every refusal names a `Reason`, fills its English sentence with the
params the raise site passes, and survives a trip through pickle."""

from __future__ import annotations

import ast
import pickle
import re
from pathlib import Path

import pytest

import npki
from npki.errors import ENGLISH, PFX, PRIVATE_KEY, Envelope, placeholders

NPKI = Path(npki.__file__).resolve().parent
ERRORS = {"NpkiError", "WrongPassword", "PasswordRequired", "MalformedInput",
          "UnsupportedFormat", "UnsafeInput", "KeyMismatch"}  # fmt: skip


def _raise_sites() -> list[tuple[str, ast.Call]]:
    """Every construction of an npki error in the library's source, with where it is."""
    return [
        (f"{path.name}:{node.lineno}", node)
        for path in sorted(NPKI.glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ERRORS
    ]


def test_npki_holds_no_korean_text() -> None:
    """What users read lives in the application's catalogs: not one Hangul character is
    left in npki's source (messages, labels, docstrings or comments)."""
    hangul = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
    found = {
        f"{path.name}:{number}"
        for path in sorted(NPKI.glob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if hangul.search(line)
    }
    assert sorted(found) == []


def test_every_reason_has_an_english_sentence() -> None:
    """`str(err)` exists for every reason, and its placeholders are plain names."""
    assert set(ENGLISH) == set(npki.Reason)
    for reason, sentence in ENGLISH.items():
        assert sentence.endswith("."), reason
        assert all(name.isidentifier() for name in placeholders(sentence)), reason


def test_every_raise_site_passes_the_params_its_reason_names() -> None:
    """Each `SomeError(Reason.X, …)` in npki passes exactly the params X's sentence fills,
    so a catalog text with the same placeholders can always be filled."""
    sites = _raise_sites()
    assert len(sites) > 40
    literal = 0
    for where, call in sites:
        given = {keyword.arg for keyword in call.keywords}
        assert None not in given, where  # no **params: the names must be visible here
        if not call.args:
            assert given == set(), where  # the class's default reason takes no params
            continue
        reason = call.args[0]
        if isinstance(reason, ast.Attribute) and ast.unparse(reason.value) == "Reason":
            literal += 1
            assert given == placeholders(ENGLISH[npki.Reason[reason.attr]]), where
    assert literal > 30


def test_reasons_chosen_at_run_time_agree_on_their_params() -> None:
    """Where a site picks the reason at run time (an `Envelope` field, a trailing-data or
    budget reason passed in), every reason it can pick takes the same params."""
    for field in Envelope.__dataclass_fields__:
        chosen = {getattr(PRIVATE_KEY, field), getattr(PFX, field)}
        assert len({placeholders(ENGLISH[reason]) for reason in chosen}) == 1, field
    for family in (
        {npki.Reason.CERTIFICATE_TRAILING_DATA, npki.Reason.KEY_TRAILING_DATA},
        {npki.Reason.PFX_TOTAL_ROUNDS_OVER_LIMIT, npki.Reason.UPLOAD_ROUNDS_OVER_LIMIT},
    ):
        assert len({placeholders(ENGLISH[reason]) for reason in family}) == 1, family


def test_default_reasons_of_the_classes() -> None:
    """An error raised without a reason says the generic thing for its class."""
    assert npki.MalformedInput().reason is npki.Reason.UNREADABLE
    assert npki.WrongPassword().reason is npki.Reason.WRONG_PASSWORD
    assert npki.PasswordRequired().reason is npki.Reason.PASSWORD_REQUIRED
    assert npki.KeyMismatch().reason is npki.Reason.KEY_MISMATCH
    assert str(npki.KeyMismatch()).startswith("The private key (signPri.key)")


@pytest.mark.parametrize(
    "error",
    [
        npki.UnsafeInput(npki.Reason.ZIP_TOO_MANY_ENTRIES, count=65, limit=64),
        npki.PasswordRequired(),
        npki.MalformedInput(npki.Reason.FILE_NOT_RECOGNISED, name="photo.jpg"),
    ],
)
def test_an_error_survives_pickle(error: npki.NpkiError) -> None:
    """Pickled (a process pool, a log handler), an error keeps its class, reason and params;
    the default pickling would have passed the English sentence back as the reason."""
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301  (our own bytes)
    assert type(copy) is type(error)
    assert copy.reason is error.reason
    assert dict(copy.params) == dict(error.params)
    assert str(copy) == str(error)
