"""Session-wide test material: one throwaway CA, one holder, their key in every scheme.

Everything is generated at run time; no key material is committed.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, settings

from storage import migrate
from storage.database import Database
from storage.keyring import new_keyring
from storage.vault import Vault
from tests import factory
from tests.handlers.harness import START, Clock, World

# python-telegram-bot 22 warns on every duration it returns as a number (RetryAfter's
# retry_after among them) unless durations are timedeltas, as certmate builds it.
os.environ.setdefault("PTB_TIMEDELTA", "true")

settings.register_profile(
    "certmate",
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "certmate"))


@dataclass(frozen=True)
class Holder:
    """A certificate holder: key, certificate and the plaintext PKCS#8 with randomNum."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    cert_der: bytes
    random_num: bytes
    plain: bytes


@pytest.fixture(scope="session")
def ca() -> factory.Authority:
    return factory.make_ca("yessign")


@pytest.fixture(scope="session")
def holder(ca: factory.Authority) -> Holder:
    key = factory.rsa_key()
    cert = factory.make_cert(ca, key)
    random_num = bytes(range(1, 21))
    return Holder(
        key, cert, factory.cert_der(cert), random_num, factory.private_key_info(key, random_num)
    )


@pytest.fixture(scope="session")
def other_holder(ca: factory.Authority) -> Holder:
    key = factory.rsa_key()
    cert = factory.make_cert(ca, key, cn="김철수()0098765432109876", serial=0x77)
    random_num = bytes(range(21, 41))
    return Holder(
        key, cert, factory.cert_der(cert), random_num, factory.private_key_info(key, random_num)
    )


@pytest.fixture(scope="session")
def seed_key(holder: Holder) -> bytes:
    """signPri.key in the common scheme: seedCBCWithSHA1, 2048 iterations."""
    return factory.seed_cbc_sha1_key(holder.plain, factory.PASSWORD)


@pytest.fixture
def pair_files(tmp_path: Path, holder: Holder, seed_key: bytes) -> tuple[Path, Path]:
    """signCert.der and signPri.key on disk, in an NPKI-style folder."""
    folder = tmp_path / "npki"
    folder.mkdir()
    cert, key = folder / "signCert.der", folder / "signPri.key"
    cert.write_bytes(holder.cert_der)
    key.write_bytes(seed_key)
    return cert, key


# --- databases: every storage-backed test runs on SQLite and on PostgreSQL --------

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)


def _admin_dsn(url: sa.URL) -> str:
    """The asyncpg DSN of `url` (asyncpg does not take SQLAlchemy's +driver part)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _reachable(url: sa.URL) -> str | None:
    try:
        connection = await asyncpg.connect(_admin_dsn(url), timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as err:
        return f"{type(err).__name__}: {err}"
    await connection.close()
    return None


@pytest.fixture(scope="session")
def postgres_admin_url() -> sa.URL:
    """The PostgreSQL server to create test databases on (skipped or failed if unreachable)."""
    url = sa.make_url(os.environ.get("CERTMATE_TEST_DATABASE_URL", DEFAULT_POSTGRES))
    # Asked for from inside async fixtures too: probe on a thread with its own loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        problem = pool.submit(asyncio.run, _reachable(url)).result()
    if problem is not None:
        message = f"PostgreSQL at {url.render_as_string()} is not reachable ({problem})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


class PostgresDatabases:
    """Creates throwaway databases on the test server."""

    def __init__(self, admin_url: sa.URL) -> None:
        self.admin_url = admin_url

    async def create(self) -> sa.URL:
        name = f"certmate_test_{secrets.token_hex(6)}"
        connection = await asyncpg.connect(_admin_dsn(self.admin_url))
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        return self.admin_url.set(database=name)

    async def drop(self, url: sa.URL) -> None:
        connection = await asyncpg.connect(_admin_dsn(self.admin_url))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        finally:
            await connection.close()


@pytest.fixture
def postgres_databases(postgres_admin_url: sa.URL) -> PostgresDatabases:
    return PostgresDatabases(postgres_admin_url)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database's URL, on each engine in turn."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'data' / 'certmate.db'}"
        return
    databases = PostgresDatabases(request.getfixturevalue("postgres_admin_url"))
    url = await databases.create()
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        await databases.drop(url)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A migrated database on each engine."""
    db = Database.connect(database_url)
    await migrate.upgrade(db)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
def vault() -> Vault:
    return Vault(new_keyring())


def free_port() -> int:
    """A TCP port nobody listens on right now, for a server a test starts on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """One deployment on a real SQLite file, its clock at START (D-30 of the test holder)."""
    world = World(tmp_path, Clock(START))
    await world.start()
    try:
        yield world
    finally:
        await world.close()
