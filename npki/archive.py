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

from npki.errors import MalformedInput, UnsafeInput, UnsupportedFormat
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
        raise UnsafeInput("The zip file is too large.", "zip 파일이 너무 큽니다.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as err:
        raise MalformedInput("This zip file is damaged.", "zip 파일이 손상되었습니다.") from err
    with archive:
        files = _checked_entries(archive.infolist(), limits)
        contents = [(_clean(info.filename), _read(archive, info)) for info in files]
    for path, content in contents:
        if content[:4] in ZIP_MAGIC:
            raise _unsafe(f"{path!r} is an archive inside the archive")
    return contents


def _checked_entries(infos: list[zipfile.ZipInfo], limits: Limits) -> list[zipfile.ZipInfo]:
    if len(infos) > limits.zip_entries:
        raise _unsafe(f"it lists {len(infos)} entries (limit {limits.zip_entries})")
    files = []
    total = 0
    seen: set[str] = set()
    for info in infos:
        path = _checked_path(info.filename)
        if path.lower() in seen:
            raise _unsafe(f"the entry {path!r} appears twice")
        seen.add(path.lower())
        if stat.S_ISLNK(info.external_attr >> 16):
            raise _unsafe(f"{path!r} is a link")
        if info.is_dir():
            continue
        if path.lower().endswith(_ARCHIVE_SUFFIXES):
            raise _unsafe(f"{path!r} is an archive inside the archive")
        if info.flag_bits & 0x1:
            raise UnsupportedFormat(
                "Password-protected zip files are not supported.",
                "비밀번호가 걸린 zip 파일은 지원하지 않습니다.",
            )
        if info.compress_type not in _INFLATABLE:
            raise UnsupportedFormat(
                "The zip uses a compression method that is not supported.",
                "지원하지 않는 압축 방식의 zip 파일입니다.",
            )
        if info.file_size > limits.zip_ratio * max(info.compress_size, 1):
            raise _unsafe(f"{path!r} expands more than {limits.zip_ratio} times")
        total += info.file_size
        if total > limits.zip_uncompressed_bytes:
            raise _unsafe(f"it expands to more than {limits.zip_uncompressed_bytes} bytes")
        files.append(info)
    return files


def _checked_path(name: str) -> str:
    path = name.replace("\\", "/")
    parts = path.split("/")
    if path.startswith("/") or _DRIVE.match(path) or ".." in parts or "\x00" in path:
        raise _unsafe(f"the path {name!r} points outside the archive")
    return path


def _clean(name: str) -> str:
    return name.replace("\\", "/")


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        with archive.open(info) as entry:
            content = entry.read(info.file_size + 1)
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, zlib.error) as err:
        raise MalformedInput("This zip file is damaged.", "zip 파일이 손상되었습니다.") from err
    if len(content) != info.file_size:
        raise _unsafe(f"{info.filename!r} is not the size it declares")
    return content


def _unsafe(reason: str) -> UnsafeInput:
    return UnsafeInput(
        f"The zip file was refused: {reason}.",
        "안전하지 않은 zip 파일이라 열지 않았습니다.",
    )
