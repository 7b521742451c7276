"""Housekeeping forgets old handled updates, expired buttons and secure links and old
shown notices, and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import select

from bot.housekeeping import NOTICE_MEMORY, UPDATE_MEMORY, tidy
from storage import attempts, buttons, links, notices, updates, users
from storage.database import Database
from storage.models import (
    ButtonToken,
    Channel,
    ConversationState,
    KeyAttempt,
    Notice,
    ProcessedUpdate,
    SecureLink,
)
from storage.vault import Vault
from tests.conftest import Holder
from tests.handlers.harness import World, texts

NOW = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)
OLD = NOW - UPDATE_MEMORY - timedelta(hours=1)


async def test_tidy_keeps_pending_updates_and_valid_buttons(
    database: Database, vault: Vault
) -> None:
    async with database.write() as session:
        handled = [  # handled long ago: forgotten, in batches of 2
            await updates.record(session, vault, Channel.TELEGRAM, f"old{n}", b"{}", now=OLD)
            for n in range(5)
        ]
        recent = NOW - timedelta(days=1)
        handled.append(
            await updates.record(session, vault, Channel.TELEGRAM, "recent", b"{}", now=recent)
        )
        await updates.record(session, vault, Channel.TELEGRAM, "pending", b"{}", now=OLD)
        await updates.mark_handled(session, [row for row in handled if row is not None], NOW)
        action = buttons.Action("help", {})
        for number in range(3):
            await buttons.issue(session, Channel.TELEGRAM, f"u{number}", action, NOW)
        kept = await buttons.issue(session, Channel.TELEGRAM, "u", action, NOW + timedelta(days=1))
        owner = await users.get_or_create(session, Channel.CONSOLE, "c", OLD)
        await links.issue(session, vault, owner.id or 0, links.Purpose.REGISTER, OLD)
        live_link = await links.issue(session, vault, owner.id or 0, links.Purpose.REGISTER, NOW)
        for message_id in ("shown-long-ago", "shown-lately", "not-shown"):
            await notices.add(
                session, owner.id or 0, message_id=message_id, text="D-30",
                choices=[], certificates=[], now=OLD,
            )  # fmt: skip
    async with database.write() as session:
        for notice in await notices.take(session, owner.id or 0, NOW - NOTICE_MEMORY * 2):
            if notice.message_id == "shown-lately":
                notice.shown_at = NOW - timedelta(days=1)
            elif notice.message_id == "not-shown":
                notice.shown_at = None
    tidied = await tidy(database, NOW, batch=2)
    assert (tidied.updates, tidied.buttons, tidied.notices, tidied.links) == (5, 3, 1, 1)
    async with database.read() as session:
        left = sorted((await session.scalars(select(ProcessedUpdate.update_id))).all())
        tokens = (await session.scalars(select(ButtonToken.token))).all()
    assert left == ["pending", "recent"]  # an unhandled update is never forgotten
    assert tokens == [kept]
    async with database.read() as session:
        kept_notices = sorted((await session.scalars(select(Notice.message_id))).all())
    assert kept_notices == ["not-shown", "shown-lately"]
    async with database.read() as session:
        kept_links = (await session.scalars(select(SecureLink.token_hash))).all()
    assert kept_links == [links.token_hash(live_link.token)]


async def test_dead_updates_are_kept_a_while_then_forgotten(
    database: Database, vault: Vault
) -> None:
    """A dead update (given up after failing as a bug) is kept sealed for the operator for
    `UPDATE_MEMORY`, then deleted; a pending one is never forgotten."""
    async with database.write() as session:
        for name, when in (("old-dead", OLD), ("new-dead", NOW - timedelta(days=1))):
            row_id = await updates.record(session, vault, Channel.TELEGRAM, name, b"{}", now=when)
            assert row_id is not None
            for _ in range(updates.MAX_ATTEMPTS):
                await updates.failed(session, row_id=row_id, error="ValueError at x.py:1", now=when)
        await updates.record(session, vault, Channel.TELEGRAM, "pending", b"{}", now=OLD)
    tidied = await tidy(database, NOW)
    assert tidied.updates == 1
    async with database.read() as session:
        left = sorted((await session.scalars(select(ProcessedUpdate.update_id))).all())
        kept = (
            await session.scalars(
                select(ProcessedUpdate).where(ProcessedUpdate.update_id == "new-dead")
            )
        ).one()
    assert left == ["new-dead", "pending"]
    assert kept.dead_at is not None
    assert kept.sealed is not None


async def test_password_counts_are_forgotten_once_they_count_nothing(database: Database) -> None:
    """A wrong-password count whose window is over and whose lock has lifted is forgotten
    (one was left behind for every key a user mistyped, for good); a count still in its
    window, and a lock that still holds, are kept."""
    long_ago = NOW - attempts.FORGET_AFTER - timedelta(minutes=1)
    async with database.write() as session:
        owner = await users.get_or_create(session, Channel.TELEGRAM, "mistyper", OLD)
        owner_id = owner.id or 0
        for number in range(30):  # many keys, one wrong password each, long ago
            await attempts.record_failure(session, owner_id, [f"key:old{number}"], long_ago)
        for _ in range(attempts.KEY_POLICY.tries):  # locked at `long_ago`, lifted since
            await attempts.record_failure(session, owner_id, ["key:lifted"], long_ago)
        recent = NOW - timedelta(minutes=5)
        await attempts.record_failure(session, owner_id, ["key:recent"], recent)
        for _ in range(attempts.KEY_POLICY.tries):  # locked five minutes ago: still locked
            await attempts.record_failure(session, owner_id, ["key:locked"], recent)
        held = await session.scalar(select(KeyAttempt).where(KeyAttempt.subject == "key:locked"))
        assert held is not None
        held.window_started_at = long_ago  # its window began long ago; its lock holds
    tidied = await tidy(database, NOW, batch=7)
    assert tidied.attempts == 31
    async with database.read() as session:
        left = {row.subject: row for row in await session.scalars(select(KeyAttempt))}
    assert sorted(left) == ["key:locked", "key:recent", attempts.OWNER]  # the owner: locked
    assert (left["key:locked"].locked_until or OLD) > NOW


async def test_files_an_abandoned_flow_held_are_dropped_and_the_user_is_still_told(
    world: World, tmp_path: Path, holder: Holder
) -> None:
    """A certificate sent alone is held (sealed) while its key is awaited; the user goes
    away. Housekeeping leaves it while the flow may still go on, drops it once the flow
    expired, and the user's next message still hears that the flow was forgotten."""
    cert = tmp_path / "signCert.der"
    cert.write_bytes(holder.cert_der)
    chat = world.chat()
    await chat.upload(cert)
    assert (await tidy(world.database, world.clock.now)).held == 0
    world.clock.advance(minutes=world.settings.idle_minutes + 1)
    assert (await tidy(world.database, world.clock.now)).held == 1
    async with world.database.read() as session:
        state = (await session.scalars(select(ConversationState))).one()
    assert (state.flow, state.sealed, state.sealed_key_id) == ("add", None, None)
    assert "하던 일을 정리했어요" in texts(await chat.say("안녕하세요"))
