"""Housekeeping forgets old handled updates and expired buttons, and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from bot.housekeeping import UPDATE_MEMORY, tidy
from storage import buttons, updates
from storage.database import Database
from storage.models import ButtonToken, Channel, ProcessedUpdate
from storage.vault import Vault

NOW = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)
OLD = NOW - UPDATE_MEMORY - timedelta(hours=1)


async def test_tidy_keeps_pending_updates_and_valid_buttons(
    database: Database, vault: Vault
) -> None:
    async with database.write() as session:
        for number in range(5):  # handled long ago: forgotten, in batches of 2
            await updates.record(session, Channel.TELEGRAM, f"old{number}", OLD)
        await updates.record(session, Channel.TELEGRAM, "recent", NOW - timedelta(days=1))
        await updates.record(
            session, Channel.TELEGRAM, "pending", OLD, vault=vault, body=b'{"text":"x"}'
        )
        action = buttons.Action("help", {})
        for number in range(3):
            await buttons.issue(session, Channel.TELEGRAM, f"u{number}", action, NOW)
        kept = await buttons.issue(session, Channel.TELEGRAM, "u", action, NOW + timedelta(days=1))
    tidied = await tidy(database, NOW, batch=2)
    assert (tidied.updates, tidied.buttons) == (5, 3)
    async with database.read() as session:
        left = sorted((await session.scalars(select(ProcessedUpdate.update_id))).all())
        tokens = (await session.scalars(select(ButtonToken.token))).all()
    assert left == ["pending", "recent"]  # an unhandled update is never forgotten
    assert tokens == [kept]
