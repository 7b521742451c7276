"""`certmate chat --script` end to end: the real command in a subprocess, as people script it.

Every run happens in its own temporary folder (so no ./config.toml is picked up,
and the data directory is ./data) with every `CERTMATE_*` variable removed from
the environment. The contract is ARCHITECTURE.md, "`certmate chat --script`".
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import stat
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.channels.console import ConsoleUser, transcript_entries
from handlers.messages import Inbound, OpenLink, Outbound, SendDocument
from storage import migrate
from storage.keyring import new_keyring, write_atomically
from tests import factory
from tests.conftest import Holder

REPO = Path(__file__).resolve().parents[2]
PASSWORD = factory.PASSWORD.decode()
MASKED = {"type": "user", "text": "••••••"}
KEYS = {
    "text": {"type", "text", "buttons"},
    "delete": {"type", "message"},
    "document": {"type", "filename", "path"},
}
USER_KEYS = ({"type", "text"}, {"type", "upload"}, {"type", "press"})


@dataclass(frozen=True)
class Run:
    code: int
    entries: list[dict[str, Any]]
    stdout: str
    stderr: str


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMATE_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def chat(
    cwd: Path,
    lines: list[str],
    *options: str,
    name: str = "script.txt",
    env: dict[str, str] | None = None,
) -> Run:
    """Run `certmate chat --script` with `lines` in `cwd` (`env` added to a clean
    environment); the transcript parsed."""
    script = cwd / name
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--script", str(script), *options],
        cwd=cwd,
        env=_environment() | (env or {}),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    entries = [json.loads(line) for line in done.stdout.splitlines()]
    return Run(done.returncode, entries, done.stdout, done.stderr)


def _texts(entries: list[dict[str, Any]]) -> str:
    return "\n".join(e["text"] for e in entries if e["type"] == "text")


@pytest.fixture
def npki_files(tmp_path: Path, holder: Holder, seed_key: bytes) -> Path:
    """signCert.der and signPri.key in ./npki of the run's folder."""
    folder = tmp_path / "npki"
    folder.mkdir()
    (folder / "signCert.der").write_bytes(holder.cert_der)
    (folder / "signPri.key").write_bytes(seed_key)
    return folder


@pytest.mark.usefixtures("npki_files")
def test_a_session_transcript_follows_the_contract(
    tmp_path: Path, holder: Holder, seed_key: bytes
) -> None:
    """One JSON object per line: a user entry for each script line (text, upload or press)
    followed by the bot's entries (text with button labels, delete, document written into
    --out); the password line is masked and deleted; /press N and /press LABEL both work."""
    out = tmp_path / "exports"
    lines = [
        "/start",
        "/press 3",  # PC, by number
        "/upload npki/signCert.der npki/signPri.key",
        PASSWORD,
        "/export",
        "/press NPKI (zip)",  # by label
        "그냥 인사해요",
    ]
    run = chat(tmp_path, lines, "--user", "alice", "--out", str(out),
               "--now", "2026-06-21T10:00:00+09:00")  # fmt: skip
    assert run.code == 0, run.stderr
    assert run.stdout.endswith("\n")
    users = [e for e in run.entries if e["type"] == "user"]
    assert users == [
        {"type": "user", "text": "/start"},
        {"type": "user", "press": "PC"},
        {"type": "user", "upload": ["signCert.der", "signPri.key"]},
        MASKED,
        {"type": "user", "text": "/export"},
        {"type": "user", "press": "NPKI (zip)"},
        {"type": "user", "text": "그냥 인사해요"},
    ]
    for entry in run.entries:
        if entry["type"] == "user":
            assert set(entry) in USER_KEYS, entry
        else:
            assert set(entry) == KEYS[entry["type"]], entry
        if entry["type"] == "text":
            assert isinstance(entry["text"], str)
            assert all(isinstance(label, str) for label in entry["buttons"])
    password_at = run.entries.index(MASKED)
    assert run.entries[password_at + 1] == {"type": "delete", "message": "4"}
    assert PASSWORD not in run.stdout
    assert PASSWORD not in run.stderr

    starting = run.entries[: run.entries.index(users[1])]
    assert starting[-1]["buttons"] == ["안드로이드", "아이폰", "PC"]
    assert "PC로 설정했어요" in _texts(run.entries)
    assert "D-10" in _texts(run.entries)

    (document,) = [e for e in run.entries if e["type"] == "document"]
    assert document["filename"] == "홍길동-2026-07-01-NPKI.zip"
    path = Path(document["path"])
    assert path.parent.resolve() == out.resolve()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist())
        assert [n.rsplit("/", 1)[1] for n in names] == ["signCert.der", "signPri.key"]
        assert archive.read(names[0]) == holder.cert_der
        assert archive.read(names[1]) == seed_key
    assert run.entries[-1]["buttons"][0] == "인증서 등록"  # the fallback shows the menu


@pytest.mark.usefixtures("npki_files")
def test_state_and_users_persist_across_runs(tmp_path: Path) -> None:
    """Each run continues from the database: a flow left waiting in one run goes on in the
    next, and --user keeps console users apart."""
    first = chat(tmp_path, ["/upload npki/signCert.der npki/signPri.key"], "--user", "alice")
    assert "비밀번호" in _texts(first.entries)
    second = chat(tmp_path, [PASSWORD, "/certs"], "--user", "alice",
                  "--now", "2026-06-01T10:00:00+09:00")  # fmt: skip
    assert second.code == 0, second.stderr
    assert second.entries[0] == MASKED
    assert "등록했어요" in _texts(second.entries)
    assert "D-30" in _texts(second.entries)
    other = chat(tmp_path, ["/certs"], "--user", "bob")
    assert "등록된 인증서가 없어요" in _texts(other.entries)


@pytest.mark.usefixtures("npki_files")
def test_now_sets_the_clock_for_d_day_counts(tmp_path: Path) -> None:
    """--now runs the session at that moment: D-day counts and the renewal window follow."""
    register = ["/upload npki/signCert.der", "/press 알림용으로만 등록"]
    early = chat(tmp_path, [*register, "/certs"], "--now", "2026-05-01T09:00:00+09:00")
    assert early.code == 0, early.stderr
    assert "D-61" in _texts(early.entries)
    assert "갱신은 2026년 6월 1일부터 할 수 있어요" in _texts(early.entries)
    late = chat(tmp_path, ["/certs"], "--now", "2026-07-03T09:00:00+09:00")
    assert "D+2" in _texts(late.entries)
    assert "만료된 인증서예요" in _texts(late.entries)
    bad = chat(tmp_path, ["/certs"], "--now", "next tuesday")
    assert bad.code == 1
    assert "--now 'next tuesday' is not an ISO 8601 time" in bad.stderr


@pytest.mark.usefixtures("npki_files")
def test_a_now_without_offset_is_read_in_the_configured_time_zone(tmp_path: Path) -> None:
    """`--now 2026-05-31T23:30` is 23:30 in `[reminders] timezone` (Seoul), as `remind`
    reads it: still May 31, D-31 (read as UTC it would be June 1 in Seoul, D-30)."""
    lines = ["/upload npki/signCert.der", "/press 알림용으로만 등록", "/certs"]
    run = chat(tmp_path, lines, "--now", "2026-05-31T23:30")
    assert run.code == 0, run.stderr
    assert "D-31" in _texts(run.entries)
    assert "D-30" not in _texts(run.entries)


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        (["/start", "/press 4"], "line 2: there is no button 4 (1-3)"),
        (["/start", "/press 0"], "line 2: there is no button 0 (1-3)"),
        (["/start", "/press Galaxy"],
         "line 2: no button labelled 'Galaxy' (buttons: 안드로이드, 아이폰, PC)"),
        (["/press 1"], "line 1: there is no message with buttons to press"),
        (["/upload"], "line 1: /upload needs at least one file"),
        (["/start", "", "/upload missing.der"],
         "line 3: cannot read missing.der: No such file or directory"),
    ],
)  # fmt: skip
def test_a_line_that_cannot_be_played_fails_clearly(
    tmp_path: Path, lines: list[str], error: str
) -> None:
    """A button that does not exist (by number or label), a press with no buttons shown, or
    an unreadable upload stops the script with exit status 1 and one line naming the script
    line and the problem; what came before is in the transcript."""
    run = chat(tmp_path, lines)
    assert run.code == 1
    assert run.stderr == f"certmate chat: {error}\n"
    played = [e for e in run.entries if e["type"] == "user"]
    assert len(played) == sum(1 for line in lines if line.strip()) - 1


def test_a_fresh_data_directory_is_created_and_migrated(tmp_path: Path) -> None:
    """With nothing set up, chat creates ./data (0700) with the database migrated to the
    latest revision and a new master key file readable by its owner only (0600)."""
    run = chat(tmp_path, ["/help"])
    assert run.code == 0, run.stderr
    assert "이렇게 도와드릴 수 있어요" in _texts(run.entries)
    data = tmp_path / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "master.key").stat().st_mode) == 0o600
    with sqlite3.connect(data / "certmate.db") as connection:
        (version,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert version == migrate.head()
    assert {"users", "conversation_states", "button_tokens"} <= tables


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620], ids=oct)
def test_a_key_file_others_can_read_stops_chat(tmp_path: Path, mode: int) -> None:
    """A master key file readable or writable by group or others: chat refuses to start
    (exit 1, nothing played, the file untouched), naming the file and the chmod fix."""
    key_file = tmp_path / "data" / "master.key"
    write_atomically(key_file, new_keyring())
    before = key_file.read_bytes()
    key_file.chmod(mode)
    run = chat(tmp_path, ["/help"])
    assert run.code == 1
    assert run.entries == []
    assert f"master key file {Path('data') / 'master.key'}" in run.stderr
    assert f"chmod 600 {Path('data') / 'master.key'}" in run.stderr
    assert key_file.read_bytes() == before
    if mode == 0o644:  # the fix it names works
        key_file.chmod(0o600)
        assert chat(tmp_path, ["/help"]).code == 0


def test_a_bare_number_in_a_script_is_a_message(tmp_path: Path) -> None:
    """A script line "7" is the text 7 (here: custom reminder days), not button 7."""
    run = chat(tmp_path, ["/remind", "/press 직접 정하기", "7"])
    assert run.code == 0, run.stderr
    assert {"type": "user", "text": "7"} in run.entries
    assert "저장했어요" in _texts(run.entries)


@pytest.mark.usefixtures("npki_files")
def test_an_institution_code_in_a_script_is_a_message(tmp_path: Path) -> None:
    """A script can type an institution code (088) and a digits-only account number."""
    lines = ["/upload npki/signCert.der", "/press 알림용으로만 등록", "/link", "088", "1101234567"]
    run = chat(tmp_path, lines)
    assert run.code == 0, run.stderr
    assert {"type": "user", "text": "088"} in run.entries
    assert "신한은행 계좌번호를 입력해 주세요" in _texts(run.entries)
    assert "별명" in _texts(run.entries)


def test_link_and_document_entries(tmp_path: Path) -> None:
    """A link is {"type": "link", "url": …} (with its label); documents are written into the
    out folder, 0600, and a second file of the same name never overwrites the first."""

    async def handler(_inbound: Inbound) -> list[Outbound]:
        return []

    user = ConsoleUser(handler, "console", tmp_path / "out", upload_limit=1024)
    entries = transcript_entries(user, [
        OpenLink("https://certmate.example/upload/abc", "업로드"),
        SendDocument("cert.zip", b"one"),
        SendDocument("../../cert.zip", b"two"),
    ])  # fmt: skip
    link, first, second = entries
    assert link["type"] == "link"
    assert link["url"] == "https://certmate.example/upload/abc"
    assert set(link) <= {"type", "url", "label"}
    assert [first["filename"], second["filename"]] == ["cert.zip", "../../cert.zip"]
    paths = [Path(first["path"]), Path(second["path"])]
    assert [p.name for p in paths] == ["cert.zip", "cert-2.zip"]
    assert all(p.parent == tmp_path / "out" for p in paths)
    assert [p.read_bytes() for p in paths] == [b"one", b"two"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in paths)
    assert asyncio.run(user.send_line("hello"))[0] == {"type": "user", "text": "hello"}
