"""`certmate remind` and `certmate run`, as a user runs them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storage import migrate
from storage.database import Database
from storage.models import Channel
from tests.bot.reminders.conftest import seed
from tests.conftest import Holder, free_port
from tests.fakes.kakao_events import API_KEY, BOT_ID, FakeKakaoEventApi

ROOT = Path(__file__).resolve().parents[2]
KAKAO_USERS = 5


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMATE_")}
    env["CERTMATE_HTTP__PORT"] = str(free_port())  # `run` starts the HTTP server
    return env


def _certmate(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=_env(),
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture
def registered(tmp_path: Path, holder: Holder) -> Path:
    """A console user who registered the holder's certificate (reminders only) in May."""
    (tmp_path / "signCert.der").write_bytes(holder.cert_der)
    script = tmp_path / "register.txt"
    script.write_text("/upload signCert.der\n/press 알림용으로만 등록\n")
    run = _certmate(tmp_path, "chat", "--script", str(script), "--now", "2026-05-20T10:00+09:00")
    assert run.returncode == 0, run.stderr
    return tmp_path


def _remind(folder: Path, now: str, *extra: str) -> list[dict[str, object]]:
    run = _certmate(folder, "remind", "--now", now, "--json", *extra)
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines()]


def test_remind_json_contract(registered: Path, holder: Holder) -> None:
    """One object per reminder with user, channel, certificate fingerprint, threshold, kind,
    message id and text; a second run at the same --now sends nothing."""
    import hashlib  # noqa: PLC0415

    (reminder,) = _remind(registered, "2026-06-01T09:05:00+09:00")
    assert set(reminder) == {
        "user", "channel", "certificate", "threshold_days", "kind", "message", "text",
    }  # fmt: skip
    assert reminder["user"] == "console"
    assert reminder["channel"] == "console"
    assert reminder["certificate"] == hashlib.sha256(holder.cert_der).hexdigest()
    assert (reminder["threshold_days"], reminder["kind"]) == (30, "expiry")
    assert "D-30" in str(reminder["text"])
    assert _remind(registered, "2026-06-01T09:05:00+09:00") == []


def test_dry_run_shows_without_sending(registered: Path) -> None:
    """--dry-run lists what would go out; the real run afterwards sends exactly that."""
    would = _remind(registered, "2026-06-01T09:05:00+09:00", "--dry-run")
    assert [r["threshold_days"] for r in would] == [30]
    sent = _remind(registered, "2026-06-01T09:05:00+09:00")
    assert [r["threshold_days"] for r in sent] == [30]


def test_console_reminders_show_at_the_next_chat(registered: Path) -> None:
    """The console user sees the reminder, with its buttons, at their next message."""
    _remind(registered, "2026-06-01T09:05:00+09:00")
    script = registered / "next.txt"
    script.write_text("/help\n")
    run = _certmate(registered, "chat", "--script", str(script), "--now", "2026-06-01T10:00+09:00")
    entries = [json.loads(line) for line in run.stdout.splitlines()]
    reminder = entries[1]
    assert reminder["type"] == "text"
    assert reminder["text"].startswith("인증서 만료 알림")
    assert "1일 뒤에 다시 알림" in reminder["buttons"]


def test_a_now_without_offset_is_read_in_the_configured_time_zone(registered: Path) -> None:
    """`--now 2026-06-01T08:55` is 08:55 in `[reminders] timezone` (Seoul): still quiet
    hours, nothing is sent (read as UTC it would be 17:55 in Seoul, and would send);
    09:05 sends the D-30 reminder, exactly as `2026-06-01T09:05+09:00` would."""
    assert _remind(registered, "2026-06-01T08:55") == []
    (reminder,) = _remind(registered, "2026-06-01T09:05")
    assert (reminder["threshold_days"], reminder["kind"]) == (30, "expiry")
    bad = _certmate(registered, "remind", "--now", "next tuesday")
    assert bad.returncode == 1
    assert bad.stderr == "certmate remind: --now 'next tuesday' is not an ISO 8601 time\n"


def test_a_sweep_that_sends_nothing_says_so_in_one_line(registered: Path) -> None:
    """Nothing due: one line saying no reminder was sent at that moment, on the clock of
    `[reminders] timezone` (on stdout; with --json on stderr, so stdout stays one JSON
    object per reminder)."""
    plain = _certmate(registered, "remind", "--now", "2026-05-25T10:00+09:00")
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout == "certmate remind: no reminder sent at 2026-05-25T10:00+09:00\n"
    dry = _certmate(registered, "remind", "--now", "2026-05-25T10:00", "--dry-run")
    assert dry.stdout == "certmate remind: no reminder would be sent at 2026-05-25T10:00+09:00\n"
    quiet = _certmate(registered, "remind", "--now", "2026-05-25T01:00Z", "--json")
    assert quiet.stdout == ""
    assert quiet.stderr == "certmate remind: no reminder sent at 2026-05-25T10:00+09:00\n"


def test_run_sweeps_at_start_and_stops_gracefully_on_sigterm(registered: Path) -> None:
    """`certmate run` applies migrations, runs a sweep at once, and exits 0 on SIGTERM."""
    with subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=registered,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        deadline = time.monotonic() + 30
        assert process.stderr is not None
        seen = ""
        while "reminder sweep:" not in seen and time.monotonic() < deadline:
            seen += process.stderr.readline()
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert process.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
    assert "reminder sweep:" in seen


async def test_remind_sends_kakao_reminders_through_the_paced_event_api(tmp_path: Path) -> None:
    """With the Event API configured, `certmate remind` sends Kakao users' reminders to
    it, as `run` does (not as notices), one request per user at `event_per_second`."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'certmate.db'}"
    database = Database.connect(url)
    try:
        await migrate.upgrade(database)
        await seed(database, KAKAO_USERS, channel=Channel.KAKAO)
    finally:
        await database.close()
    async with FakeKakaoEventApi() as events:
        env = _env() | {
            "CERTMATE_DATABASE__URL": url,
            "CERTMATE_KAKAO__ENABLED": "true",
            "CERTMATE_KAKAO__SECRET": "sixteen-chars-or-more",
            "CERTMATE_KAKAO__BOT_IDS": BOT_ID,
            "CERTMATE_KAKAO__EVENT_API_KEY": API_KEY,
            "CERTMATE_KAKAO__EVENT_API_URL": events.url,
            "CERTMATE_KAKAO__EVENT_PER_SECOND": "4",
        }
        run = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot", "remind", "--json", "--now", "2026-06-01T09:05+09:00"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    assert run.returncode == 0, run.stderr
    sent = [json.loads(line) for line in run.stdout.splitlines()]
    assert {(r["channel"], r["threshold_days"]) for r in sent} == {("kakao", 30)}
    assert sorted(r["message"] for r in sent) == sorted(
        q["answer"]["taskId"] for q in events.requests
    )
    assert sorted(q["json"]["user"][0]["id"] for q in events.requests) == sorted(
        f"u{n}" for n in range(1, KAKAO_USERS + 1)
    )
    arrivals = [request["at"] for request in events.requests]
    assert arrivals[-1] - arrivals[0] >= (KAKAO_USERS - 1) / 4 - 0.05
