"""`certmate inspect` end to end: the real command in a subprocess, files written at run time.

Every run happens in its own temporary folder (so no ./config.toml is picked
up) with every `CERTMATE_*` variable removed from the environment. The
contract is ARCHITECTURE.md, sections "`certmate inspect`" and
"Configuration".
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import textwrap
import time
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

import npki
from tests import der, factory
from tests.conftest import Holder

REPO = Path(__file__).resolve().parents[2]
PASSWORD = factory.PASSWORD
WRONG_PASSWORD = b"wr0ng-Pa55word-7Q"
HOLDER_SUBJECT = "cn=홍길동()0012345678901234,ou=SHB,ou=personal4IB,o=yessign,c=kr"
OTHER_SUBJECT = "cn=김철수()0098765432109876,ou=SHB,ou=personal4IB,o=yessign,c=kr"
CERTIFICATE_FIELDS = {
    "subject",
    "holder",
    "ca",
    "policy_oid",
    "usage",
    "holder_type",
    "serial",
    "not_before",
    "not_after",
    "fingerprint_sha256",
    "private_key",
}
ERROR_KINDS = {
    "wrong_password",
    "invalid_input",
    "unsupported",
    "unsafe_input",
    "key_mismatch",
    "usage",
}
HEAVY_MODULES = (
    "telegram",
    "aiohttp",
    "sqlalchemy",
    "sqlmodel",
    "apscheduler",
    "asyncpg",
    "aiosqlite",
    "alembic",
)
OPENED = {
    "present": True,
    "decrypted": True,
    "matches_certificate": True,
}


# --- running the command --------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One finished `certmate` process."""

    status: int
    out: str
    err: str
    seconds: float

    def objects(self) -> list[dict[str, Any]]:
        """Every stdout line parsed as JSON (each line must be one object)."""
        objects = [json.loads(line) for line in self.out.splitlines()]
        assert all(isinstance(o, dict) for o in objects), self.out
        return objects

    def certificates(self) -> list[dict[str, Any]]:
        return [o for o in self.objects() if "error" not in o]

    def error(self) -> dict[str, Any]:
        """The error object: the last stdout line, and the only one carrying `error`."""
        objects = self.objects()
        errors = [o for o in objects if "error" in o]
        assert len(errors) == 1, self.out
        assert objects[-1] is errors[0], self.out
        return errors[0]


def environment(**extra: str) -> dict[str, str]:
    """os.environ without CERTMATE_*, importing this checkout, in English and UTF-8."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMATE_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["PYTHONIOENCODING"] = "utf-8"
    env["LANG"] = "C.UTF-8"
    env.pop("LC_ALL", None)
    env.update(extra)
    return env


def certmate(cwd: Path, *args: str, stdin: bytes = b"", env: dict[str, str] | None = None) -> Run:
    """`python -m bot ARGS` in `cwd`; stdin is given whole (empty unless said)."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        env=env if env is not None else environment(),
        timeout=120,
        check=False,
    )
    return Run(
        done.returncode,
        done.stdout.decode("utf-8"),
        done.stderr.decode("utf-8"),
        time.monotonic() - started,
    )


def inspect(cwd: Path, *args: str, password: bytes | None = None, **kw: Any) -> Run:
    """`certmate inspect ARGS`; with `password`, adds --password-stdin and feeds it."""
    if password is None:
        return certmate(cwd, "inspect", *args, **kw)
    return certmate(cwd, "inspect", "--password-stdin", *args, stdin=password + b"\n", **kw)


def write(folder: Path, files: dict[str, bytes]) -> list[str]:
    """Write `files` (relative name → bytes) under `folder`; their names, in order."""
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return list(files)


def assert_failure(run: Run, status: int, kind: str) -> dict[str, Any]:
    """Exit `status`, one plain line on stderr, and (with --json) the error object."""
    assert run.status == status, (run.status, run.out, run.err)
    assert len(run.err.splitlines()) == 1, run.err
    assert "Traceback" not in run.err
    error = run.error()
    assert error["error"] == kind
    assert kind in ERROR_KINDS
    assert isinstance(error["message"], str)
    assert error["message"].strip()
    return error


def key_with_iterations(scheme: str, iterations: int) -> bytes:
    """A key file asking for `iterations` rounds; written by hand (deriving would take ages)."""
    salt = os.urandom(8)
    if scheme == "seed-cbc-sha1":
        params = der.seq(der.octets(salt), der.integer(iterations))
        algorithm = der.seq(der.oid(factory.OID_SEED_CBC_WITH_SHA1), params)
    else:
        kdf = der.seq(
            der.oid(factory.OID_PBKDF2), der.seq(der.octets(salt), der.integer(iterations))
        )
        cipher = der.seq(der.oid(factory.AES_CBC[32]), der.octets(os.urandom(16)))
        algorithm = der.seq(der.oid(factory.OID_PBES2), der.seq(kdf, cipher))
    return der.seq(algorithm, der.octets(os.urandom(1232)))


# --- material, made once per module ------------------------------------------------


@dataclass(frozen=True)
class Km:
    """An encryption (km) pair beside the holder's signing pair."""

    cert_der: bytes
    key_file: bytes


@pytest.fixture(scope="module")
def km(ca: factory.Authority) -> Km:
    key = factory.rsa_key()
    cert = factory.make_cert(ca, key, serial=0x1A2B3D, encryption_only=True)
    return Km(
        factory.cert_der(cert), factory.seed_cbc_sha1_key(factory.private_key_info(key), PASSWORD)
    )


@pytest.fixture(scope="module")
def other_key(other_holder: Holder) -> bytes:
    """The other holder's signPri.key, under the same password."""
    return factory.seed_cbc_sha1_key(other_holder.plain, PASSWORD)


@pytest.fixture(scope="module")
def pfx_files(holder: Holder, seed_key: bytes) -> dict[str, bytes]:
    """The holder's pair as PFX: written by npki, and by the openssl command (AES)."""
    opened = npki.open_pair(holder.cert_der, seed_key, PASSWORD)
    return {
        "npki.pfx": npki.export_pfx(opened, PASSWORD, iterations=1000),
        "openssl.p12": factory.openssl_pfx(
            holder.key, holder.cert, PASSWORD.decode(), cipher="aes"
        ),
    }


def holder_zip(holder: Holder, key: bytes, km: Km | None = None) -> dict[str, bytes]:
    folder = factory.npki_folder("yessign", HOLDER_SUBJECT)
    files = {f"{folder}/signCert.der": holder.cert_der, f"{folder}/signPri.key": key}
    if km is not None:
        files[f"{folder}/kmCert.der"] = km.cert_der
        files[f"{folder}/kmPri.key"] = km.key_file
    return files


# --- --json: the fields -------------------------------------------------------------


def test_json_pair_with_password_reports_every_contract_field(
    tmp_path: Path, holder: Holder, seed_key: bytes
) -> None:
    """signCert.der + signPri.key + the right password: one JSON line with the contract's
    field names and value formats, and a private key opened with seed-cbc-sha1/2048."""
    names = write(tmp_path, {"signCert.der": holder.cert_der, "signPri.key": seed_key})
    run = inspect(tmp_path, "--json", *names, password=PASSWORD)
    assert run.status == 0, run.err
    assert run.err == ""
    [item] = run.objects()
    assert set(item) >= CERTIFICATE_FIELDS
    assert item["subject"] == HOLDER_SUBJECT
    assert item["holder"] == "홍길동"
    assert item["ca"] == "yessign"
    assert item["policy_oid"] == factory.BANK_PERSONAL
    assert item["usage"] == "bank"
    assert item["holder_type"] == "personal"
    assert item["serial"] == "1a2b3c"
    assert item["not_before"] == "2025-06-30T15:00:00+00:00"
    assert item["not_after"] == "2026-07-01T14:59:59+00:00"
    assert datetime.fromisoformat(item["not_after"]).utcoffset() == UTC.utcoffset(None)
    assert re.fullmatch(r"[0-9a-f]{64}", item["fingerprint_sha256"])
    assert item["fingerprint_sha256"] == hashlib.sha256(holder.cert_der).hexdigest()
    assert item["private_key"] == {
        "present": True,
        "encryption": "seed-cbc-sha1",
        "iterations": 2048,
        "decrypted": True,
        "matches_certificate": True,
        "random_num": True,
    }


def test_json_serial_is_lowercase_hex_without_separators(
    tmp_path: Path, ca: factory.Authority, holder: Holder
) -> None:
    """`serial` is the whole serial number in lowercase hex, no colons, no 0x, no padding."""
    cert = factory.make_cert(ca, holder.key, serial=0xABCDEF0123456789FEDCBA)
    names = write(tmp_path, {"signCert.der": factory.cert_der(cert)})
    [item] = inspect(tmp_path, "--json", *names).objects()
    assert item["serial"] == "abcdef0123456789fedcba"


def test_json_certificate_alone_has_no_private_key(tmp_path: Path, holder: Holder) -> None:
    """A certificate with no key file: `private_key` is exactly {"present": false}, exit 0."""
    names = write(tmp_path, {"signCert.der": holder.cert_der})
    run = inspect(tmp_path, "--json", *names)
    assert run.status == 0, run.err
    [item] = run.objects()
    assert item["private_key"] == {"present": False}
    assert item["fingerprint_sha256"] == hashlib.sha256(holder.cert_der).hexdigest()


def test_json_pem_certificate_alone_is_read(tmp_path: Path, holder: Holder) -> None:
    """A PEM certificate under any name is read; its fingerprint is the SHA-256 of the DER."""
    pem = holder.cert.public_bytes(serialization.Encoding.PEM)
    names = write(tmp_path, {"mine.pem": pem})
    run = inspect(tmp_path, "--json", *names)
    assert run.status == 0, run.err
    [item] = run.objects()
    assert item["subject"] == HOLDER_SUBJECT
    assert item["fingerprint_sha256"] == hashlib.sha256(holder.cert_der).hexdigest()


# --- every key encryption -------------------------------------------------------------

SCHEMES = [
    pytest.param(
        "seed-cbc-sha1",
        2048,
        lambda plain, pw: factory.seed_cbc_sha1_key(plain, pw, iterations=2048),
        id="seed-cbc-sha1",
    ),
    pytest.param(
        "pbes2-seed-cbc",
        1024,
        lambda plain, pw: factory.pbes2_key(plain, pw, cipher="seed", iterations=1024),
        id="pbes2-seed-cbc",
    ),
    pytest.param(
        "pbes2-aes-128-cbc",
        2000,
        lambda plain, pw: factory.pbes2_key(
            plain, pw, cipher="aes", key_bytes=16, iterations=2000, prf_sha256=True
        ),
        id="pbes2-aes-128-cbc",
    ),
    pytest.param(
        "pbes2-aes-192-cbc",
        3000,
        lambda plain, pw: factory.pbes2_key(
            plain, pw, cipher="aes", key_bytes=24, iterations=3000, with_key_length=True
        ),
        id="pbes2-aes-192-cbc",
    ),
    pytest.param(
        "pbes2-aes-256-cbc",
        4096,
        lambda plain, pw: factory.pbes2_key(
            plain, pw, cipher="aes", key_bytes=32, iterations=4096, prf_sha256=True
        ),
        id="pbes2-aes-256-cbc",
    ),
    pytest.param(
        "seed-cbc-legacy",
        1500,
        lambda plain, pw: factory.seed_legacy_key(plain, pw, iterations=1500),
        id="seed-cbc-legacy",
    ),
    pytest.param("none", None, lambda plain, _pw: plain, id="none"),
]


@pytest.mark.parametrize(("encryption", "iterations", "make_key"), SCHEMES)
def test_json_each_key_encryption_opens_with_password(
    tmp_path: Path, holder: Holder, encryption: str, iterations: int | None, make_key: Any
) -> None:
    """Each key scheme is named by its contract `encryption` value with the iteration count
    the file carries (null for a plain PKCS#8), and opens with the password (randomNum kept)."""
    key = make_key(holder.plain, PASSWORD)
    names = write(tmp_path, {"signCert.der": holder.cert_der, "signPri.key": key})
    run = inspect(tmp_path, "--json", *names, password=PASSWORD)
    assert run.status == 0, run.err
    [item] = run.objects()
    assert item["private_key"] == {
        **OPENED,
        "encryption": encryption,
        "iterations": iterations,
        "random_num": True,
    }


@pytest.mark.parametrize(("encryption", "iterations", "make_key"), SCHEMES)
def test_json_each_key_encryption_without_password_is_reported_not_decrypted(
    tmp_path: Path, holder: Holder, encryption: str, iterations: int | None, make_key: Any
) -> None:
    """Without --password-stdin a key is still described (encryption, iterations) but
    `decrypted` is false, and the command succeeds (only certificates are read)."""
    key = make_key(holder.plain, PASSWORD)
    names = write(tmp_path, {"signCert.der": holder.cert_der, "signPri.key": key})
    run = inspect(tmp_path, "--json", *names)
    assert run.status == 0, run.err
    [item] = run.objects()
    key_json = item["private_key"]
    assert key_json["present"] is True
    assert key_json["encryption"] == encryption
    assert key_json["iterations"] == iterations
    assert key_json["decrypted"] is False


@pytest.mark.parametrize("name", ["npki.pfx", "openssl.p12"])
def test_json_pfx_reports_pkcs12_without_iterations_or_random_num(
    tmp_path: Path, holder: Holder, pfx_files: dict[str, bytes], name: str
) -> None:
    """A .pfx/.p12 (written by npki or by openssl): the same certificate facts, and a key
    with encryption "pkcs12", iterations null and random_num false (PFX drops it)."""
    names = write(tmp_path, {name: pfx_files[name]})
    run = inspect(tmp_path, "--json", *names, password=PASSWORD)
    assert run.status == 0, run.err
    [item] = run.objects()
    assert item["subject"] == HOLDER_SUBJECT
    assert item["fingerprint_sha256"] == hashlib.sha256(holder.cert_der).hexdigest()
    assert item["private_key"] == {
        **OPENED,
        "encryption": "pkcs12",
        "iterations": None,
        "random_num": False,
    }


# --- the password ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "stdin",
    [
        PASSWORD,
        PASSWORD + b"\n",
        PASSWORD + b"\r\n",
        PASSWORD + b"\nsecond line\n",
        PASSWORD + b"\r\nsecond line\r\n",
    ],
    ids=["no-newline", "lf", "crlf", "lf-then-more", "crlf-then-more"],
)
def test_password_is_first_line_of_stdin_without_line_ending(
    tmp_path: Path, holder: Holder, seed_key: bytes, stdin: bytes
) -> None:
    """--password-stdin takes the first line of stdin without "\\n" or "\\r\\n"; later lines
    are ignored."""
    names = write(tmp_path, {"signCert.der": holder.cert_der, "signPri.key": seed_key})
    run = certmate(tmp_path, "inspect", "--json", "--password-stdin", *names, stdin=stdin)
    assert run.status == 0, run.err
    [item] = run.objects()
    assert item["private_key"]["decrypted"] is True


def test_password_is_utf8_bytes_of_the_line(tmp_path: Path, holder: Holder) -> None:
    """A Korean password typed on stdin is used as its UTF-8 bytes."""
    password = "비밀번호-한글1!".encode()
    key = factory.seed_cbc_sha1_key(holder.plain, password)
    names = write(tmp_path, {"signCert.der": holder.cert_der, "signPri.key": key})
    run = inspect(tmp_path, "--json", *names, password=password)
    assert run.status == 0, run.err
    assert run.objects()[0]["private_key"]["decrypted"] is True


def test_password_must_be_the_line_not_a_prefix_or_with_trailing_space(
    tmp_path: Path, holder: Holder, seed_key: bytes
) -> None:
    """Only the line ending is removed: a trailing space is part of the password (wrong)."""
    names = write(tmp_path, {"signCert.der": holder.cert_der, "signPri.key": seed_key})
    run = inspect(tmp_path, "--json", *names, password=PASSWORD + b" ")
    assert_failure(run, 2, "wrong_password")


Outcome = tuple[dict[str, bytes], bytes, int]


@pytest.fixture(scope="module")
def outcomes(
    holder: Holder, seed_key: bytes, other_key: bytes, pfx_files: dict[str, bytes]
) -> dict[str, Outcome]:
    """Files, password and expected exit status of each way a run with a password can end."""
    pair = {"signCert.der": holder.cert_der, "signPri.key": seed_key}
    pfx = {"npki.pfx": pfx_files["npki.pfx"]}
    return {
        "opened": (pair, PASSWORD, 0),
        "wrong": (pair, WRONG_PASSWORD, 2),
        "mismatch": ({"signCert.der": holder.cert_der, "signPri.key": other_key}, PASSWORD, 4),
        "pfx": (pfx, PASSWORD, 0),
        "pfx-wrong": (pfx, WRONG_PASSWORD, 2),
    }


@pytest.mark.parametrize("json_flag", [["--json"], []], ids=["json", "text"])
@pytest.mark.parametrize("case", ["opened", "wrong", "mismatch", "pfx", "pfx-wrong"])
def test_password_never_appears_in_output(
    tmp_path: Path, outcomes: dict[str, Outcome], case: str, json_flag: list[str]
) -> None:
    """Whatever the outcome (opened, wrong password, key mismatch, PFX), the password read
    from stdin is printed neither on stdout nor on stderr."""
    files, password, status = outcomes[case]
    names = write(tmp_path, files)
    run = inspect(tmp_path, *json_flag, *names, password=password)
    assert run.status == status, run.err
    assert password.decode() not in run.out
    assert password.decode() not in run.err


def test_no_password_option_abbreviation_is_accepted(
    tmp_path: Path, holder: Holder, seed_key: bytes
) -> None:
    """There is no --password option: `inspect --password FILES` is a usage error (exit 1),
    not silently read as --password-stdin."""
    names = write(tmp_path, {"signCert.der": holder.cert_der, "signPri.key": seed_key})
    run = certmate(tmp_path, "inspect", "--json", "--password", *names, stdin=PASSWORD + b"\n")
    assert_failure(run, 1, "usage")


@pytest.mark.parametrize(
    "argv",
    [
        ["--password=PW"],
        ["--password", "PW"],
        ["--password-stdin=PW"],
    ],
    ids=["password=", "password-space", "password-stdin="],
)
def test_no_password_from_argv_is_a_usage_error(
    tmp_path: Path, holder: Holder, seed_key: bytes, argv: list[str]
) -> None:
    """A password on the command line is refused with a usage error (exit 1); the key is
    never opened with it."""
    names = write(tmp_path, {"signCert.der": holder.cert_der, "signPri.key": seed_key})
    args = [a.replace("PW", PASSWORD.decode()) for a in argv]
    run = certmate(tmp_path, "inspect", "--json", *args, *names)
    assert_failure(run, 1, "usage")
    assert '"decrypted": true' not in run.out


def test_password_given_on_argv_is_not_echoed(
    tmp_path: Path, holder: Holder, seed_key: bytes
) -> None:
    """Even a password wrongly given on argv is never echoed back (Secrets: never echoed)."""
    names = write(tmp_path, {"signCert.der": holder.cert_der, "signPri.key": seed_key})
    run = certmate(tmp_path, "inspect", "--json", f"--password={PASSWORD.decode()}", *names)
    assert run.status == 1
    assert PASSWORD.decode() not in run.out
    assert PASSWORD.decode() not in run.err


# --- exit statuses ----------------------------------------------------------------------


@pytest.mark.parametrize("source", ["pair", "pfx"])
def test_wrong_password_exits_2_with_error_line(
    tmp_path: Path, holder: Holder, seed_key: bytes, pfx_files: dict[str, bytes], source: str
) -> None:
    """A password that does not open the key: exit 2, one line on stderr, and with --json
    a final stdout line {"error": "wrong_password", "message": …}."""
    files = (
        {"signCert.der": holder.cert_der, "signPri.key": seed_key}
        if source == "pair"
        else {"npki.pfx": pfx_files["npki.pfx"]}
    )
    names = write(tmp_path, files)
    run = inspect(tmp_path, "--json", *names, password=WRONG_PASSWORD)
    assert_failure(run, 2, "wrong_password")
    for item in run.certificates():
        assert item["private_key"]["decrypted"] is False


def test_wrong_password_without_json_prints_no_json_error(
    tmp_path: Path, holder: Holder, seed_key: bytes
) -> None:
    """Without --json a wrong password is still exit 2 and one stderr line; stdout carries
    no JSON error object."""
    names = write(tmp_path, {"signCert.der": holder.cert_der, "signPri.key": seed_key})
    run = inspect(tmp_path, *names, password=WRONG_PASSWORD)
    assert run.status == 2
    assert len(run.err.splitlines()) == 1
    assert '"error"' not in run.out


def test_empty_stdin_is_an_empty_password(tmp_path: Path, holder: Holder, seed_key: bytes) -> None:
    """--password-stdin with nothing on stdin tries the empty password: wrong, exit 2."""
    names = write(tmp_path, {"signCert.der": holder.cert_der, "signPri.key": seed_key})
    run = certmate(tmp_path, "inspect", "--json", "--password-stdin", *names, stdin=b"")
    assert_failure(run, 2, "wrong_password")


def test_key_of_another_certificate_exits_4(
    tmp_path: Path, holder: Holder, other_key: bytes
) -> None:
    """A key that opens with the password but belongs to another certificate: exit 4,
    error kind key_mismatch, and the certificate's key reported as not matching."""
    names = write(tmp_path, {"signCert.der": holder.cert_der, "signPri.key": other_key})
    run = inspect(tmp_path, "--json", *names, password=PASSWORD)
    assert_failure(run, 4, "key_mismatch")
    [item] = run.certificates()
    assert item["fingerprint_sha256"] == hashlib.sha256(holder.cert_der).hexdigest()
    assert item["private_key"]["present"] is True
    assert item["private_key"]["matches_certificate"] is False


def test_invalid_input_garbage_file_exits_3(tmp_path: Path) -> None:
    """A file that is no certificate, key, PFX or zip: exit 3, invalid_input."""
    names = write(tmp_path, {"notes.bin": b"this is not a certificate\n" * 40})
    assert_failure(inspect(tmp_path, "--json", *names), 3, "invalid_input")


@pytest.mark.parametrize("cut", [0, 1, 100, -1], ids=["empty", "one-byte", "100", "minus-1"])
def test_invalid_input_truncated_certificate_exits_3(
    tmp_path: Path, holder: Holder, cut: int
) -> None:
    """A truncated signCert.der (empty, or cut anywhere): exit 3, invalid_input."""
    names = write(tmp_path, {"signCert.der": holder.cert_der[:cut]})
    assert_failure(inspect(tmp_path, "--json", *names), 3, "invalid_input")


def test_invalid_input_damaged_zip_exits_3(tmp_path: Path, holder: Holder) -> None:
    """A .zip whose bytes are cut short: exit 3, invalid_input."""
    archive = factory.make_zip({"NPKI/yessign/USER/x/signCert.der": holder.cert_der})
    names = write(tmp_path, {"npki.zip": archive[: len(archive) // 2]})
    assert_failure(inspect(tmp_path, "--json", *names), 3, "invalid_input")


def test_unsupported_key_encryption_exits_3(tmp_path: Path, holder: Holder) -> None:
    """A well-formed key file with an encryption we do not read: exit 3, unsupported."""
    params = der.seq(der.octets(os.urandom(8)), der.integer(2048))
    algorithm = der.seq(der.oid("1.2.840.113549.1.5.3"), params)  # pbeWithMD5AndDES-CBC
    key = der.seq(algorithm, der.octets(os.urandom(1232)))
    names = write(tmp_path, {"signCert.der": holder.cert_der, "signPri.key": key})
    assert_failure(inspect(tmp_path, "--json", *names, password=PASSWORD), 3, "unsupported")


def test_oversized_file_exits_3_unsafe(tmp_path: Path) -> None:
    """A file over 1 MiB (the default upload_bytes) is refused unread: exit 3, unsafe_input."""
    names = write(tmp_path, {"signCert.der": b"\x30" * (1024 * 1024 + 1)})
    assert_failure(inspect(tmp_path, "--json", *names), 3, "unsafe_input")


def test_file_of_exactly_the_limit_is_not_refused_as_unsafe(tmp_path: Path) -> None:
    """A file of exactly 1 MiB is within the limit: it is read (and is then merely invalid).
    Its one DER element fills it, so no trailing bytes make it unsafe either."""
    size = 1024 * 1024
    element = b"\x30\x83" + (size - 5).to_bytes(3, "big") + b"\x05" * (size - 5)
    names = write(tmp_path, {"signCert.der": element})
    assert_failure(inspect(tmp_path, "--json", *names), 3, "invalid_input")


@pytest.mark.parametrize(
    "evil",
    ["../signCert.der", "NPKI/../../signCert.der", "NPKI/yessign/USER/x/../../../../evil.txt"],
)
def test_zip_with_dotdot_path_is_refused_whole(
    tmp_path: Path, holder: Holder, seed_key: bytes, evil: str
) -> None:
    """A zip with any `..` entry is refused whole (exit 3, unsafe_input): not even the good
    folder beside it is reported."""
    archive = factory.make_zip({**holder_zip(holder, seed_key), evil: holder.cert_der})
    assert evil in zipfile.ZipFile(io.BytesIO(archive)).namelist()  # written as given
    names = write(tmp_path, {"npki.zip": archive})
    run = inspect(tmp_path, "--json", *names, password=PASSWORD)
    assert_failure(run, 3, "unsafe_input")
    assert run.certificates() == []


def test_zip_bomb_and_nested_archive_are_refused(tmp_path: Path, holder: Holder) -> None:
    """A zip entry that expands over the ratio limit, or a zip inside the zip: exit 3,
    unsafe_input."""
    bomb = factory.make_zip(
        {"NPKI/yessign/USER/x/signCert.der": holder.cert_der, "NPKI/pad.txt": bytes(3_000_000)}
    )
    nested = factory.make_zip(
        {"NPKI/inner.zip": factory.make_zip({"signCert.der": holder.cert_der})}
    )
    names = write(tmp_path, {"bomb.zip": bomb, "nested.zip": nested})
    for name in names:
        assert_failure(inspect(tmp_path, "--json", name), 3, "unsafe_input")


@pytest.mark.parametrize("scheme", ["seed-cbc-sha1", "pbes2-aes-256-cbc"])
@pytest.mark.parametrize("with_password", [True, False], ids=["password", "no-password"])
def test_key_asking_for_a_billion_iterations_is_refused_fast(
    tmp_path: Path, holder: Holder, scheme: str, with_password: bool
) -> None:
    """A key asking for 10**9 KDF rounds is refused before any derivation: exit 3,
    unsafe_input, within seconds."""
    key = key_with_iterations(scheme, 10**9)
    names = write(tmp_path, {"signCert.der": holder.cert_der, "signPri.key": key})
    run = inspect(tmp_path, "--json", *names, password=PASSWORD if with_password else None)
    assert_failure(run, 3, "unsafe_input")
    assert run.seconds < 10


@pytest.mark.parametrize(
    "case", ["no-paths", "missing-file", "unknown-option", "directory", "no-command", "bad-now"]
)
def test_usage_errors_exit_1(tmp_path: Path, holder: Holder, case: str) -> None:
    """No paths, a missing file, an unknown option, a folder, no subcommand, or a bad --now:
    exit 1, error kind usage (JSON with --json), one line on stderr, no traceback."""
    write(tmp_path, {"signCert.der": holder.cert_der})
    (tmp_path / "NPKI").mkdir()
    args = {
        "no-paths": ["inspect", "--json"],
        "missing-file": ["inspect", "--json", "signCert.der", "nope/signPri.key"],
        "unknown-option": ["inspect", "--json", "--frobnicate", "signCert.der"],
        "directory": ["inspect", "--json", "NPKI"],
        "no-command": ["--json"],
        "bad-now": ["inspect", "--json", "--now", "next tuesday", "signCert.der"],
    }[case]
    run = certmate(tmp_path, *args)
    assert_failure(run, 1, "usage")
    if case in ("missing-file", "directory"):
        assert args[-1].split("/")[-1] in run.err


def test_usage_error_without_json_prints_nothing_on_stdout(tmp_path: Path) -> None:
    """A usage error without --json: exit 1, a message on stderr, stdout empty."""
    run = certmate(tmp_path, "inspect", "missing.der")
    assert run.status == 1
    assert run.out == ""
    assert "missing.der" in run.err


def test_nothing_to_report_is_invalid_input(tmp_path: Path, km: Km) -> None:
    """Only a km pair given: no signing certificate is reported, exit 3, invalid_input."""
    names = write(tmp_path, {"kmCert.der": km.cert_der, "kmPri.key": km.key_file})
    run = inspect(tmp_path, "--json", *names, password=PASSWORD)
    assert_failure(run, 3, "invalid_input")
    assert run.certificates() == []


# --- what failures say ---------------------------------------------------------------

HANGUL = re.compile(r"[\uac00-\ud7a3]")


def test_error_json_names_the_reason_and_says_it_in_both_languages(
    tmp_path: Path, holder: Holder, other_key: bytes
) -> None:
    """The error object names npki's reason beside the kind, and `message_ko` is the Korean
    catalog's sentence (해요체), not the English one again."""
    names = write(tmp_path, {"signCert.der": holder.cert_der, "signPri.key": other_key})
    error = assert_failure(
        inspect(tmp_path, "--json", *names, password=PASSWORD), 4, "key_mismatch"
    )
    assert error["reason"] == "key_mismatch"
    assert error["message"] == (
        "The private key (signPri.key) does not belong to this certificate (signCert.der)."
    )
    assert error["message_ko"] == "개인키(signPri.key)가 이 인증서(signCert.der)의 짝이 아니에요."


def test_a_refused_zip_says_which_limit(tmp_path: Path) -> None:
    """A zip over the entry limit is refused with the count and the limit, in both
    languages (the Korean used to say only that the zip was unsafe)."""
    archive = factory.make_zip({f"NPKI/pad{i}.txt": b"x" for i in range(3)})
    (tmp_path / "limits.toml").write_text("[limits]\nzip_entries = 2\n")
    names = write(tmp_path, {"npki.zip": archive})
    run = inspect(tmp_path, "--config", "limits.toml", "--json", *names)
    error = assert_failure(run, 3, "unsafe_input")
    assert error["reason"] == "zip_too_many_entries"
    assert "3 entries (limit 2)" in error["message"]
    assert error["message_ko"] == "zip 파일에 든 항목이 3개로 한도(2개)보다 많아서 열지 않았어요."


def test_an_npki_folder_is_read_as_it_lies_on_a_pc(
    tmp_path: Path, holder: Holder, other_holder: Holder, seed_key: bytes
) -> None:
    """`inspect NPKI` reads the folder a PC keeps (CA > USER > cn=… > signCert.der and
    signPri.key), each certificate with the key of its own folder."""
    other_key = factory.seed_cbc_sha1_key(other_holder.plain, PASSWORD)
    write(tmp_path, {
        "NPKI/yessign/USER/cn=a/signCert.der": holder.cert_der,
        "NPKI/yessign/USER/cn=a/signPri.key": seed_key,
        "NPKI/yessign/USER/cn=b/signCert.der": other_holder.cert_der,
        "NPKI/yessign/USER/cn=b/signPri.key": other_key,
    })  # fmt: skip
    run = inspect(tmp_path, "--json", "NPKI", password=PASSWORD)
    assert run.status == 0, run.err
    items = run.objects()
    assert sorted(item["holder"] for item in items) == ["김철수", "홍길동"]
    assert all(item["private_key"]["matches_certificate"] for item in items), items


def test_a_folder_too_large_for_certificates_is_refused_in_both_languages(
    tmp_path: Path,
) -> None:
    """inspect's own refusals have a reason and a Korean message: a folder holding more
    files than a zip may list is not read."""
    write(tmp_path, {f"NPKI/pad{i}.txt": b"x" for i in range(3)})
    (tmp_path / "limits.toml").write_text("[limits]\nzip_entries = 2\n")
    run = inspect(tmp_path, "--config", "limits.toml", "--json", "NPKI")
    error = assert_failure(run, 1, "usage")
    assert error["reason"] == "folder_too_big"
    assert error["message"].startswith("NPKI was not read: it is too large")
    assert HANGUL.search(error["message_ko"])
    assert error["message_ko"].startswith("NPKI 폴더는 읽지 않았어요")


@pytest.mark.parametrize(
    ("variables", "korean"),
    [
        ({"LANG": "ko_KR.UTF-8"}, True),
        ({"LANG": "C.UTF-8", "LC_ALL": "ko_KR.UTF-8"}, True),
        ({"LANG": "C.UTF-8", "LC_MESSAGES": "ko_KR.UTF-8"}, True),
        ({"LANG": "ko_KR.UTF-8", "LC_ALL": "C"}, False),
        ({"LANG": "en_US.UTF-8"}, False),
        ({"LANG": "C.UTF-8"}, False),
    ],
    ids=["LANG=ko", "LC_ALL=ko", "LC_MESSAGES=ko", "LC_ALL=C-over-LANG=ko", "en", "C"],
)
def test_stderr_speaks_the_terminals_language(
    tmp_path: Path, holder: Holder, variables: dict[str, str], korean: bool
) -> None:
    """The stderr line is Korean when the locale the terminal uses for messages is ko_*
    (LC_ALL, then LC_MESSAGES, then LANG), English otherwise."""
    names = write(tmp_path, {"signCert.der": holder.cert_der[:100]})
    run = inspect(tmp_path, *names, env=environment(**variables))
    assert run.status == 3
    assert bool(HANGUL.search(run.err)) is korean, run.err
    expected = "파일이 중간에 잘려 있어요." if korean else "The file is cut short."
    assert run.err == f"certmate inspect: {expected}\n"


# --- zips, km, CaPubs, names ---------------------------------------------------------------


@pytest.fixture(scope="module")
def two_folders(
    ca: factory.Authority,
    holder: Holder,
    other_holder: Holder,
    seed_key: bytes,
    km: Km,
) -> bytes:
    """A zipped NPKI tree: CaPubs, the holder's folder with a km pair, the other holder's."""
    other_folder = factory.npki_folder("yessign", OTHER_SUBJECT)
    return factory.make_zip(
        {
            "NPKI/yessign/CaPubs": factory.cert_der(ca.cert),
            **holder_zip(holder, seed_key, km),
            f"{other_folder}/signCert.der": other_holder.cert_der,
            f"{other_folder}/signPri.key": factory.seed_cbc_sha1_key(other_holder.plain, PASSWORD),
        }
    )


def test_zip_with_two_npki_folders_gives_two_lines(
    tmp_path: Path, holder: Holder, other_holder: Holder, two_folders: bytes
) -> None:
    """A zip of an NPKI tree with two USER folders (one with a km pair) and CaPubs: one
    JSON line per signing certificate, each paired with its own key; km and CaPubs unseen."""
    names = write(tmp_path, {"NPKI.zip": two_folders})
    run = inspect(tmp_path, "--json", *names, password=PASSWORD)
    assert run.status == 0, run.err
    items = {item["holder"]: item for item in run.objects()}
    assert set(items) == {"홍길동", "김철수"}
    assert items["홍길동"]["subject"] == HOLDER_SUBJECT
    assert items["김철수"]["subject"] == OTHER_SUBJECT
    assert items["홍길동"]["fingerprint_sha256"] == hashlib.sha256(holder.cert_der).hexdigest()
    assert (
        items["김철수"]["fingerprint_sha256"] == hashlib.sha256(other_holder.cert_der).hexdigest()
    )
    for item in items.values():
        assert item["private_key"] == {
            **OPENED,
            "encryption": "seed-cbc-sha1",
            "iterations": 2048,
            "random_num": True,
        }


def test_zip_with_one_key_under_another_password_exits_2_but_reports_both(
    tmp_path: Path, holder: Holder, other_holder: Holder, seed_key: bytes
) -> None:
    """The password is tried on every key: one folder's key it does not open makes the exit
    status 2, and both certificates are still reported (one decrypted, one not)."""
    other_folder = factory.npki_folder("yessign", OTHER_SUBJECT)
    archive = factory.make_zip(
        {
            **holder_zip(holder, seed_key),
            f"{other_folder}/signCert.der": other_holder.cert_der,
            f"{other_folder}/signPri.key": factory.seed_cbc_sha1_key(
                other_holder.plain, WRONG_PASSWORD
            ),
        }
    )
    names = write(tmp_path, {"NPKI.zip": archive})
    run = inspect(tmp_path, "--json", *names, password=PASSWORD)
    assert_failure(run, 2, "wrong_password")
    items = {item["holder"]: item for item in run.certificates()}
    assert items["홍길동"]["private_key"]["decrypted"] is True
    assert items["김철수"]["private_key"]["decrypted"] is False


def test_loose_km_pair_and_capubs_are_never_reported(
    tmp_path: Path, ca: factory.Authority, holder: Holder, seed_key: bytes, km: Km
) -> None:
    """Loose signCert/signPri with kmCert.der, kmPri.key and CaPubs: one line, the signing
    certificate, its key opened and matching (the km key is not taken for it)."""
    names = write(
        tmp_path,
        {
            "kmCert.der": km.cert_der,
            "kmPri.key": km.key_file,
            "CaPubs": factory.cert_der(ca.cert),
            "signCert.der": holder.cert_der,
            "signPri.key": seed_key,
        },
    )
    run = inspect(tmp_path, "--json", *names, password=PASSWORD)
    assert run.status == 0, run.err
    [item] = run.objects()
    assert item["fingerprint_sha256"] == hashlib.sha256(holder.cert_der).hexdigest()
    assert item["private_key"]["matches_certificate"] is True


@pytest.mark.parametrize(
    "names_and_packing",
    [
        ("SignCert.der", "SIGNPRI.KEY", False),
        ("SIGNCERT.DER", "signpri.key", False),
        ("SignCert.der", "SIGNPRI.KEY", True),
        ("SIGNCERT.DER", "signpri.key", True),
    ],
    ids=["loose-1", "loose-2", "zip-1", "zip-2"],
)
def test_npki_names_in_any_case(
    tmp_path: Path,
    holder: Holder,
    seed_key: bytes,
    km: Km,
    names_and_packing: tuple[str, str, bool],
) -> None:
    """signCert.der / signPri.key (and kmCert/kmPri) are recognised in any case, loose or in
    a zip: the pair is found and opened, the km pair is not reported."""
    cert_name, key_name, packed = names_and_packing
    files = {
        cert_name: holder.cert_der,
        key_name: seed_key,
        "KMCERT.DER": km.cert_der,
        "KmPri.Key": km.key_file,
    }
    if packed:
        folder = "npki/YESSIGN/user/" + HOLDER_SUBJECT
        files = {"Cert.ZIP": factory.make_zip({f"{folder}/{n}": d for n, d in files.items()})}
    names = write(tmp_path, files)
    run = inspect(tmp_path, "--json", *names, password=PASSWORD)
    assert run.status == 0, run.err
    [item] = run.objects()
    assert item["fingerprint_sha256"] == hashlib.sha256(holder.cert_der).hexdigest()
    assert item["private_key"]["decrypted"] is True
    assert item["private_key"]["matches_certificate"] is True


def test_same_certificate_twice_is_reported_once_with_its_key(
    tmp_path: Path, holder: Holder, seed_key: bytes
) -> None:
    """One JSON object per signing certificate: the same certificate loose and in a zip (with
    its key) gives one line, the one with the key."""
    archive = factory.make_zip(holder_zip(holder, seed_key))
    names = write(tmp_path, {"copy/signCert.der": holder.cert_der, "NPKI.zip": archive})
    run = inspect(tmp_path, "--json", *names, password=PASSWORD)
    assert run.status == 0, run.err
    [item] = run.objects()
    assert item["private_key"]["present"] is True


# --- the human summary ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "d_day"),
    [
        ("2026-06-01T00:00:00+09:00", "D-30"),
        ("2026-05-31T15:00:00+00:00", "D-30"),
        ("2026-05-31T23:59:59+09:00", "D-31"),
        ("2026-06-30T23:59:59+09:00", "D-1"),
    ],
)
def test_summary_shows_holder_ca_usage_expiry_and_d_day(
    tmp_path: Path, holder: Holder, seed_key: bytes, now: str, d_day: str
) -> None:
    """Without --json: holder, CA and usage, the expiry day in Asia/Seoul
    (2026-07-01T14:59:59Z is 2026-07-01 KST) and D-day counted on Seoul days."""
    names = write(tmp_path, {"signCert.der": holder.cert_der, "signPri.key": seed_key})
    run = inspect(tmp_path, "--now", now, *names, password=PASSWORD)
    assert run.status == 0, run.err
    assert run.err == ""
    assert not run.out.lstrip().startswith("{")
    for text in ("홍길동", "KFTC (yessign)", "Banking/card/insurance, personal", "2026-07-01"):
        assert text in run.out, text
    assert re.search(rf"(?<![\w-]){re.escape(d_day)}(?!\d)", run.out), run.out
    assert "2026-07-02" not in run.out


@pytest.mark.parametrize("korean", [True, False], ids=["ko_KR", "C"])
def test_summary_speaks_the_terminals_language(
    tmp_path: Path, holder: Holder, seed_key: bytes, korean: bool
) -> None:
    """The summary is in one language, the terminal's: Korean labels and date under ko_*,
    English otherwise, where the only Korean left is the holder's own name."""
    names = write(tmp_path, {"signCert.der": holder.cert_der, "signPri.key": seed_key})
    env = environment(LANG="ko_KR.UTF-8" if korean else "C.UTF-8")
    run = inspect(
        tmp_path, "--now", "2026-06-01T00:00:00+09:00", *names, password=PASSWORD, env=env
    )
    assert run.status == 0, run.err
    lines = run.out.splitlines()
    assert lines[0] == "홍길동  (signCert.der)"
    if korean:
        assert lines[1:5] == [
            "  발급기관 : 금융결제원(yessign)",
            "  용도     : 은행/신용카드/보험용 개인",
            "  만료     : 2026-07-01 (2026년 7월 1일, KST) D-30",
            "  개인키   : 열림, 인증서와 짝이 맞음 (seed-cbc-sha1, 2048회 반복; randomNum 있음)",
        ]
    else:
        assert lines[1:5] == [
            "  Issuer  : KFTC (yessign)",
            "  Usage   : Banking/card/insurance, personal",
            "  Expires : 2026-07-01 (July 1, 2026, KST) D-30",
            "  Key     : opened, matches the certificate (seed-cbc-sha1, 2048 rounds; "
            "randomNum present)",
        ]
        assert set(HANGUL.findall(run.out)) <= set("홍길동")


def test_summary_one_block_per_certificate(
    tmp_path: Path, holder: Holder, other_holder: Holder
) -> None:
    """Without --json, two certificates give two summaries (both holders named)."""
    names = write(
        tmp_path, {"a/signCert.der": holder.cert_der, "b/signCert.der": other_holder.cert_der}
    )
    run = inspect(tmp_path, "--now", "2026-06-01T00:00:00+09:00", *names)
    assert run.status == 0, run.err
    assert "홍길동" in run.out
    assert "김철수" in run.out
    assert run.out.count("D-30") == 2


# --- configuration ----------------------------------------------------------------------


@pytest.mark.parametrize("where", ["before", "after-subcommand", "at-end"])
def test_config_option_before_or_after_subcommand(
    tmp_path: Path, holder: Holder, seed_key: bytes, where: str
) -> None:
    """--config PATH is accepted before or after `inspect`; its [limits] kdf_iterations_max
    = 1000 makes a 2048-round key refused (exit 3, unsafe_input)."""
    (tmp_path / "limits.toml").write_text("[limits]\nkdf_iterations_max = 1000\n")
    names = write(tmp_path, {"signCert.der": holder.cert_der, "signPri.key": seed_key})
    config = ["--config", "limits.toml"]
    args = {
        "before": [*config, "inspect", "--json", *names],
        "after-subcommand": ["inspect", *config, "--json", *names],
        "at-end": ["inspect", "--json", *names, *config],
    }[where]
    run = certmate(tmp_path, *args, stdin=PASSWORD + b"\n")
    assert_failure(run, 3, "unsafe_input")
    # The same files and password without the setting open fine.
    assert inspect(tmp_path, "--json", *names, password=PASSWORD).status == 0


def test_default_config_toml_in_current_folder_is_used(
    tmp_path: Path, holder: Holder, seed_key: bytes
) -> None:
    """Without --config, ./config.toml is read when present."""
    names = write(tmp_path, {"signCert.der": holder.cert_der, "signPri.key": seed_key})
    (tmp_path / "config.toml").write_text("[limits]\nkdf_iterations_max = 1000\n")
    assert_failure(inspect(tmp_path, "--json", *names, password=PASSWORD), 3, "unsafe_input")


def test_environment_variable_sets_a_limit(tmp_path: Path, holder: Holder, seed_key: bytes) -> None:
    """CERTMATE_LIMITS__KDF_ITERATIONS_MAX=1000 refuses a 2048-round key (exit 3, unsafe)."""
    names = write(tmp_path, {"signCert.der": holder.cert_der, "signPri.key": seed_key})
    env = environment(CERTMATE_LIMITS__KDF_ITERATIONS_MAX="1000")
    run = inspect(tmp_path, "--json", *names, password=PASSWORD, env=env)
    assert_failure(run, 3, "unsafe_input")


def test_environment_variable_wins_over_config_file(
    tmp_path: Path, holder: Holder, seed_key: bytes
) -> None:
    """An environment override beats the file: file says 1000, CERTMATE_… says 4096, the
    2048-round key opens."""
    (tmp_path / "limits.toml").write_text("[limits]\nkdf_iterations_max = 1000\n")
    names = write(tmp_path, {"signCert.der": holder.cert_der, "signPri.key": seed_key})
    env = environment(CERTMATE_LIMITS__KDF_ITERATIONS_MAX="4096")
    run = inspect(tmp_path, "--config", "limits.toml", "--json", *names, password=PASSWORD, env=env)
    assert run.status == 0, run.err
    assert run.objects()[0]["private_key"]["decrypted"] is True


def test_upload_limit_from_config_applies(tmp_path: Path, holder: Holder) -> None:
    """[limits] upload_bytes smaller than the certificate makes it refused (exit 3, unsafe)."""
    (tmp_path / "config.toml").write_text("[limits]\nupload_bytes = 100\n")
    names = write(tmp_path, {"signCert.der": holder.cert_der})
    assert_failure(inspect(tmp_path, "--json", *names), 3, "unsafe_input")


@pytest.mark.parametrize("json_flag", [["--json"], []], ids=["json", "text"])
def test_unknown_config_key_is_a_usage_error_naming_it(
    tmp_path: Path, holder: Holder, json_flag: list[str]
) -> None:
    """A typo in the config file is exit 1 (usage) and the message names the key."""
    (tmp_path / "typo.toml").write_text("[limits]\nkdf_iteration_max = 1000\n")
    names = write(tmp_path, {"signCert.der": holder.cert_der})
    run = certmate(tmp_path, "--config", "typo.toml", "inspect", *json_flag, *names)
    assert run.status == 1
    assert "kdf_iteration_max" in run.err
    if json_flag:
        assert "kdf_iteration_max" in assert_failure(run, 1, "usage")["message"]
    else:
        assert run.out == ""


def test_bad_environment_value_is_a_usage_error_naming_the_variable(
    tmp_path: Path, holder: Holder
) -> None:
    """CERTMATE_LIMITS__UPLOAD_BYTES=lots: exit 1 (usage), the message names the variable."""
    names = write(tmp_path, {"signCert.der": holder.cert_der})
    env = environment(CERTMATE_LIMITS__UPLOAD_BYTES="lots")
    run = inspect(tmp_path, "--json", *names, env=env)
    error = assert_failure(run, 1, "usage")
    assert "CERTMATE_LIMITS__UPLOAD_BYTES" in error["message"]


def test_missing_config_file_is_a_usage_error(tmp_path: Path, holder: Holder) -> None:
    """--config naming a file that does not exist: exit 1 (usage), naming the file."""
    names = write(tmp_path, {"signCert.der": holder.cert_der})
    run = certmate(tmp_path, "inspect", "--config", "absent.toml", "--json", *names)
    assert "absent.toml" in assert_failure(run, 1, "usage")["message"]


# --- start-up weight ---------------------------------------------------------------------

LIGHT_SCRIPT = textwrap.dedent(
    """
    import json, sys

    HEAVY = set(sys.argv[1].split(","))
    attempted = []

    class Spy:
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name.partition(".")[0] in HEAVY:
                attempted.append(name)
            return None

    sys.meta_path.insert(0, Spy)
    from bot.cli import main

    status = main(sys.argv[2:])
    print(json.dumps({"status": status, "modules": sorted(sys.modules), "attempted": attempted}))
    """
)


def test_inspect_imports_neither_chat_nor_database_stack(
    tmp_path: Path, holder: Holder, seed_key: bytes
) -> None:
    """`inspect` starts light: a full run (pair opened) imports none of telegram, aiohttp,
    sqlalchemy, sqlmodel, apscheduler, asyncpg, aiosqlite, alembic, and does not even try
    to (an import finder records attempts, so this holds whether or not they are installed)."""
    names = write(tmp_path, {"signCert.der": holder.cert_der, "signPri.key": seed_key})
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            LIGHT_SCRIPT,
            ",".join(HEAVY_MODULES),
            "inspect",
            "--json",
            "--password-stdin",
            *names,
        ],
        cwd=tmp_path,
        input=PASSWORD + b"\n",
        capture_output=True,
        env=environment(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode().splitlines()
    report = json.loads(lines[-1])
    assert report["status"] == 0
    assert json.loads(lines[0])["private_key"]["decrypted"] is True
    assert "npki" in report["modules"]
    assert "bot.inspect_cmd" in report["modules"]
    loaded = {name.partition(".")[0] for name in report["modules"]}
    assert loaded.isdisjoint(HEAVY_MODULES), sorted(loaded & set(HEAVY_MODULES))
    assert report["attempted"] == []
