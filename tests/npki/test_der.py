"""The header-only DER walker that counts a list before a full decode."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

import npki
from npki import _der
from tests import der


@given(st.lists(st.binary(max_size=300), max_size=40))
def test_count_children_counts_every_element(contents: list[bytes]) -> None:
    encoded = der.seq(*[der.octets(item) for item in contents])
    assert _der.count_children(encoded + b"trailing") == len(contents)


def test_count_children_refuses_a_child_running_past_its_parent() -> None:
    child = der.octets(b"x" * 10)
    damaged = b"\x30" + bytes([len(child) - 2]) + child  # parent ends inside its child
    with pytest.raises(npki.MalformedInput):
        _der.count_children(damaged)


@given(st.binary(max_size=64))
def test_count_children_raises_only_malformed_input(data: bytes) -> None:
    with contextlib.suppress(npki.MalformedInput):
        assert _der.count_children(data) >= 0
