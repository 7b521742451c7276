"""Linked accounts: where a certificate is registered, with an optional sealed account number."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage import certificates
from storage.database import SHREDDED
from storage.errors import NotFound
from storage.models import AccountKind, AccountState, LinkedAccount
from storage.sql import flushed_id
from storage.vault import Binding, Sealed, Vault

_NUMBER: Final = re.compile(r"[0-9]+(-[0-9]+)*")
MIN_DIGITS: Final = 6
MAX_DIGITS: Final = 20
VISIBLE_TAIL: Final = 3


class InvalidAccountNumber(ValueError):
    """Not an account number: digits and single hyphens, 6 to 20 digits."""


def normalize_number(text: str) -> str:
    """The account number as typed, checked: digits and single hyphens, 6–20 digits."""
    number = text.strip().replace(" ", "")
    digits = number.replace("-", "")
    if not _NUMBER.fullmatch(number) or not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        raise InvalidAccountNumber(text)
    return number


def mask(number: str) -> str:
    """`110-123-456789` → `110-***-***789`; `1101234567` → `110****567`."""
    groups = number.split("-")
    if len(groups) == 1:
        digits = groups[0]
        hidden = len(digits) - 2 * VISIBLE_TAIL
        return digits[:VISIBLE_TAIL] + "*" * hidden + digits[-VISIBLE_TAIL:]
    first, *middle, last = groups
    masked_last = "*" * max(len(last) - VISIBLE_TAIL, 0) + last[-VISIBLE_TAIL:]
    return "-".join([first, *("*" * len(group) for group in middle), masked_last])


def binding(account_id: int | None, owner_id: int) -> Binding:
    """What an account number's sealed blob is bound to."""
    return Binding("account", str(flushed_id(account_id)), str(owner_id))


async def link(
    session: AsyncSession,
    vault: Vault,
    owner_id: int,
    certificate_id: int,
    *,
    institution_code: str,
    kind: AccountKind,
    nickname: str | None,
    number: str | None,
    now: datetime,
) -> LinkedAccount:
    """Link an institution to one of the owner's certificates; the number is sealed."""
    await certificates.get(session, owner_id, certificate_id)
    account = LinkedAccount(
        owner_id=owner_id,
        certificate_id=certificate_id,
        institution_code=institution_code,
        kind=kind,
        nickname=nickname,
        created_at=now,
        updated_at=now,
    )
    session.add(account)
    await session.flush()
    if number is not None:
        checked = normalize_number(number)
        sealed = vault.seal(checked.encode(), binding(account.id, owner_id))
        account.number_masked = mask(checked)
        account.number_key_id = sealed.key_id
        account.number_sealed = sealed.blob
        await session.flush()
    return account


async def count(session: AsyncSession, owner_id: int) -> int:
    """How many accounts `owner_id` has linked, to all their certificates."""
    linked = await session.scalar(
        select(sa.func.count()).where(col(LinkedAccount.owner_id) == owner_id)
    )
    return int(linked or 0)


async def get(session: AsyncSession, owner_id: int, account_id: int) -> LinkedAccount:
    account = await session.scalar(
        select(LinkedAccount).where(
            col(LinkedAccount.id) == account_id, col(LinkedAccount.owner_id) == owner_id
        )
    )
    if account is None:
        raise NotFound(f"account {account_id}")
    return account


async def list_for_certificate(
    session: AsyncSession, owner_id: int, certificate_id: int
) -> Sequence[LinkedAccount]:
    result = await session.scalars(
        select(LinkedAccount)
        .where(
            col(LinkedAccount.owner_id) == owner_id,
            col(LinkedAccount.certificate_id) == certificate_id,
        )
        .order_by(col(LinkedAccount.id))
    )
    return result.all()


async def reveal_number(
    session: AsyncSession, vault: Vault, owner_id: int, account_id: int
) -> str | None:
    """The full account number, unsealed (only for showing it to its owner)."""
    account = await get(session, owner_id, account_id)
    if account.number_sealed is None or account.number_key_id is None:
        return None
    sealed = Sealed(account.number_key_id, account.number_sealed)
    return vault.open(sealed, binding(account.id, owner_id)).decode()


async def set_state(
    session: AsyncSession, owner_id: int, account_id: int, state: AccountState, now: datetime
) -> None:
    """Tick an item of the re-registration checklist (or untick it)."""
    account = await get(session, owner_id, account_id)
    account.state = state
    account.updated_at = now


async def unlink(session: AsyncSession, owner_id: int, account_id: int) -> None:
    await get(session, owner_id, account_id)
    await session.execute(
        sa.delete(LinkedAccount).where(
            col(LinkedAccount.id) == account_id, col(LinkedAccount.owner_id) == owner_id
        )
    )
    session.info[SHREDDED] = True
