"""A world per test: real SQLite, real vault, a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests import factory
from tests.conftest import Holder

PASSWORD = factory.PASSWORD.decode()


@pytest.fixture(scope="session")
def other_seed_key(other_holder: Holder) -> bytes:
    """김철수's signPri.key, same scheme and password as 홍길동's."""
    return factory.seed_cbc_sha1_key(other_holder.plain, factory.PASSWORD)


@pytest.fixture
def other_pair_files(
    tmp_path: Path, other_holder: Holder, other_seed_key: bytes
) -> tuple[Path, Path]:
    """김철수's signCert.der and signPri.key, in a folder of their own."""
    folder = tmp_path / "npki-other"
    folder.mkdir()
    cert, key = folder / "signCert.der", folder / "signPri.key"
    cert.write_bytes(other_holder.cert_der)
    key.write_bytes(other_seed_key)
    return cert, key


RENEWED_NOT_AFTER = datetime(2027, 7, 1, 14, 59, 59, tzinfo=UTC)  # 2027-07-01 in Seoul


@pytest.fixture(scope="session")
def renewed_cert(ca: factory.Authority, holder: Holder) -> bytes:
    """홍길동's certificate renewed: same subject and CA, a new serial, a year later."""
    cert = factory.make_cert(
        ca,
        holder.key,
        serial=0x1A2B3D,
        not_before=datetime(2026, 6, 10, 15, 0, tzinfo=UTC),
        not_after=RENEWED_NOT_AFTER,
    )
    return factory.cert_der(cert)


@pytest.fixture
def renewed_files(tmp_path: Path, renewed_cert: bytes, seed_key: bytes) -> tuple[Path, Path]:
    """The renewed signCert.der with its signPri.key (same key pair, as the factory makes it)."""
    folder = tmp_path / "npki-renewed"
    folder.mkdir()
    cert, key = folder / "signCert.der", folder / "signPri.key"
    cert.write_bytes(renewed_cert)
    key.write_bytes(seed_key)
    return cert, key
