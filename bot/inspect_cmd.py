"""`certmate inspect`: read certificate files and print what they are.

Exit status: 0 all read; 1 usage; 2 wrong password; 3 invalid, unsupported
or unsafe input; 4 a key that does not belong to its certificate. The
password comes only from standard input (`--password-stdin`), never argv,
and is never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TextIO

import npki
from bot.config import Settings
from handlers.dates import SEOUL, d_day, days_left, korean_date, local_date

EXIT_OK: Final = 0
EXIT_USAGE: Final = 1
EXIT_WRONG_PASSWORD: Final = 2
EXIT_INVALID: Final = 3
EXIT_KEY_MISMATCH: Final = 4


class _Failure(Exception):
    """Ends the command with an error kind, a message per language and an exit status."""

    def __init__(self, kind: str, en: str, ko: str, status: int) -> None:
        super().__init__(en)
        self.kind, self.en, self.ko, self.status = kind, en, ko, status


def run_inspect(args: argparse.Namespace, settings: Settings) -> int:
    """Run the command; returns the exit status."""
    out, err = sys.stdout, sys.stderr
    try:
        now = _parse_now(args.now)
        password = _read_password(sys.stdin) if args.password_stdin else None
        files = _read_files(args.paths, settings.limits.npki())
        items = npki.open_bundle(files, password, limits=settings.limits.npki())
    except npki.NpkiError as error:
        return _fail(_failure_of(error), args.json, out, err)
    except _Failure as failure:
        return _fail(failure, args.json, out, err)
    if not items:
        return _fail(_NOTHING_FOUND, args.json, out, err)

    for item in items:
        if args.json:
            print(json.dumps(item_json(item), ensure_ascii=False), file=out)
        else:
            print(item_summary(item, now), file=out)
    outcome = _outcome(items)
    return EXIT_OK if outcome is None else _fail(outcome, args.json, out, err)


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


def item_summary(item: npki.BundleItem, now: datetime) -> str:
    """A few lines for people: holder, CA, usage, expiry with D-day, key state."""
    cert = item.certificate
    ca = npki.CA_LABELS[cert.ca]
    usage = cert.policy.label if cert.policy else npki.USAGE_LABELS[cert.usage]
    expiry = local_date(cert.not_after, SEOUL)
    left = days_left(cert.not_after, now, SEOUL)
    state = f"만료됨 / expired, {d_day(left)}" if left < 0 else d_day(left)
    return "\n".join(
        [
            f"{cert.holder or cert.subject}  ({item.path})",
            f"  발급기관 Issuer : {ca.ko} / {ca.en}",
            f"  용도 Usage      : {usage.ko} / {usage.en}",
            f"  만료 Expires    : {expiry.isoformat()} ({korean_date(expiry)}, KST) {state}",
            f"  개인키 Key      : {_key_summary(item)}",
            "",
        ]
    )


def _key_summary(item: npki.BundleItem) -> str:
    if not item.has_key:
        return "없음 / none (certificate only)"
    scheme = f"{item.encryption}" + (f", {item.iterations} rounds" if item.iterations else "")
    if item.opened is not None:
        random_num = (
            "randomNum 있음 / present" if item.opened.random_num else "randomNum 없음 / absent"
        )
        return f"열림, 인증서와 일치 / opened, matches the certificate ({scheme}; {random_num})"
    if isinstance(item.key_error, npki.KeyMismatch):
        return f"인증서와 짝이 아님 / does not belong to this certificate ({scheme})"
    if isinstance(item.key_error, npki.WrongPassword):
        return f"비밀번호가 맞지 않음 / wrong password ({scheme})"
    return f"잠김 / locked, no password given ({scheme})"


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
    "No signing certificate was found in the given files.",
    "서명용 인증서(signCert.der)를 찾지 못했습니다.",
    EXIT_INVALID,
)
_STATUS_BY_KIND: Final = {
    "wrong_password": EXIT_WRONG_PASSWORD,
    "key_mismatch": EXIT_KEY_MISMATCH,
}


def _failure_of(error: npki.NpkiError) -> _Failure:
    status = _STATUS_BY_KIND.get(error.kind, EXIT_INVALID)
    return _Failure(error.kind, error.message_en, error.message_ko, status)


def _fail(failure: _Failure, json_output: bool, out: TextIO, err: TextIO) -> int:
    korean = os.environ.get("LANG", "").lower().startswith("ko")
    print(f"certmate inspect: {failure.ko if korean else failure.en}", file=err)
    if json_output:
        payload = {"error": failure.kind, "message": failure.en, "message_ko": failure.ko}
        print(json.dumps(payload, ensure_ascii=False), file=out)
    return failure.status


def _read_password(stdin: TextIO) -> bytes:
    """The first line of standard input without its line ending, as UTF-8."""
    line = stdin.buffer.readline() if hasattr(stdin, "buffer") else stdin.readline().encode()
    return line.removesuffix(b"\n").removesuffix(b"\r")


def _read_files(paths: list[Path], limits: npki.Limits) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for path in paths:
        try:
            size = path.stat().st_size
            if path.is_dir():
                raise _usage(f"{path} is a folder: pass the files in it, or a zip of it.")
            if size > limits.upload_bytes:
                raise _Failure(
                    "unsafe_input",
                    f"{path} is larger than the {limits.upload_bytes}-byte limit.",
                    f"{path} 파일이 허용 크기({limits.upload_bytes}바이트)보다 큽니다.",
                    EXIT_INVALID,
                )
            with path.open("rb") as file:
                files[str(path)] = file.read(limits.upload_bytes + 1)
        except FileNotFoundError as error:
            raise _usage(f"{path} does not exist.") from error
        except OSError as error:
            raise _usage(f"{path} cannot be read: {error.strerror}.") from error
    return files


def _usage(message: str) -> _Failure:
    return _Failure("usage", message, message, EXIT_USAGE)


def _parse_now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise _usage(f"--now {text!r} is not an ISO 8601 date and time.") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=SEOUL)
