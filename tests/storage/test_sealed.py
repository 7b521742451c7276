"""The list of sealed columns is complete, and `key_ids_in_use` sees a sealed row in each."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from storage import accounts, certificates, conversations, links, updates, users
from storage.database import Database
from storage.keyring import new_keyring
from storage.links import Purpose
from storage.models import AccountKind, Certificate, CertificateSecret, Channel
from storage.sealed import SEALED, key_ids_in_use
from storage.vault import Vault
from tests.storage.conftest import NOW


def test_every_binary_column_is_a_listed_sealed_column() -> None:
    """A table that gains a sealed column must be listed, or the start-up key check and
    the rotation would not see its rows."""
    listed = {(column.model.__tablename__, column.blob) for column in SEALED}
    binary = {
        (table.name, column.name)
        for table in SQLModel.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, sa.LargeBinary)
    }
    assert binary == listed


async def _certificate(session: AsyncSession, vault: Vault, owner: int) -> None:
    certificate = await _bare_certificate(session, owner)
    sealed = vault.seal(b"files", certificates.binding(certificate, owner))
    session.add(
        CertificateSecret(
            certificate_id=certificate,
            owner_id=owner,
            key_id=sealed.key_id,
            sealed=sealed.blob,
            created_at=NOW,
        )
    )


async def _account(session: AsyncSession, vault: Vault, owner: int) -> None:
    certificate = await _bare_certificate(session, owner)
    await accounts.link(
        session, vault, owner, certificate, institution_code="088", kind=AccountKind.BANK,
        nickname=None, number="110-000-000001", now=NOW,
    )  # fmt: skip


async def _conversation(session: AsyncSession, vault: Vault, _owner: int) -> None:
    await conversations.save(
        session, vault, Channel.TELEGRAM, "u", flow="add", step="partner", data={},
        secret=b"waiting file", expected_version=None, expires_at=None, now=NOW,
    )  # fmt: skip


async def _update(session: AsyncSession, vault: Vault, _owner: int) -> None:
    await updates.record(session, vault, Channel.TELEGRAM, "17", b"{}", now=NOW)


async def _link(session: AsyncSession, vault: Vault, owner: int) -> None:
    await links.issue(session, vault, owner, Purpose.REGISTER, NOW)


async def _bare_certificate(session: AsyncSession, owner: int) -> int:
    certificate = Certificate(
        owner_id=owner, fingerprint="ab" * 32, subject="cn=x", holder="x", ca="yessign",
        usage="bank", holder_type="personal", serial="1", not_before=NOW, not_after=NOW,
        has_private_key=True, reminders_enabled=True, created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    session.add(certificate)
    await session.flush()
    assert certificate.id is not None
    return certificate.id


WRITERS: dict[str, Callable[[AsyncSession, Vault, int], Awaitable[None]]] = {
    "certificate_secrets": _certificate,
    "linked_accounts": _account,
    "conversation_states": _conversation,
    "processed_updates": _update,
    "secure_links": _link,
}


def test_every_sealed_table_has_a_writer_here() -> None:
    assert set(WRITERS) == {column.model.__tablename__ for column in SEALED}


@pytest.mark.parametrize("table", sorted(WRITERS))
async def test_a_single_sealed_row_in_any_table_is_seen(database: Database, table: str) -> None:
    """One sealed row, in whichever table, names its master key: the start-up check
    then refuses to make up a key, and asks for the one it needs."""
    assert await key_ids_in_use(database) == {}
    vault = Vault(new_keyring())
    async with database.write() as session:
        user = await users.get_or_create(session, Channel.TELEGRAM, "owner", NOW)
        assert user.id is not None
        await WRITERS[table](session, vault, user.id)
    assert await key_ids_in_use(database) == {vault.current_key_id: 1}
