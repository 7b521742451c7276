"""Read a zip of an NPKI folder in memory, refusing anything unsafe before inflating.

Every entry is checked from the central directory first: count, declared
sizes, compression ratio, path (no absolute or `..` paths), no nested
archives, no links, no encryption. Only when the whole archive passes is
anything decompressed, and then never more than the sizes it declared
(`zipfile` stops each entry at its declared size and checks its CRC).
Nothing is ever written to disk.
"""

from __future__ import annotations

import io
import re
import stat
import zipfile
import zlib
from typing import Final

from npki.errors import MalformedInput, Reason, UnsafeInput, UnsupportedFormat
from npki.limits import Limits

ZIP_MAGIC: Final = (b"PK\x03\x04", b"PK\x05\x06")
_ARCHIVE_SUFFIXES: Final = (
    ".zip", ".jar", ".7z", ".rar", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".alz", ".egg", ".cab",
)  # fmt: skip
_DRIVE: Final = re.compile(r"^[A-Za-z]:")
_INFLATABLE: Final = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


def is_zip(name: str, data: bytes) -> bool:
    """Whether a file is a zip archive, by name or by magic bytes."""
    return name.lower().endswith(".zip") or data[:4] in ZIP_MAGIC


def read_zip(data: bytes, limits: Limits) -> list[tuple[str, bytes]]:
    """(path, bytes) of every file in the archive, in archive order."""
    if len(data) > limits.upload_bytes:
        raise UnsafeInput(Reason.ZIP_TOO_LARGE, limit=limits.upload_bytes)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as err:
        raise MalformedInput(Reason.ZIP_DAMAGED) from err
    with archive:
        files = _checked_entries(archive.infolist(), limits)
        contents = [(_clean(info.filename), _read(archive, info)) for info in files]
    for path, content in contents:
        if content[:4] in ZIP_MAGIC:
            raise UnsafeInput(Reason.ZIP_NESTED_ARCHIVE, path=path)
    return contents


def _checked_entries(infos: list[zipfile.ZipInfo], limits: Limits) -> list[zipfile.ZipInfo]:
    if len(infos) > limits.zip_entries:
        raise UnsafeInput(Reason.ZIP_TOO_MANY_ENTRIES, count=len(infos), limit=limits.zip_entries)
    files = []
    total = 0
    seen: set[str] = set()
    for info in infos:
        path = _checked_path(info.filename)
        if path.lower() in seen:
            raise UnsafeInput(Reason.ZIP_DUPLICATE_ENTRY, path=path)
        seen.add(path.lower())
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeInput(Reason.ZIP_LINK, path=path)
        if info.is_dir():
            continue
        if path.lower().endswith(_ARCHIVE_SUFFIXES):
            raise UnsafeInput(Reason.ZIP_NESTED_ARCHIVE, path=path)
        if info.flag_bits & 0x1:
            raise UnsupportedFormat(Reason.ZIP_ENCRYPTED)
        if info.compress_type not in _INFLATABLE:
            raise UnsupportedFormat(Reason.ZIP_COMPRESSION_UNSUPPORTED)
        if info.file_size > limits.zip_ratio * max(info.compress_size, 1):
            raise UnsafeInput(Reason.ZIP_RATIO_OVER_LIMIT, path=path, limit=limits.zip_ratio)
        total += info.file_size
        if total > limits.zip_uncompressed_bytes:
            raise UnsafeInput(Reason.ZIP_EXPANDS_OVER_LIMIT, limit=limits.zip_uncompressed_bytes)
        files.append(info)
    return files


def _checked_path(name: str) -> str:
    path = name.replace("\\", "/")
    parts = path.split("/")
    if path.startswith("/") or _DRIVE.match(path) or ".." in parts or "\x00" in path:
        raise UnsafeInput(Reason.ZIP_PATH_OUTSIDE, path=name)
    return path


def _clean(name: str) -> str:
    return name.replace("\\", "/")


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        with archive.open(info) as entry:
            content = entry.read(info.file_size + 1)
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, zlib.error) as err:
        raise MalformedInput(Reason.ZIP_DAMAGED) from err
    if len(content) != info.file_size:
        raise UnsafeInput(Reason.ZIP_SIZE_MISMATCH, path=info.filename)
    return content
