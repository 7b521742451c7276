"""`certmate inspect`: read certificate files and print what they are.

Exit status: 0 all read; 1 usage; 2 wrong password; 3 invalid, unsupported
or unsafe input; 4 a key that does not belong to its certificate. The
password comes only from standard input (`--password-stdin`), never argv,
and is never printed. Messages come from the catalogs: English, or Korean
when the terminal's locale (`LC_ALL`, `LC_MESSAGES`, `LANG`) is `ko_*`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, TextIO

import npki
from bot.config import Settings
from handlers.dates import SEOUL, d_day, days_left, local_date, long_date
from handlers.i18n import Catalog, Texts, load_catalog, supported
from handlers.npki_texts import ca_label, reason_key, usage_label

EXIT_OK: Final = 0
EXIT_USAGE: Final = 1
EXIT_WRONG_PASSWORD: Final = 2
EXIT_INVALID: Final = 3
EXIT_KEY_MISMATCH: Final = 4
TERMINAL_DEFAULT_LOCALE: Final = "en"
"""A terminal whose locale names none of ours (C, POSIX, en_US) reads English."""


class Problem(StrEnum):
    """What `inspect` itself refuses (npki's refusals have their own `npki.Reason`)."""

    NO_SIGNING_CERTIFICATE = "no_signing_certificate"
    FOLDER_TOO_BIG = "folder_too_big"
    EMPTY_FOLDER = "empty_folder"
    MISSING_FILE = "missing_file"
    UNREADABLE_FILE = "unreadable_file"
    BAD_NOW = "bad_now"


def problem_key(problem: Problem) -> str:
    """The catalog key of one of inspect's own refusals."""
    return f"inspect.{problem.value}"


class _Failure(Exception):
    """Ends the command: an error kind and reason, the catalog key and params of its
    message, and an exit status."""

    def __init__(
        self, kind: str, reason: str, key: str, params: Mapping[str, Any], status: int
    ) -> None:
        super().__init__(key)
        self.kind, self.reason, self.key, self.params, self.status = (
            kind, reason, key, params, status,
        )  # fmt: skip


def terminal_locale(environ: Mapping[str, str]) -> str:
    """The language of the terminal: the first of LC_ALL, LC_MESSAGES and LANG that is set
    (POSIX order), if it is one of ours; English otherwise."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if environ.get(name):
            return supported(environ[name], TERMINAL_DEFAULT_LOCALE)
    return TERMINAL_DEFAULT_LOCALE


def run_inspect(args: argparse.Namespace, settings: Settings) -> int:
    """Run the command; returns the exit status."""
    out, err = sys.stdout, sys.stderr
    catalog = load_catalog()
    try:
        now = _parse_now(args.now)
        password = _read_password(sys.stdin) if args.password_stdin else None
        files = _read_files(args.paths, settings.limits.npki())
        items = npki.open_bundle(files, password, limits=settings.limits.npki())
    except npki.NpkiError as error:
        return _fail(_failure_of(error), catalog, args.json, out, err)
    except _Failure as failure:
        return _fail(failure, catalog, args.json, out, err)
    if not items:
        return _fail(_NOTHING_FOUND, catalog, args.json, out, err)

    texts = catalog.texts(terminal_locale(os.environ))
    for item in items:
        if args.json:
            print(json.dumps(item_json(item), ensure_ascii=False), file=out)
        else:
            print(item_summary(item, now, texts), file=out)
    outcome = _outcome(items)
    return EXIT_OK if outcome is None else _fail(outcome, catalog, args.json, out, err)


def item_json(item: npki.BundleItem) -> dict[str, Any]:
    """The `--json` object of one certificate (field names are a public contract)."""
    cert = item.certificate
    return {
        "subject": cert.subject,
        "holder": cert.holder,
        "ca": cert.ca,
        "policy_oid": cert.policy_oid,
        "usage": cert.usage,
        "holder_type": cert.holder_type,
        "serial": cert.serial,
        "not_before": cert.not_before.astimezone(UTC).isoformat(),
        "not_after": cert.not_after.astimezone(UTC).isoformat(),
        "fingerprint_sha256": cert.fingerprint_sha256,
        "identify_data": cert.has_identify_data,
        "path": item.path,
        "private_key": _key_json(item),
    }


def _key_json(item: npki.BundleItem) -> dict[str, Any]:
    if not item.has_key:
        return {"present": False}
    opened = item.opened
    mismatch = isinstance(item.key_error, npki.KeyMismatch)
    return {
        "present": True,
        "encryption": str(item.encryption),
        "iterations": item.iterations,
        "decrypted": opened is not None or mismatch,
        "matches_certificate": True if opened else (False if mismatch else None),
        "random_num": opened.random_num is not None if opened else None,
    }


def item_summary(item: npki.BundleItem, now: datetime, texts: Texts) -> str:
    """A few lines for people, in the language of `texts`: holder, CA, usage, expiry with
    D-day, key state."""
    cert = item.certificate
    expiry = local_date(cert.not_after, SEOUL)
    left = days_left(cert.not_after, now, SEOUL)
    summary = texts(
        "inspect.summary",
        holder=cert.holder or cert.subject,
        path=item.path,
        ca=ca_label(texts, cert.ca),
        usage=usage_label(texts, cert.policy_oid, cert.usage),
        expiry=expiry.isoformat(),
        expiry_long=long_date(expiry, texts.locale),
        state=texts("inspect.expired", dday=d_day(left)) if left < 0 else d_day(left),
        key_state=_key_summary(item, texts),
    )
    return summary + "\n"


def _key_summary(item: npki.BundleItem, texts: Texts) -> str:
    if not item.has_key:
        return texts("inspect.key.none")
    scheme = (
        texts("inspect.scheme_rounds", encryption=item.encryption, iterations=item.iterations)
        if item.iterations
        else f"{item.encryption}"
    )
    if item.opened is not None:
        random_num = texts(
            "inspect.random_num.present" if item.opened.random_num else "inspect.random_num.absent"
        )
        return texts("inspect.key.opened", scheme=scheme, random_num=random_num)
    if isinstance(item.key_error, npki.KeyMismatch):
        return texts("inspect.key.mismatch", scheme=scheme)
    if isinstance(item.key_error, npki.WrongPassword):
        return texts("inspect.key.wrong_password", scheme=scheme)
    return texts("inspect.key.locked", scheme=scheme)


def _outcome(items: list[npki.BundleItem]) -> _Failure | None:
    """A key mismatch outranks a wrong password; all else is success."""
    errors = [item.key_error for item in items if item.key_error is not None]
    for kind in (npki.KeyMismatch, npki.WrongPassword):
        for error in errors:
            if isinstance(error, kind):
                return _failure_of(error)
    return None


_NOTHING_FOUND: Final = _Failure(
    "invalid_input",
    Problem.NO_SIGNING_CERTIFICATE.value,
    problem_key(Problem.NO_SIGNING_CERTIFICATE),
    {},
    EXIT_INVALID,
)
_STATUS_BY_KIND: Final = {
    "wrong_password": EXIT_WRONG_PASSWORD,
    "key_mismatch": EXIT_KEY_MISMATCH,
}


def _failure_of(error: npki.NpkiError) -> _Failure:
    status = _STATUS_BY_KIND.get(error.kind, EXIT_INVALID)
    return _Failure(error.kind, error.reason.value, reason_key(error.reason), error.params, status)


def _fail(failure: _Failure, catalog: Catalog, json_output: bool, out: TextIO, err: TextIO) -> int:
    def message(locale: str) -> str:
        return catalog.texts(locale)(failure.key, **failure.params)

    print(f"certmate inspect: {message(terminal_locale(os.environ))}", file=err)
    if json_output:
        payload = {
            "error": failure.kind,
            "reason": failure.reason,
            "message": message("en"),
            "message_ko": message("ko"),
        }
        print(json.dumps(payload, ensure_ascii=False), file=out)
    return failure.status


def _read_password(stdin: TextIO) -> bytes:
    """The first line of standard input without its line ending, as UTF-8."""
    line = stdin.buffer.readline() if hasattr(stdin, "buffer") else stdin.readline().encode()
    return line.removesuffix(b"\n").removesuffix(b"\r")


def _read_files(paths: list[Path], limits: npki.Limits) -> dict[str, bytes]:
    """Each path's bytes by its name; a folder (an NPKI folder, or one certificate's
    folder) contributes every regular file under it, its certificates paired by folder
    as in a zip, within the limits a zip has."""
    files: dict[str, bytes] = {}
    for path in paths:
        for file in _files_under(path, limits) if path.is_dir() else [path]:
            files[str(file)] = _read_file(file, limits)
    if sum(len(data) for data in files.values()) > limits.zip_uncompressed_bytes:
        folder = next((str(p) for p in paths if p.is_dir()), str(paths[0]))
        raise _too_big(folder, limits)
    return files


def _files_under(folder: Path, limits: npki.Limits) -> list[Path]:
    """The regular files under `folder`, symbolic links not followed, at most as many
    as a zip may list."""
    found: list[Path] = []
    for root, _dirs, names in os.walk(folder, followlinks=False):
        for name in sorted(names):
            candidate = Path(root) / name
            if candidate.is_symlink() or not candidate.is_file():
                continue
            found.append(candidate)
            if len(found) > limits.zip_entries:
                raise _too_big(str(folder), limits)
    if not found:
        raise _usage(Problem.EMPTY_FOLDER, path=str(folder))
    return found


def _too_big(folder: str, limits: npki.Limits) -> _Failure:
    return _usage(
        Problem.FOLDER_TOO_BIG,
        path=folder,
        limit=str(limits.zip_entries),
        size=str(limits.zip_uncompressed_bytes),
    )


def _read_file(path: Path, limits: npki.Limits) -> bytes:
    try:
        if path.stat().st_size > limits.upload_bytes:
            too_large = npki.UnsafeInput(
                npki.Reason.FILE_TOO_LARGE, name=str(path), limit=limits.upload_bytes
            )
            raise _failure_of(too_large)
        with path.open("rb") as file:
            return file.read(limits.upload_bytes + 1)
    except FileNotFoundError as error:
        raise _usage(Problem.MISSING_FILE, path=str(path)) from error
    except OSError as error:
        raise _usage(Problem.UNREADABLE_FILE, path=str(path), cause=str(error.strerror)) from error


def _usage(problem: Problem, **params: str) -> _Failure:
    return _Failure("usage", problem.value, problem_key(problem), params, EXIT_USAGE)


def _parse_now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise _usage(Problem.BAD_NOW, value=text) from error
    return moment if moment.tzinfo else moment.replace(tzinfo=SEOUL)
