"""Short forms of the benchmarks, so they keep running (full runs: `make bench`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str, timeout: int) -> dict[str, Any]:
    """Run `bench/<script> <args> --json`; what it printed."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args, "--json"],
        capture_output=True,
        check=True,
        text=True,
        timeout=timeout,
    )
    figures: dict[str, Any] = json.loads(result.stdout)
    return figures


def test_open_cert_benchmark_runs_and_beats_pypinksign() -> None:
    """bench/open_cert.py runs both readers and prints a ratio; ours is clearly faster."""
    figures = _run("open_cert.py", "--rounds", "5", timeout=120)
    assert set(figures) == {"rounds", "certmate_ms", "pypinksign_ms", "ratio"}
    assert figures["ratio"] > 5, figures  # the full run shows ~18x; a short noisy run less


def test_storage_benchmark_uses_the_due_index() -> None:
    """bench/storage.py (short form): the sweep's query is served by ix_certificates_due."""
    figures = _run("storage.py", "--certificates", "4000", "--users", "2000", "--due", "40",
                   "--runs", "3", timeout=300)  # fmt: skip
    assert set(figures) == {"sqlite", "postgresql"}
    for engine, measured in figures.items():
        if "skipped" in measured:
            continue
        assert measured["uses_index"], (engine, measured["plan"])
        assert measured["objects"]["indexed_ms"] < 50, (engine, measured)


def test_telegram_updates_benchmark_runs_ours_and_the_echo_bot() -> None:
    """bench/telegram_updates.py (short form): both bots answer every update; ours keeps a
    sane share of the bare echo bot's throughput (the goal, on the full run, is half)."""
    figures = _run("telegram_updates.py", "--updates", "200", "--users", "10", timeout=120)
    assert set(figures) == {"updates", "users", "certmate_per_s", "echo_per_s", "ratio"}
    assert (figures["updates"], figures["users"]) == (200, 10)
    assert figures["certmate_per_s"] > 0, figures
    assert figures["echo_per_s"] > 0, figures
    assert figures["ratio"] == pytest.approx(
        figures["certmate_per_s"] / figures["echo_per_s"], rel=0.01
    )
    # The short form measured 0.44 before the multi-process inbox and 0.18 after it
    # (README, "Since then, slower"); the hot-path work should win it back. A floor
    # against further gross regressions with room for a noisy machine, not the goal.
    assert figures["ratio"] > 0.1, figures


def test_reminder_dispatch_benchmark_keeps_the_rate_without_429() -> None:
    """bench/reminder_dispatch.py (short form): the sweep sends every reminder at the
    configured 30/s without a single 429, where the unpaced bot is refused."""
    figures = _run("reminder_dispatch.py", "--reminders", "90", timeout=120)
    ours, unpaced = figures["certmate"], figures["unpaced"]
    assert figures["reminders"] == 90
    assert figures["configured_per_s"] == 30
    assert ours["sent"] == 90, ours
    assert ours["responses_429"] == 0, ours
    assert ours["per_s"] == pytest.approx(30, rel=0.15), ours
    assert unpaced["responses_429"] > 0, unpaced
    assert unpaced["sent"] < 90, unpaced
    assert unpaced["sent"] + unpaced["refused"] == 90, unpaced


def test_kakao_skill_benchmark_runs_certmate_and_the_bare_endpoint() -> None:
    """bench/kakao_skill.py (short form): `certmate run` answers every skill request of
    the menu/flow/list mix, the bare endpoint too, and the ratio is reported. The goal
    (half the bare rate, p99 under 50 ms) is not met yet: see the README's figures."""
    figures = _run("kakao_skill.py", "--requests", "640", "--clients", "64", timeout=180)
    assert figures["requests"] == 640
    assert figures["certmate_per_s"] > 0, figures
    assert figures["bare_per_s"] > figures["certmate_per_s"], figures
    assert figures["ratio"] == pytest.approx(  # printed to 3 decimals
        figures["certmate_per_s"] / figures["bare_per_s"], abs=0.0006
    )
    assert figures["certmate_p99_ms"] < 5_000, figures  # Kakao gives a skill 5 seconds


def test_cluster_scaling_benchmark_runs_one_and_two_processes_behind_haproxy() -> None:
    """bench/cluster_scaling.py (short form): the skill load through a real HAProxy to
    one, then two `certmate run` on PostgreSQL; every request answered, the ratio
    reported (the goal, 1.6 on two cores, is for the full run on a quiet machine)."""
    figures = _run("cluster_scaling.py", "--requests", "320", timeout=240)
    assert figures["requests"] == 320
    assert figures["one_per_s"] > 0, figures
    assert figures["two_per_s"] > 0, figures
    assert figures["ratio"] == pytest.approx(
        figures["two_per_s"] / figures["one_per_s"], abs=0.0006
    )
    for run in ("one_cpu_ms", "two_cpu_ms"):  # where the cores went, per request
        assert figures[run]["certmate"] > 0, figures
        assert figures[run]["load"] > 0, figures


def test_storage_growth_benchmark_shows_returning_requests_add_nothing() -> None:
    """bench/storage_growth.py (short form): every user ends holding the cap of buttons; a
    returning user's KakaoTalk request adds no row (and on SQLite no page) once there, a
    Telegram update one row, the inbox's memory of it; a week later only the user is left."""
    figures = _run("storage_growth.py", "--users", "5", "--rounds", "2",
                   "--buttons-per-user", "24", timeout=300)  # fmt: skip
    assert figures["buttons_per_user"] == 24
    for engine in ("sqlite", "postgresql"):
        assert "skipped" not in figures[engine], figures[engine]  # PostgreSQL runs here
        for channel, rows_per_request in (("kakao", 0), ("telegram", 1)):
            measured = figures[engine][channel]
            assert measured["at_cap"]["button_tokens"]["rows"] == 24, (engine, measured)
            per_request = measured["per_request"]["file"]["rows"]
            assert per_request == pytest.approx(rows_per_request, abs=0.05), (engine, measured)
            assert measured["week_later"]["file"]["rows"] == 1, (engine, measured)
    # Without the cap a request would add ~7 tokens (~1.5 KB); one page split over the 50
    # requests measured is 82 B a request.
    assert figures["sqlite"]["kakao"]["per_request"]["file"]["bytes"] < 400, figures["sqlite"]
