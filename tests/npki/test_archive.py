"""Zip archives: every safety rule and limit of `npki.archive`, one test each.

Each unsafe archive also holds a valid NPKI pair: the rule must refuse the
whole archive, through `read_zip` and through the public `open_bundle`, and
quickly (from the central directory, before inflating anything). Archives are
built with `zipfile` and, where a field must lie, patched by hand.
"""

from __future__ import annotations

import io
import stat
import struct
import time
import tracemalloc
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import pytest

import npki
from npki.archive import read_zip
from tests import factory
from tests.conftest import Holder

PASSWORD = factory.PASSWORD
QUICK = 0.5
"""Seconds any refusal may take: it must not depend on what the entries inflate to."""
SMALL = 1024 * 1024
"""Bytes any refusal may allocate: far less than any bomb below inflates to."""
MIB = 1024 * 1024

Entry = tuple[str | zipfile.ZipInfo, bytes]
T = TypeVar("T")


# --- building and forging archives ----------------------------------------------


def build_zip(
    entries: Iterable[Entry],
    *,
    compression: int = zipfile.ZIP_DEFLATED,
    allow_duplicates: bool = False,
) -> bytes:
    """A zip of `entries` in order; a ZipInfo entry keeps its own attributes."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        if allow_duplicates:
            warnings.filterwarnings("ignore", "Duplicate name", UserWarning)
        with zipfile.ZipFile(buffer, "w", compression) as archive:
            for name, data in entries:
                archive.writestr(name, data)
    return buffer.getvalue()


def zip_info(name: str, *, mode: int = 0, compression: int = zipfile.ZIP_STORED) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2025, 7, 1, 0, 0, 0))
    info.compress_type = compression
    if mode:
        info.external_attr = mode << 16
    return info


# (offset in the central directory record, offset in the local header, format)
_FIELDS = {
    "flags": (8, 6, "<H"),
    "method": (10, 8, "<H"),
    "crc": (16, 14, "<L"),
    "compress_size": (20, 18, "<L"),
    "file_size": (24, 22, "<L"),
}


def forge(data: bytes, name: str, **fields: int) -> bytes:
    """`data` with fields of entry `name` rewritten, in its central record and local header."""
    out = bytearray(data)
    end = out.rindex(b"PK\x05\x06")
    (count,) = struct.unpack_from("<H", out, end + 10)
    (offset,) = struct.unpack_from("<L", out, end + 16)
    for _ in range(count):
        assert out[offset : offset + 4] == b"PK\x01\x02"
        name_length, extra_length, comment_length = struct.unpack_from("<3H", out, offset + 28)
        (local,) = struct.unpack_from("<L", out, offset + 42)
        if bytes(out[offset + 46 : offset + 46 + name_length]).decode() == name:
            for field, value in fields.items():
                central_at, local_at, fmt = _FIELDS[field]
                struct.pack_into(fmt, out, offset + central_at, value)
                struct.pack_into(fmt, out, local + local_at, value)
            return bytes(out)
        offset += 46 + name_length + extra_length + comment_length
    raise KeyError(name)


def data_offset(data: bytes, name: str) -> int:
    """Where the (compressed) data of entry `name` starts."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        local = archive.getinfo(name).header_offset
    name_length, extra_length = struct.unpack_from("<2H", data, local + 26)
    return local + 30 + int(name_length) + int(extra_length)


def _timed(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`call(...)`, asserting it finished within QUICK seconds having allocated under SMALL bytes.

    The memory bound is what shows nothing was inflated: a refused bomb must
    not have been decompressed, however fast zlib is.
    """
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    started = time.perf_counter()
    try:
        return call(*args, **kwargs)
    finally:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        if not tracing:
            tracemalloc.stop()
        assert elapsed < QUICK, f"{call.__name__} took {elapsed:.2f} s"
        assert peak < SMALL, f"{call.__name__} allocated {peak} bytes"


def assert_refused(
    data: bytes,
    error: type[npki.NpkiError] | tuple[type[npki.NpkiError], ...] = npki.UnsafeInput,
    limits: npki.Limits = npki.DEFAULT_LIMITS,
    *,
    name: str = "npki.zip",
) -> None:
    """read_zip and open_bundle (with the right password) both refuse `data`, quickly."""
    with pytest.raises(error):
        _timed(read_zip, data, limits)
    with pytest.raises(error):
        _timed(npki.open_bundle, {name: data}, PASSWORD, limits=limits)


def assert_accepted(data: bytes, limits: npki.Limits = npki.DEFAULT_LIMITS) -> None:
    """read_zip reads `data` and open_bundle finds and opens the one pair in it."""
    assert read_zip(data, limits)
    (item,) = npki.open_bundle({"npki.zip": data}, PASSWORD, limits=limits)
    assert item.opened is not None


# --- material -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def folder(holder: Holder) -> str:
    return factory.npki_folder("yessign", npki.read_certificate(holder.cert_der).subject)


@pytest.fixture(scope="module")
def pair(holder: Holder, seed_key: bytes, folder: str) -> list[Entry]:
    """A valid signing pair in its NPKI folder: what every unsafe archive below also holds."""
    return [(f"{folder}/signCert.der", holder.cert_der), (f"{folder}/signPri.key", seed_key)]


@pytest.fixture(scope="module")
def zeros_50mb(pair: list[Entry]) -> bytes:
    """The pair and 50 MB of zeros deflated (~50 KB in all): a zip bomb, compressed once."""
    return build_zip([*pair, ("NPKI/bomb.der", bytes(50 * MIB))])


def test_the_pair_alone_is_accepted(pair: list[Entry]) -> None:
    """The pair every unsafe archive holds is itself fine: refusals below are the bad entry's."""
    assert_accepted(build_zip(pair))


# --- a normal archive ------------------------------------------------------------


def test_npki_tree_at_depth_is_read_and_the_pair_found(
    ca: factory.Authority, holder: Holder, seed_key: bytes
) -> None:
    """A backup zip with NPKI deep inside, mixed-case names, km pair, CaPubs and a readme is read.

    read_zip gives every file in archive order (folders left out, names as
    written); open_bundle pairs SignCert.der with SignPri.key in its folder,
    keeps the km files with it, ignores CaPubs and the readme, and opens the
    key with the password.
    """
    km_key = factory.rsa_key()
    km_cert = factory.cert_der(factory.make_cert(ca, km_key, encryption_only=True, serial=0x5))
    km_pri = factory.seed_cbc_sha1_key(factory.private_key_info(km_key), PASSWORD)
    subject = npki.read_certificate(holder.cert_der).subject
    user = f"backup/NPKI/yessign/USER/{subject}"
    files = [
        ("backup/", b""),
        ("backup/readme.txt", "인증서 백업 2025".encode()),
        ("backup/NPKI/", b""),
        ("backup/NPKI/yessign/", b""),
        ("backup/NPKI/yessign/USER/", b""),
        (f"{user}/", b""),
        (f"{user}/SignCert.der", holder.cert_der),
        (f"{user}/SignPri.key", seed_key),
        (f"{user}/KmCert.der", km_cert),
        (f"{user}/KmPri.key", km_pri),
        (f"{user}/CaPubs", b"\x30\x03\x02\x01\x01"),
    ]
    data = build_zip(files)

    read = read_zip(data, npki.DEFAULT_LIMITS)
    assert read == [(name, content) for name, content in files if not name.endswith("/")]

    (item,) = npki.open_bundle({"backup.zip": data}, PASSWORD)
    assert item.source == "npki"
    assert item.path == f"backup.zip/{user}/SignCert.der"
    assert item.certificate.subject == subject
    assert item.encryption is npki.KeyEncryption.SEED_CBC_SHA1
    assert item.iterations == 2048
    assert item.files == {
        "signCert.der": holder.cert_der,
        "signPri.key": seed_key,
        "kmCert.der": km_cert,
        "kmPri.key": km_pri,
    }
    assert item.key_error is None
    assert item.opened is not None
    assert item.opened.random_num == holder.random_num

    (unopened,) = npki.open_bundle({"backup.zip": data}, None)
    assert unopened.opened is None
    assert unopened.key_error is None
    assert unopened.encryption is npki.KeyEncryption.SEED_CBC_SHA1


def test_windows_backslash_paths_are_read_as_folders(
    holder: Holder, seed_key: bytes, folder: str
) -> None:
    """Entries written with backslashes (old Windows zippers) come out with `/` and still pair."""
    windows = folder.replace("/", "\\")
    data = build_zip(
        [(f"{windows}\\signCert.der", holder.cert_der), (f"{windows}\\signPri.key", seed_key)]
    )
    assert [name for name, _ in read_zip(data, npki.DEFAULT_LIMITS)] == [
        f"{folder}/signCert.der",
        f"{folder}/signPri.key",
    ]
    (item,) = npki.open_bundle({"npki.zip": data}, PASSWORD)
    assert item.opened is not None


def test_zip_is_recognised_by_its_magic_whatever_its_name(
    pair: list[Entry], zeros_50mb: bytes
) -> None:
    """A zip uploaded under another name is read as a zip, and its rules apply just the same."""
    (item,) = npki.open_bundle({"upload.bin": build_zip(pair)}, PASSWORD)
    assert item.opened is not None
    with pytest.raises(npki.UnsafeInput):
        _timed(npki.open_bundle, {"upload.bin": zeros_50mb}, PASSWORD)


# --- limits ---------------------------------------------------------------------


def test_upload_bytes_limit(pair: list[Entry]) -> None:
    """A zip larger than upload_bytes is refused unread; one of exactly that size is read."""
    data = build_zip(pair)
    assert_accepted(data, npki.Limits(upload_bytes=len(data)))
    assert_refused(data, limits=npki.Limits(upload_bytes=len(data) - 1))


def test_zip_entries_limit_counts_files_and_folders(pair: list[Entry]) -> None:
    """A zip listing more than zip_entries entries (folders included) is refused."""
    limits = npki.Limits(zip_entries=4)
    notes = [("notes/", b""), ("notes/a.txt", b"a")]
    assert_accepted(build_zip([*pair, *notes]), limits)
    assert_refused(build_zip([*pair, *notes, ("notes/more/", b"")]), limits=limits)
    assert_refused(build_zip([*pair, *notes, ("notes/b.txt", b"b")]), limits=limits)


def test_zip_entries_limit_default_refuses_a_thousand_entries(pair: list[Entry]) -> None:
    """With the default limits (64 entries) a zip of 1,000 empty files is refused, quickly."""
    entries = [*pair, *((f"spam/{i}.txt", b"") for i in range(1000))]
    assert_refused(build_zip(entries, compression=zipfile.ZIP_STORED))


def test_zip_uncompressed_bytes_limit_sums_all_entries(pair: list[Entry]) -> None:
    """Entries that together declare more than zip_uncompressed_bytes are refused."""
    base = sum(len(content) for _, content in pair)
    noise = bytes(range(256)) * 16  # 4 KiB, stored: ratio 1
    entries = [*pair, ("a.bin", noise), ("b.bin", noise)]
    exact = npki.Limits(zip_uncompressed_bytes=base + 2 * len(noise))
    data = build_zip(entries, compression=zipfile.ZIP_STORED)
    assert_accepted(data, exact)
    assert_refused(data, limits=npki.Limits(zip_uncompressed_bytes=base + 2 * len(noise) - 1))


def test_zip_ratio_limit(pair: list[Entry]) -> None:
    """An entry that declares more than zip_ratio times its compressed size is refused."""
    data = build_zip([*pair, ("NPKI/zeros.bin", bytes(100_000))])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo("NPKI/zeros.bin")
    ratio = -(-info.file_size // info.compress_size)  # the smallest limit it stays within
    assert ratio > 2
    assert_accepted(data, npki.Limits(zip_ratio=ratio))
    assert_refused(data, limits=npki.Limits(zip_ratio=ratio - 1))


def test_zip_bomb_is_refused_from_the_central_directory(zeros_50mb: bytes) -> None:
    """50 MB of zeros in a ~50 KB zip is refused by its declared ratio, before inflating."""
    assert len(zeros_50mb) < npki.DEFAULT_LIMITS.upload_bytes
    with zipfile.ZipFile(io.BytesIO(zeros_50mb)) as archive:
        assert archive.getinfo("NPKI/bomb.der").file_size == 50 * MIB
    assert_refused(zeros_50mb)


def test_zip_bomb_is_refused_by_total_size_when_the_ratio_allows_it(zeros_50mb: bytes) -> None:
    """With no useful ratio limit, the declared total still refuses a bomb, before inflating."""
    assert_refused(zeros_50mb, limits=npki.Limits(zip_ratio=10**9))


def test_many_small_bombs_are_refused_by_their_sum(pair: list[Entry]) -> None:
    """Sixty 100 KB entries, each within every per-entry limit, are refused for their sum."""
    entries = [*pair, *((f"NPKI/part{i}.bin", bytes(100_000)) for i in range(60))]
    limits = npki.Limits(zip_ratio=10**9)
    assert_refused(build_zip(entries), limits=limits)
    assert_accepted(build_zip(entries[:42]), limits)


# --- paths and entry kinds ---------------------------------------------------------


_MAGIC = {
    ".7z": b"7z\xbc\xaf\x27\x1c",
    ".rar": b"Rar!\x1a\x07\x00",
    ".gz": b"\x1f\x8b\x08\x00",
    ".bz2": b"BZh91AY&SY",
    ".xz": b"\xfd7zXZ\x00",
    ".cab": b"MSCF\x00\x00\x00\x00",
}


@pytest.mark.parametrize(
    "name",
    ["NPKI/inner.zip", "NPKI/Inner.ZIP", "x.7z", "x.rar", "x.tar.gz", "x.tgz", "x.tar",
     "x.jar", "x.gz", "x.bz2", "x.xz", "x.alz", "x.egg", "x.cab", "BACKUP.7Z"],
)  # fmt: skip
def test_nested_archive_is_refused_by_its_name(pair: list[Entry], name: str) -> None:
    """An entry named like an archive (by its suffix, any case) refuses the whole zip.

    Its content is that format's magic, not a zip, so the name alone must refuse it.
    """
    suffix = "." + name.lower().rsplit(".", 1)[1]
    content = _MAGIC.get(suffix, b"ustar\x00" + bytes(64))
    assert_refused(build_zip([*pair, (name, content)]))


@pytest.mark.parametrize("magic", [b"PK\x03\x04", b"PK\x05\x06"])
def test_nested_zip_is_refused_by_its_content(pair: list[Entry], magic: bytes) -> None:
    """A zip hidden under an innocent name (readme.txt) is found by its magic and refused."""
    inner = build_zip(pair) if magic == b"PK\x03\x04" else build_zip([])
    assert inner.startswith(magic)
    assert_refused(build_zip([*pair, ("NPKI/readme.txt", inner)]))


@pytest.mark.parametrize("name", ["/etc/x", "/NPKI/yessign/USER/x/signCert.der", "//srv/share/x"])
def test_absolute_path_is_refused(pair: list[Entry], name: str) -> None:
    """An entry with an absolute path refuses the whole zip."""
    assert_refused(build_zip([*pair, (name, b"x")]))


@pytest.mark.parametrize("name", ["../x", "NPKI/../../etc/x", "NPKI/yessign/..", "..", "a/../b"])
def test_dotdot_path_is_refused(pair: list[Entry], name: str) -> None:
    """An entry with a `..` component refuses the whole zip."""
    assert_refused(build_zip([*pair, (name, b"x")]))


@pytest.mark.parametrize("name", ["..\\x", "NPKI\\..\\..\\x", "NPKI/..\\x", "\\etc\\x"])
def test_backslash_path_out_of_the_archive_is_refused(pair: list[Entry], name: str) -> None:
    """Backslashes count as separators: `..\\` and `\\root` paths refuse the whole zip."""
    assert_refused(build_zip([*pair, (name, b"x")]))


@pytest.mark.parametrize("name", ["C:/x", "c:\\Windows\\x", "C:x", "Z:"])
def test_windows_drive_path_is_refused(pair: list[Entry], name: str) -> None:
    """An entry naming a Windows drive refuses the whole zip."""
    assert_refused(build_zip([*pair, (name, b"x")]))


@pytest.mark.parametrize("name", ["NPKI/a..b/readme.txt", "..hidden", "x..", "NPKI/.../y"])
def test_dots_inside_a_name_are_not_dotdot(pair: list[Entry], name: str) -> None:
    """Only a whole `..` component is refused: names that merely contain dots are read."""
    assert_accepted(build_zip([*pair, (name, b"x")]))


@pytest.mark.parametrize("name", ["NPKI/yessign/USER/link", "NPKI/linked-folder/"])
def test_symlink_entry_is_refused(pair: list[Entry], name: str) -> None:
    """A symbolic-link entry (S_IFLNK in its external attributes), file or folder, is refused."""
    link = zip_info(name, mode=stat.S_IFLNK | 0o777)
    target = b"" if name.endswith("/") else b"/etc/passwd"
    assert_refused(build_zip([*pair, (link, target)]))


def test_encrypted_entry_is_unsupported(pair: list[Entry]) -> None:
    """An entry flagged as encrypted makes the whole zip UnsupportedFormat."""
    data = build_zip([*pair, ("NPKI/secret.txt", b"x" * 32)])
    assert_refused(forge(data, "NPKI/secret.txt", flags=0x1), npki.UnsupportedFormat)


@pytest.mark.parametrize(
    ("compression", "method"),
    [(zipfile.ZIP_BZIP2, None), (zipfile.ZIP_LZMA, None), (zipfile.ZIP_STORED, 93),
     (zipfile.ZIP_STORED, 99)],
    ids=["bzip2", "lzma", "zstd", "aes"],
)  # fmt: skip
def test_unsupported_compression_method(
    pair: list[Entry], compression: int, method: int | None
) -> None:
    """An entry compressed with anything but stored or deflate makes the zip UnsupportedFormat."""
    data = build_zip([*pair, (zip_info("NPKI/other.bin", compression=compression), b"x" * 64)])
    if method is not None:
        data = forge(data, "NPKI/other.bin", method=method)
    assert_refused(data, npki.UnsupportedFormat)


@pytest.mark.parametrize(
    "names",
    [("NPKI/a.txt", "NPKI/a.txt"), ("NPKI/a.txt", "npki/A.TXT"), ("NPKI/a.txt", "NPKI\\a.txt"),
     ("NPKI/", "NPKI/")],
    ids=["same", "case", "backslash", "folder"],
)  # fmt: skip
def test_duplicate_entry_names_are_refused(pair: list[Entry], names: tuple[str, str]) -> None:
    """Two entries with one path (ignoring case, `\\` as `/`) refuse the whole zip."""
    first, second = names
    content = b"" if first.endswith("/") else b"x"
    data = build_zip([(first, content), *pair, (second, content)], allow_duplicates=True)
    assert_refused(data)


# --- lies and damage -------------------------------------------------------------------


def test_declared_size_smaller_than_the_data_is_refused(zeros_50mb: bytes) -> None:
    """An entry declaring 1,000 bytes over 50 MB of data fails its CRC after 1,000, quickly."""
    forged = forge(zeros_50mb, "NPKI/bomb.der", file_size=1000)
    assert_refused(forged, (npki.MalformedInput, npki.UnsafeInput))


def test_declared_size_and_crc_both_forged_never_yield_more_bytes(zeros_50mb: bytes) -> None:
    """With size and CRC forged to match a 1,000-byte prefix, at most those 1,000 bytes come out."""
    forged = forge(zeros_50mb, "NPKI/bomb.der", file_size=1000, crc=zlib.crc32(bytes(1000)))
    try:
        files = _timed(read_zip, forged, npki.DEFAULT_LIMITS)
    except (npki.MalformedInput, npki.UnsafeInput):
        return
    assert dict(files)["NPKI/bomb.der"] == bytes(1000)
    assert len(files) == 3


def test_declared_size_larger_than_the_data_is_refused(pair: list[Entry]) -> None:
    """An entry declaring more bytes than it holds is refused, not padded or read past."""
    data = build_zip([*pair, ("NPKI/short.txt", b"hello" * 20)], compression=zipfile.ZIP_STORED)
    forged = forge(data, "NPKI/short.txt", file_size=200)
    assert_refused(forged, (npki.MalformedInput, npki.UnsafeInput))


def test_corrupted_entry_data_is_malformed(pair: list[Entry], folder: str) -> None:
    """Changed bytes inside an entry fail its CRC: MalformedInput, whole zip."""
    data = bytearray(build_zip(pair, compression=zipfile.ZIP_STORED))
    data[data_offset(bytes(data), f"{folder}/signCert.der") + 100] ^= 0xFF
    assert_refused(bytes(data), npki.MalformedInput)


@pytest.mark.parametrize("damage", ["truncated", "no-end-record", "bad-central-record", "garbage"])
def test_damaged_zip_is_malformed(pair: list[Entry], damage: str) -> None:
    """A zip whose structure is broken is MalformedInput."""
    data = build_zip(pair)
    central = data.rindex(b"PK\x01\x02")
    damaged = {
        "truncated": data[: len(data) // 2],
        "no-end-record": data[: data.rindex(b"PK\x05\x06")],
        "bad-central-record": data[:central] + b"PK\x01\x09" + data[central + 4 :],
        "garbage": b"PK\x03\x04" + bytes(range(256)) * 4,
    }[damage]
    assert_refused(damaged, npki.MalformedInput)


def test_every_entry_is_checked_before_any_is_inflated(pair: list[Entry], folder: str) -> None:
    """An unsafe last entry wins over a damaged first one: nothing was read before the checks."""
    data = bytearray(build_zip([*pair, ("../evil", b"x")], compression=zipfile.ZIP_STORED))
    data[data_offset(bytes(data), f"{folder}/signCert.der") + 100] ^= 0xFF
    assert_refused(bytes(data), npki.UnsafeInput)


def test_one_unsafe_zip_refuses_the_whole_bundle(
    holder: Holder, seed_key: bytes, pair: list[Entry]
) -> None:
    """Loose valid files beside an unsafe zip are not read either: the whole upload is refused."""
    files = {
        "signCert.der": holder.cert_der,
        "signPri.key": seed_key,
        "backup.zip": build_zip([*pair, ("/etc/passwd", b"x")]),
    }
    assert len(npki.open_bundle({k: v for k, v in files.items() if k != "backup.zip"}, None)) == 1
    with pytest.raises(npki.UnsafeInput):
        npki.open_bundle(files, PASSWORD)
