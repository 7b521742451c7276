"""Just enough DER framing to cut the first element off a byte string and count a list.

Real NPKI files sometimes carry extra bytes after their DER structure (46 in
one TradeSign key). Parsers that insist on an exact fit would refuse them, so
every reader first takes the first element and ignores the rest, up to a
limit (`Limits.trailing_bytes`): tens of bytes are real, megabytes are
someone filling the disk with a "certificate".
"""

from __future__ import annotations

from npki.errors import MalformedInput, Reason, UnsafeInput

_MAX_LENGTH_OCTETS = 4


def first_element(data: bytes) -> bytes:
    """The bytes of the first DER element of `data` (header and content).

    Raises `MalformedInput` when the header is damaged, uses the indefinite
    (BER) form, or announces more content than `data` holds.
    """
    if len(data) < 2:
        raise MalformedInput(Reason.FILE_TOO_SHORT)
    _content, end = _element_at(data, 0)
    return data[:end]


def first_element_within(data: bytes, trailing_max: int, reason: Reason) -> bytes:
    """`first_element(data)`, refusing more than `trailing_max` bytes after it.

    `reason` says which file carries them (`CERTIFICATE_TRAILING_DATA`, `KEY_TRAILING_DATA`).
    """
    element = first_element(data)
    check_trailing(len(data) - len(element), trailing_max, reason)
    return element


def check_trailing(trailing: int, trailing_max: int, reason: Reason) -> None:
    """`UnsafeInput` when a file carries more than `trailing_max` bytes after its content."""
    if trailing > trailing_max:
        raise UnsafeInput(reason, size=trailing, limit=trailing_max)


def count_children(data: bytes) -> int:
    """How many elements the constructed DER element at the start of `data` holds.

    Counting walks headers only, so a list's size can be checked against a
    limit before a full decoder spends time on every element of it.
    """
    pos, end = _element_at(data, 0)
    count = 0
    while pos < end:
        _content, pos = _element_at(data[:end], pos)
        count += 1
    return count


def _element_at(data: bytes, pos: int) -> tuple[int, int]:
    """Where the content of the element starting at `pos` begins and where it ends."""
    if pos + 2 > len(data):
        raise MalformedInput()
    pos += 1
    if data[pos - 1] & 0x1F == 0x1F:  # high-tag-number form: base-128 continues while bit 8 is set
        while pos < len(data) and data[pos] & 0x80:
            pos += 1
        pos += 1
    if pos >= len(data):
        raise MalformedInput()
    first = data[pos]
    pos += 1
    if first < 0x80:
        length = first
    elif first == 0x80 or first - 0x80 > _MAX_LENGTH_OCTETS:
        raise MalformedInput()
    else:
        count = first - 0x80
        if pos + count > len(data):
            raise MalformedInput()
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise MalformedInput(Reason.FILE_CUT_SHORT)
    return pos, end
