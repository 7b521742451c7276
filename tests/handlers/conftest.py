"""A world per test: real SQLite, real vault, a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from handlers.dates import SEOUL
from tests import factory
from tests.conftest import Holder
from tests.handlers.harness import Clock, World

START = datetime(2026, 6, 1, 10, 0, tzinfo=SEOUL)  # D-30 for a 2026-07-01 expiry


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    world = World(tmp_path, Clock(START))
    await world.start()
    try:
        yield world
    finally:
        await world.close()


@pytest.fixture
def pair_files(tmp_path: Path, holder: Holder, seed_key: bytes) -> tuple[Path, Path]:
    """signCert.der and signPri.key on disk, in an NPKI-style folder."""
    folder = tmp_path / "npki"
    folder.mkdir()
    cert, key = folder / "signCert.der", folder / "signPri.key"
    cert.write_bytes(holder.cert_der)
    key.write_bytes(seed_key)
    return cert, key


PASSWORD = factory.PASSWORD.decode()
