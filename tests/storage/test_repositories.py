"""The repositories' contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

import npki
from storage import accounts, audit, certificates, conversations, reminders, updates, users
from storage.database import Database
from storage.errors import AlreadyRegistered, NotFound, StaleState
from storage.models import (
    AccountKind,
    AccountState,
    AuditAction,
    CertificateStatus,
    Channel,
    ProcessedUpdate,
    ReminderKind,
    ReminderStatus,
)
from storage.vault import Vault
from tests import factory
from tests.conftest import Holder
from tests.storage.conftest import NOW

FILES = {"signCert.der": b"cert-bytes", "signPri.key": b"key-bytes"}


async def _user(db: Database, key: str = "alice") -> int:
    async with db.write() as session:
        user = await users.get_or_create(session, Channel.TELEGRAM, key, NOW)
        assert user.id is not None
        return user.id


async def _certificate(
    db: Database, vault: Vault, owner: int, holder: Holder, files: dict[str, bytes] = FILES
) -> int:
    facts = npki.read_certificate(holder.cert_der)
    async with db.write() as session:
        row = await certificates.add(
            session, vault, owner, facts, files, key_encryption="seed-cbc-sha1", now=NOW
        )
        assert row.id is not None
        return row.id


async def test_users_are_one_per_channel_identity(database: Database) -> None:
    """The same key on two channels is two users; the same identity twice is one."""
    first = await _user(database)
    assert await _user(database) == first
    async with database.write() as session:
        kakao = await users.get_or_create(session, Channel.KAKAO, "alice", NOW)
    assert kakao.id != first


async def test_writing_again_makes_an_unreachable_user_reachable(database: Database) -> None:
    """A user who blocked the bot is reachable again once they write."""
    user_id = await _user(database)
    async with database.write() as session:
        await users.set_reachable(session, user_id, False, NOW)
    async with database.write() as session:
        user = await users.get_or_create(session, Channel.TELEGRAM, "alice", NOW)
        assert user.reachable


async def test_certificate_round_trip_with_sealed_files(
    database: Database, vault: Vault, holder: Holder
) -> None:
    """A registered certificate keeps its facts; its files come back only through the vault."""
    owner = await _user(database)
    cert_id = await _certificate(database, vault, owner, holder)
    async with database.read() as session:
        row = await certificates.get(session, owner, cert_id)
        assert row.holder == "홍길동"
        assert row.not_after == holder.cert.not_valid_after_utc
        assert row.not_after.tzinfo is not None
        assert row.has_private_key
        assert await certificates.open_files(session, vault, owner, cert_id) == FILES
        assert [c.id for c in await certificates.list_active(session, owner)] == [cert_id]


async def test_same_certificate_twice_is_already_registered(
    database: Database, vault: Vault, holder: Holder
) -> None:
    """Registering a fingerprint the owner has is refused; another owner may have it."""
    owner = await _user(database)
    await _certificate(database, vault, owner, holder)
    with pytest.raises(AlreadyRegistered):
        await _certificate(database, vault, owner, holder)
    other = await _user(database, "bob")
    await _certificate(database, vault, other, holder)


async def test_foreign_ids_are_not_found(database: Database, vault: Vault, holder: Holder) -> None:
    """Every lookup by id is filtered by owner: someone else's id is simply not found."""
    alice = await _user(database)
    bob = await _user(database, "bob")
    cert_id = await _certificate(database, vault, alice, holder)
    async with database.write() as session:
        account = await accounts.link(
            session, vault, alice, cert_id, institution_code="088", kind=AccountKind.BANK,
            nickname=None, number="110-123-456789", now=NOW,
        )  # fmt: skip
    async with database.write() as session:
        with pytest.raises(NotFound):
            await certificates.get(session, bob, cert_id)
        with pytest.raises(NotFound):
            await certificates.open_files(session, vault, bob, cert_id)
        with pytest.raises(NotFound):
            await certificates.delete(session, bob, cert_id)
        with pytest.raises(NotFound):
            await accounts.reveal_number(session, vault, bob, account.id or 0)
        with pytest.raises(NotFound):
            await accounts.link(
                session, vault, bob, cert_id, institution_code="088", kind=AccountKind.BANK,
                nickname=None, number=None, now=NOW,
            )  # fmt: skip
    async with database.read() as session:
        assert await certificates.list_active(session, bob) == []
        assert await certificates.open_files(session, vault, alice, cert_id) == FILES


async def test_account_numbers_are_checked_sealed_and_masked(
    database: Database, vault: Vault, holder: Holder
) -> None:
    """An account number is validated, stored sealed, and shown masked."""
    owner = await _user(database)
    cert_id = await _certificate(database, vault, owner, holder)
    async with database.write() as session:
        account = await accounts.link(
            session, vault, owner, cert_id, institution_code="088", kind=AccountKind.BANK,
            nickname="월급통장", number=" 110-123-456789 ", now=NOW,
        )  # fmt: skip
        assert account.number_masked == "110-***-***789"
        assert account.number_sealed is not None
        assert b"456789" not in account.number_sealed
    async with database.read() as session:
        assert await accounts.reveal_number(session, vault, owner, account.id or 0) == (
            "110-123-456789"
        )
    for bad in ["12-34", "abc-123456", "110--123456", "1" * 21, "-1234567"]:
        async with database.write() as session:
            with pytest.raises(accounts.InvalidAccountNumber):
                await accounts.link(
                    session, vault, owner, cert_id, institution_code="088",
                    kind=AccountKind.BANK, nickname=None, number=bad, now=NOW,
                )  # fmt: skip


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("110-123-456789", "110-***-***789"),
        ("1002-345-678901", "1002-***-***901"),
        ("12345678901234", "123********234"),
        ("123456", "123456"),
        ("3333-01-1234567", "3333-**-****567"),
    ],
)
def test_masking(number: str, masked: str) -> None:
    """The first group and the last three digits show; everything between is hidden."""
    assert accounts.mask(number) == masked


async def test_renewal_moves_accounts_shreds_files_and_cancels_reminders(
    database: Database, vault: Vault, holder: Holder, ca: factory.Authority
) -> None:
    """replace(): old retired, its files shredded and reminders cancelled, accounts moved."""
    owner = await _user(database)
    old_id = await _certificate(database, vault, owner, holder)
    renewed = factory.make_cert(ca, holder.key, serial=0x2B3C4D)
    new_id = await _certificate(
        database, vault, owner,
        Holder(holder.key, renewed, factory.cert_der(renewed), holder.random_num, holder.plain),
    )  # fmt: skip
    async with database.write() as session:
        for code in ("088", "004"):
            await accounts.link(
                session, vault, owner, old_id, institution_code=code, kind=AccountKind.BANK,
                nickname=None, number=None, now=NOW,
            )  # fmt: skip
        await reminders.plan(
            session, certificate_id=old_id, owner_id=owner, kind=ReminderKind.EXPIRY,
            threshold_days=30, due_at=NOW, now=NOW,
        )  # fmt: skip
    async with database.write() as session:
        moved = await certificates.replace(session, owner, old_id, new_id, NOW)
    assert [(a.institution_code, a.state) for a in moved] == [
        ("088", AccountState.NEEDS_REGISTRATION),
        ("004", AccountState.NEEDS_REGISTRATION),
    ]
    async with database.read() as session:
        old = await certificates.get(session, owner, old_id)
        assert (old.status, old.replaced_by_id) == (CertificateStatus.REPLACED, new_id)
        assert [c.id for c in await certificates.list_active(session, owner)] == [new_id]
        with pytest.raises(NotFound):
            await certificates.open_files(session, vault, owner, old_id)
        assert await reminders.count_by_status(session) == {ReminderStatus.CANCELLED: 1}


async def test_deleting_a_certificate_takes_its_accounts_and_reminders(
    database: Database, vault: Vault, holder: Holder
) -> None:
    """Delete cascades: files, accounts and reminders go with the certificate."""
    owner = await _user(database)
    cert_id = await _certificate(database, vault, owner, holder)
    async with database.write() as session:
        await accounts.link(
            session, vault, owner, cert_id, institution_code="088", kind=AccountKind.BANK,
            nickname=None, number="110-123-456789", now=NOW,
        )  # fmt: skip
        await reminders.plan(
            session, certificate_id=cert_id, owner_id=owner, kind=ReminderKind.EXPIRY,
            threshold_days=30, due_at=NOW, now=NOW,
        )  # fmt: skip
    async with database.write() as session:
        await certificates.delete(session, owner, cert_id)
    async with database.read() as session:
        with pytest.raises(NotFound):
            await certificates.get(session, owner, cert_id)
        assert await accounts.list_for_certificate(session, owner, cert_id) == []
        assert await reminders.count_by_status(session) == {}


async def test_deleting_a_user_deletes_everything_of_theirs(
    database: Database, vault: Vault, holder: Holder
) -> None:
    """Certificates, secrets, accounts, reminders, audit and conversation state all go."""
    owner = await _user(database)
    keep = await _user(database, "bob")
    cert_id = await _certificate(database, vault, owner, holder)
    kept_cert = await _certificate(database, vault, keep, holder)
    async with database.write() as session:
        await accounts.link(
            session, vault, owner, cert_id, institution_code="088", kind=AccountKind.BANK,
            nickname=None, number="110-123-456789", now=NOW,
        )  # fmt: skip
        await audit.record(session, owner, AuditAction.UPLOAD, NOW, detail="fingerprint")
        await conversations.save(
            session, vault, Channel.TELEGRAM, "alice", flow="add", step="password",
            data={}, secret=b"pending file", expected_version=None, expires_at=None, now=NOW,
        )  # fmt: skip
    async with database.write() as session:
        await users.delete(session, owner)
    async with database.read() as session:
        assert await users.find(session, Channel.TELEGRAM, "alice") is None
        with pytest.raises(NotFound):
            await certificates.get(session, owner, cert_id)
        assert await audit.list_for_owner(session, owner) == []
        assert await conversations.load(session, vault, Channel.TELEGRAM, "alice") is None
        assert await certificates.open_files(session, vault, keep, kept_cert) == FILES


async def test_a_step_waiting_for_a_password_says_so_as_a_typed_field(
    database: Database, vault: Vault
) -> None:
    """`awaiting_secret` comes back as saved, never mixed into the flow's data; a row
    written by an earlier version (the flag inside the data) reads the same."""
    async with database.write() as session:
        await conversations.save(
            session, vault, Channel.CONSOLE, "u", flow="export", step="current",
            data={"id": 1}, secret=None, expected_version=None, expires_at=None, now=NOW,
            awaiting_secret=True,
        )  # fmt: skip
        await conversations.save(
            session, vault, Channel.CONSOLE, "old", flow="export", step="current",
            data={"id": 1, "_secret_next": True}, secret=None, expected_version=None,
            expires_at=None, now=NOW,
        )  # fmt: skip
    async with database.read() as session:
        for user in ("u", "old"):
            saved = await conversations.load(session, vault, Channel.CONSOLE, user)
            assert saved is not None
            assert (saved.data, saved.awaiting_secret) == ({"id": 1}, True), user


async def test_conversation_state_is_optimistic_and_seals_secrets(
    database: Database, vault: Vault
) -> None:
    """Saves name the version they read; a stale save fails; a waiting file is sealed."""
    args: dict[str, Any] = {"flow": "add", "step": "partner", "data": {"have": ["signCert.der"]}}
    async with database.write() as session:
        version = await conversations.save(
            session, vault, Channel.CONSOLE, "u", **args, secret=b"first file",
            expected_version=None, expires_at=NOW + timedelta(minutes=15), now=NOW,
        )  # fmt: skip
    async with database.read() as session:
        saved = await conversations.load(session, vault, Channel.CONSOLE, "u")
    assert saved is not None
    assert (saved.step, saved.data, saved.secret, saved.version) == (
        "partner", {"have": ["signCert.der"]}, b"first file", version,
    )  # fmt: skip
    async with database.write() as session:
        await conversations.save(
            session, vault, Channel.CONSOLE, "u", **args, secret=None,
            expected_version=version, expires_at=None, now=NOW,
        )  # fmt: skip
    for stale in (version, None):
        async with database.write() as session:
            with pytest.raises(StaleState):
                await conversations.save(
                    session, vault, Channel.CONSOLE, "u", **args, secret=None,
                    expected_version=stale, expires_at=None, now=NOW,
                )  # fmt: skip
    async with database.write() as session:
        await conversations.clear(session, Channel.CONSOLE, "u")
    async with database.read() as session:
        assert await conversations.load(session, vault, Channel.CONSOLE, "u") is None


async def test_the_update_inbox_keeps_bodies_sealed_until_handled(
    database: Database, vault: Vault
) -> None:
    """A recorded body is sealed (bound to its update), listed as pending in order until
    handled, then dropped; pruning leaves pending updates alone."""
    typed, other = b'{"text":"p@ssw0rd typed"}', b'{"text":"/help"}'
    async with database.write() as session:
        first = await updates.record(session, vault, Channel.TELEGRAM, "7", typed, now=NOW)
        assert await updates.record(session, vault, Channel.TELEGRAM, "8", other, now=NOW)
        again = await updates.record(session, vault, Channel.TELEGRAM, "7", typed, now=NOW)
    assert again is None
    assert first is not None
    async with database.read() as session:
        found = (await updates.pending_in(session, vault, Channel.TELEGRAM, [""]))[""]
        rows = (await session.scalars(select(ProcessedUpdate))).all()
    assert [(p.update_id, p.body) for p in found] == [("7", typed), ("8", other)]
    assert all(row.sealed for row in rows)
    assert not any(b"p@ssw0rd" in (row.sealed or b"") for row in rows)
    async with database.write() as session:
        await updates.mark_handled(session, [first], NOW)
        assert await updates.prune(session, NOW + timedelta(seconds=1)) == 1
    async with database.read() as session:
        found = (await updates.pending_in(session, vault, Channel.TELEGRAM, [""]))[""]
    assert [p.update_id for p in found] == ["8"]


async def test_processed_updates_drop_duplicates(database: Database, vault: Vault) -> None:
    """An update id is recorded once per channel; old handled ones are pruned."""
    async with database.write() as session:
        first = await updates.record(session, vault, Channel.TELEGRAM, "1001", b"{}", now=NOW)
        assert first is not None
        assert (
            await updates.record(session, vault, Channel.TELEGRAM, "1001", b"{}", now=NOW) is None
        )
        second = await updates.record(session, vault, Channel.KAKAO, "1001", b"{}", now=NOW)
        assert second is not None
        await updates.mark_handled(session, [first, second], NOW)
    async with database.write() as session:
        assert await updates.prune(session, NOW + timedelta(seconds=1)) == 2


async def test_a_failed_write_rolls_back(database: Database) -> None:
    """An exception inside a write transaction leaves nothing behind and frees the writer."""

    async def fail_midway() -> None:
        async with database.write() as session:
            await users.get_or_create(session, Channel.TELEGRAM, "ghost", NOW)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        await fail_midway()
    async with database.read() as session:
        assert await users.find(session, Channel.TELEGRAM, "ghost") is None
    assert await _user(database, "next") > 0


async def _reminder_setup(db: Database, vault: Vault, holder: Holder, count: int) -> int:
    owner = await _user(db)
    cert_id = await _certificate(db, vault, owner, holder)
    async with db.write() as session:
        for threshold in range(count):
            assert await reminders.plan(
                session, certificate_id=cert_id, owner_id=owner, kind=ReminderKind.EXPIRY,
                threshold_days=threshold, due_at=NOW - timedelta(minutes=threshold), now=NOW,
            )  # fmt: skip
    return cert_id


async def test_planning_is_idempotent(database: Database, vault: Vault, holder: Holder) -> None:
    """A (certificate, threshold) is planned once; planning it again changes nothing."""
    cert_id = await _reminder_setup(database, vault, holder, 1)
    async with database.write() as session:
        again = await reminders.plan(
            session, certificate_id=cert_id, owner_id=1, kind=ReminderKind.EXPIRY,
            threshold_days=0, due_at=NOW, now=NOW,
        )  # fmt: skip
    assert not again


async def test_claim_lease_send_and_reclaim(
    database: Database, vault: Vault, holder: Holder
) -> None:
    """Claimed rows are leased; a lost lease is claimable again; sent rows are done."""
    await _reminder_setup(database, vault, holder, 3)
    lease = timedelta(minutes=5)
    async with database.write() as session:
        claimed = (
            await reminders.claim_due(
                session, now=NOW, lease_owner="a", lease=lease, limit=2, channels=[Channel.TELEGRAM]
            )
        ).rows
    assert [r.threshold_days for r in claimed] == [2, 1]  # most overdue first
    async with database.write() as session:
        assert await reminders.mark_sent(session, claimed[0].id or 0, "a", NOW, "m1")
        assert not await reminders.mark_sent(session, claimed[1].id or 0, "intruder", NOW, "m2")
    async with database.write() as session:
        nothing_new = (
            await reminders.claim_due(
                session,
                now=NOW,
                lease_owner="b",
                lease=lease,
                limit=10,
                channels=[Channel.TELEGRAM],
            )
        ).rows
    assert [r.threshold_days for r in nothing_new] == [0]
    later = NOW + lease + timedelta(seconds=1)
    async with database.write() as session:
        retaken = (
            await reminders.claim_due(
                session,
                now=later,
                lease_owner="b",
                lease=lease,
                limit=10,
                channels=[Channel.TELEGRAM],
            )
        ).rows
    assert sorted(r.threshold_days for r in retaken) == [0, 1]
    assert all(r.attempts == 2 for r in retaken)
    async with database.write() as session:
        await reminders.mark_failed(
            session, retaken[0].id or 0, "b", error="boom", retry_at=later, max_attempts=2
        )
        await reminders.mark_failed(
            session, retaken[1].id or 0, "b", error="boom", retry_at=later, max_attempts=5
        )
    async with database.read() as session:
        assert await reminders.count_by_status(session) == {
            ReminderStatus.SENT: 1,
            ReminderStatus.FAILED: 1,
            ReminderStatus.PENDING: 1,
        }


async def test_concurrent_claims_never_share_a_row(
    database: Database, vault: Vault, holder: Holder
) -> None:
    """Several sweepers claiming at once take disjoint rows, and together take all."""
    await _reminder_setup(database, vault, holder, 60)

    async def sweeper(name: str) -> list[int]:
        taken: list[int] = []
        while True:
            async with database.write() as session:
                batch = await reminders.claim_due(
                    session,
                    now=NOW,
                    lease_owner=name,
                    lease=timedelta(minutes=5),
                    limit=7,
                    channels=[Channel.TELEGRAM],
                )
            if not batch.rows:
                return taken
            taken.extend(r.id or 0 for r in batch.rows)

    results = await asyncio.gather(*(sweeper(f"s{i}") for i in range(4)))
    claimed = [row for result in results for row in result]
    assert len(claimed) == len(set(claimed)) == 60


async def test_claims_skip_unreachable_users_and_other_channels(
    database: Database, vault: Vault, holder: Holder
) -> None:
    """Reminders of a user who blocked the bot, or on a channel nobody delivers to, stay put."""
    await _reminder_setup(database, vault, holder, 2)

    async def claim(channels: list[Channel]) -> int:
        async with database.write() as session:
            rows = await reminders.claim_due(
                session, now=NOW, lease_owner="x", lease=timedelta(minutes=5), limit=10,
                channels=channels,
            )  # fmt: skip
            return len(rows.rows)

    assert await claim([Channel.KAKAO]) == 0
    async with database.write() as session:
        await users.set_reachable(session, 1, False, NOW)
    assert await claim([Channel.TELEGRAM]) == 0
    async with database.write() as session:
        await users.set_reachable(session, 1, True, NOW)
    assert await claim([Channel.TELEGRAM]) == 2


async def test_due_query_finds_only_active_due_certificates(
    database: Database, vault: Vault, holder: Holder, other_holder: Holder
) -> None:
    """The sweep sees active certificates whose next reminder is due, soonest first."""
    owner = await _user(database)
    first = await _certificate(database, vault, owner, holder)
    second = await _certificate(database, vault, owner, other_holder)
    async with database.write() as session:
        await certificates.set_next_reminder(session, owner, first, NOW - timedelta(hours=1))
        await certificates.set_next_reminder(session, owner, second, NOW + timedelta(hours=1))
    async with database.read() as session:
        assert [c.id for c in await certificates.due(session, NOW, 10)] == [first]
        assert [c.id for c in await certificates.due(session, NOW + timedelta(days=1), 10)] == [
            first,
            second,
        ]


async def test_a_claim_walk_with_its_cursor_takes_every_row_once(
    database: Database, vault: Vault, holder: Holder
) -> None:
    """Claiming one at a time with the returned cursor takes every due row, and a row
    whose lease expired does not move the cursor past pending rows still waiting."""
    await _reminder_setup(database, vault, holder, 5)
    lease = timedelta(minutes=5)
    async with database.write() as session:
        (first,) = (
            await reminders.claim_due(
                session,
                now=NOW,
                lease_owner="crashed",
                lease=lease,
                limit=1,
                channels=[Channel.TELEGRAM],
            )
        ).rows
    later = NOW + lease + timedelta(minutes=1)
    taken: list[int] = []
    cursor = None
    while True:
        async with database.write() as session:
            claim = await reminders.claim_due(
                session, now=later, lease_owner="w", lease=lease, limit=1,
                channels=[Channel.TELEGRAM], after=cursor,
            )  # fmt: skip
        if not claim.rows:
            break
        taken.extend(r.id or 0 for r in claim.rows)
        cursor = claim.cursor
    assert taken[0] == first.id  # the expired lease is taken over first
    assert sorted(taken) == sorted(set(taken))
    assert len(taken) == 5
