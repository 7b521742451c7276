"""Just enough PNG to look at a screenshot: 8-bit RGB or RGBA, not interlaced (what
Chromium writes), decoded with zlib and the five row filters of the PNG specification.

The tests use it to say a screenshot is not blank: how many pixels of a region differ
from its background, and how many colours it holds (anti-aliased text has many).
"""

from __future__ import annotations

import struct
import zlib
from collections import Counter
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {2: 3, 6: 4}  # colour type: RGB, RGBA


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    channels: int
    rows: list[bytes]

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        start = x * self.channels
        r, g, b = self.rows[y][start : start + 3]
        return r, g, b


@dataclass(frozen=True)
class Region:
    """What a rectangle of an image holds."""

    pixels: int
    background: tuple[int, int, int]
    """Its most common colour."""
    differing: int
    """Pixels visibly different from the background (any channel off by more than 24)."""
    dark: int
    """Pixels dark enough to be text on a light page (luminance under 110)."""
    colours: int


def read(data: bytes) -> Image:
    """Decode `data`; anything but 8-bit RGB(A), non-interlaced, is a ValueError."""
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG")
    position, header, compressed = len(SIGNATURE), b"", bytearray()
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        chunk = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            compressed += chunk
        elif kind == b"IEND":
            break
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour not in _CHANNELS or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}")
    channels = _CHANNELS[colour]
    raw = zlib.decompress(bytes(compressed))
    stride = width * channels
    rows: list[bytes] = []
    previous = bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], raw[start + 1 : start + 1 + stride]
        previous = _unfilter(kind, line, previous, channels)
        rows.append(previous)
    return Image(width, height, channels, rows)


def _unfilter(kind: int, line: bytes, above: bytes, bpp: int) -> bytes:
    if kind == 0:
        return bytes(line)
    if kind == 2:
        return bytes((a + b) & 0xFF for a, b in zip(line, above, strict=True))
    out = bytearray(line)
    for i in range(len(out)):
        left = out[i - bpp] if i >= bpp else 0
        if kind == 1:
            out[i] = (out[i] + left) & 0xFF
        elif kind == 3:
            out[i] = (out[i] + ((left + above[i]) >> 1)) & 0xFF
        elif kind == 4:
            upper_left = above[i - bpp] if i >= bpp else 0
            out[i] = (out[i] + _paeth(left, above[i], upper_left)) & 0xFF
        else:
            raise ValueError(f"unknown PNG filter {kind}")
    return bytes(out)


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def region(image: Image, left: int, top: int, right: int, bottom: int) -> Region:
    """Count what the rectangle [left, right) × [top, bottom) holds (clipped to the image)."""
    left, top = max(left, 0), max(top, 0)
    right, bottom = min(right, image.width), min(image.height, bottom)
    counts: Counter[tuple[int, int, int]] = Counter()
    for y in range(top, bottom):
        row = image.rows[y]
        step = image.channels
        for x in range(left, right):
            start = x * step
            counts[(row[start], row[start + 1], row[start + 2])] += 1
    if not counts:
        raise ValueError("empty region")
    background = counts.most_common(1)[0][0]
    differing = dark = 0
    for (r, g, b), n in counts.items():
        if max(abs(r - background[0]), abs(g - background[1]), abs(b - background[2])) > 24:
            differing += n
        if 0.2126 * r + 0.7152 * g + 0.0722 * b < 110:
            dark += n
    return Region(sum(counts.values()), background, differing, dark, len(counts))
