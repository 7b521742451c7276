"""Short forms of the benchmarks, so they keep running (full runs: `make bench`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_open_cert_benchmark_runs_and_beats_pypinksign() -> None:
    """bench/open_cert.py runs both readers and prints a ratio; ours is clearly faster."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "open_cert.py"), "--rounds", "5", "--json"],
        capture_output=True,
        check=True,
        text=True,
        timeout=120,
    )
    figures = json.loads(result.stdout)
    assert set(figures) == {"rounds", "certmate_ms", "pypinksign_ms", "ratio"}
    assert figures["ratio"] > 5, figures  # the full run shows ~18x; a short noisy run less


def test_storage_benchmark_uses_the_due_index() -> None:
    """bench/storage.py (short form): the sweep's query is served by ix_certificates_due."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "storage.py"), "--certificates", "4000",
         "--users", "2000", "--due", "40", "--runs", "3", "--json"],
        capture_output=True,
        check=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    figures = json.loads(result.stdout)
    assert set(figures) == {"sqlite", "postgresql"}
    for engine, measured in figures.items():
        if "skipped" in measured:
            continue
        assert measured["uses_index"], (engine, measured["plan"])
        assert measured["objects"]["indexed_ms"] < 50, (engine, measured)
