"""Renewal (/renew, 인증서 갱신): rules, steps per phone, the renewed certificate, the checklist."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from handlers.messages import Choice, Document, Inbound, Outbound, Reply, SendDocument
from storage import accounts, audit, reminders
from storage.models import (
    AccountState,
    AuditAction,
    Certificate,
    CertificateSecret,
    CertificateStatus,
    Channel,
    Reminder,
    ReminderKind,
    ReminderStatus,
)
from tests import factory
from tests.handlers.harness import (
    Chat,
    World,
    buttons,
    link_account,
    register,
    register_reminders_only,
    texts,
)

STEPS = {
    "안드로이드": "안드로이드에서 갱신하기",
    "아이폰": "아이폰에서 갱신하기",
    "PC": "PC에서 갱신하기",
    None: "갱신하는 방법",
}


async def _certificates(world: World, user: str = "console") -> list[Certificate]:
    """Every certificate row of the user, active or replaced, oldest first."""
    owner = await world.user_id(user)
    async with world.database.read() as session:
        rows = await session.scalars(
            select(Certificate).where(col(Certificate.owner_id) == owner).order_by("id")
        )
        return list(rows.all())


async def _with_two_links(chat: Chat, world: World, pair_files: tuple[Path, Path]) -> Certificate:
    """홍길동's certificate registered, linked at 신한은행 (월급) and KB국민은행, with a
    reminder pending in the outbox."""
    await register(chat, *pair_files)
    await link_account(chat, "신한은행", number="110-123-456789", nickname="월급")
    await link_account(chat, "국민")
    (old,) = await _certificates(world)
    assert old.id is not None
    async with world.database.write() as session:
        await reminders.plan(
            session, certificate_id=old.id, owner_id=old.owner_id, kind=ReminderKind.EXPIRY,
            threshold_days=14, due_at=old.not_after - timedelta(days=14), now=world.clock(),
        )  # fmt: skip
    return old


async def _assert_renewed(world: World, old: Certificate) -> Certificate:
    """The old certificate is retired (files shredded, reminders cancelled) and its accounts
    moved to the new one, marked as needing re-registration."""
    old_row, new = await _certificates(world)
    assert old_row.id == old.id
    assert new.id is not None
    assert old_row.status is CertificateStatus.REPLACED
    assert old_row.replaced_by_id == new.id
    assert new.status is CertificateStatus.ACTIVE
    assert new.not_after.year == 2027
    async with world.database.read() as session:
        assert await session.get(CertificateSecret, old.id) is None
        assert await session.get(CertificateSecret, new.id) is not None
        statuses = (await session.scalars(
            select(Reminder.status).where(col(Reminder.certificate_id) == old.id)
        )).all()  # fmt: skip
        assert statuses == [ReminderStatus.CANCELLED]
        assert old.id is not None
        assert await accounts.list_for_certificate(session, old.owner_id, old.id) == []
        moved = await accounts.list_for_certificate(session, new.owner_id, new.id)
        events = [e.action for e in await audit.list_for_owner(session, new.owner_id)]
    assert [(a.institution_code, a.state) for a in moved] == [
        ("088", AccountState.NEEDS_REGISTRATION),
        ("004", AccountState.NEEDS_REGISTRATION),
    ]
    assert moved[0].number_masked == "110-***-***789"
    assert events[-2:] == [AuditAction.UPLOAD, AuditAction.RENEW]
    return new


async def test_renewed_certificate_through_add_replaces_the_old_one(
    world: World, pair_files: tuple[Path, Path], renewed_files: tuple[Path, Path]
) -> None:
    """The same subject and CA with a later expiry, sent through /add, is recognised as the
    renewal: the old one is retired, its accounts move over and the checklist lists them."""
    chat = world.chat()
    old = await _with_two_links(chat, world, pair_files)
    await chat.say("/add")
    reply = await register(chat, *renewed_files)
    said = texts(reply)
    for part in ("인증서를 등록했어요", "2027-07-01", "갱신된 인증서로 바꿨어요",
                 "다시 등록해야 해요", "☐ 신한은행 (월급)\n☐ KB국민은행"):  # fmt: skip
        assert part in said, part
    checklist = next(e for e in reply if e["type"] == "text" and "☐" in e["text"])
    assert checklist["buttons"] == ["✓ 신한은행 (월급)", "✓ KB국민은행"]
    new = await _assert_renewed(world, old)

    listing = await chat.say("/certs")
    assert buttons(listing) == ["홍길동 · 2027-07-01"]  # only the active one is listed
    assert "2026-07-01" not in texts(listing)
    details = texts(await chat.press("홍길동 · 2027-07-01"))
    assert "2026-07-01 만료 인증서를 갱신한 인증서예요" in details
    assert "• 신한은행 월급 110-***-***789 ⚠" in details
    assert "• KB국민은행 ⚠" in details
    assert new.holder == "홍길동"


async def test_renewed_certificate_through_renew_upload(
    world: World, pair_files: tuple[Path, Path], renewed_files: tuple[Path, Path]
) -> None:
    """/renew explains the rules and the steps, then '갱신한 인증서 등록' takes the renewed
    files exactly as /add does, with the same result."""
    chat = world.chat()
    old = await _with_two_links(chat, world, pair_files)
    reply = await chat.say("/renew")
    said = texts(reply)
    for part in ("홍길동 · 금융결제원(yessign)", "D-30", "지금 갱신할 수 있어요", "갱신 규칙",
                 "만료 30일 전부터 만료일까지만", "본인 확인", STEPS[None]):  # fmt: skip
        assert part in said, part
    assert buttons(reply) == ["갱신한 인증서 등록"]
    assert "인증서 파일을 보내 주세요" in texts(await chat.press("갱신한 인증서 등록"))
    reply = await register(chat, *renewed_files)
    assert "갱신된 인증서로 바꿨어요" in texts(reply)
    await _assert_renewed(world, old)


async def test_files_sent_during_the_renewal_guide_are_taken(
    world: World, pair_files: tuple[Path, Path], renewed_files: tuple[Path, Path]
) -> None:
    """Files sent right after the guide (without pressing the button) register the renewal."""
    chat = world.chat()
    old = await _with_two_links(chat, world, pair_files)
    await chat.say("/renew")
    assert "갱신된 인증서로 바꿨어요" in texts(await register(chat, *renewed_files))
    await _assert_renewed(world, old)


def _checklist_choices(out: list[Outbound]) -> tuple[Choice, ...]:
    (reply,) = [o for o in out if isinstance(o, Reply) and "☐" in o.text]
    return reply.choices


async def test_checklist_ticks_items_off_until_done(
    world: World, pair_files: tuple[Path, Path], renewed_cert: bytes, seed_key: bytes
) -> None:
    """Each checklist button ticks its institution off (stored as linked again) and shows
    what is left; the last one says it is all done."""
    chat = world.chat()
    await _with_two_links(chat, world, pair_files)
    user = Channel.CONSOLE, "console"
    documents = (Document("signCert.der", renewed_cert), Document("signPri.key", seed_key))
    await world.handle(Inbound(*user, message_ref="r1", documents=documents))
    out = await world.handle(Inbound(*user, message_ref="r2", text=factory.PASSWORD.decode()))
    shinhan, kb = _checklist_choices(out)
    assert (shinhan.label, kb.label) == ("✓ 신한은행 (월급)", "✓ KB국민은행")

    out = await world.handle(Inbound(*user, message_ref="r3", button=kb.token))
    (left,) = [o for o in out if isinstance(o, Reply)]
    assert left.text == "남은 곳이에요.\n☐ 신한은행 (월급)"
    assert [c.label for c in left.choices] == ["✓ 신한은행 (월급)"]
    _old, new = await _certificates(world)
    assert new.id is not None
    async with world.database.read() as session:
        states = [a.state for a in await accounts.list_for_certificate(session, new.owner_id,
                                                                        new.id)]  # fmt: skip
    assert states == [AccountState.NEEDS_REGISTRATION, AccountState.LINKED]

    out = await world.handle(Inbound(*user, message_ref="r4", button=left.choices[0].token))
    (done,) = [o for o in out if isinstance(o, Reply)]
    assert done.text == "모든 기관에 다시 등록했어요. 수고하셨어요!"
    assert done.choices[0].label == "인증서 등록"  # the main menu follows
    async with world.database.read() as session:
        states = [a.state for a in await accounts.list_for_certificate(session, new.owner_id,
                                                                        new.id)]  # fmt: skip
    assert states == [AccountState.LINKED, AccountState.LINKED]
    details = texts(await chat.say("/certs") + await chat.press("홍길동 · 2027-07-01"))
    assert "⚠" not in details


async def test_checklist_can_be_ticked_in_the_console(
    world: World, pair_files: tuple[Path, Path], renewed_files: tuple[Path, Path]
) -> None:
    """Right after a renewal the console user can tick the checklist with /press LABEL."""
    chat = world.chat()
    await _with_two_links(chat, world, pair_files)
    await register(chat, *renewed_files)
    assert "남은 곳이에요" in texts(await chat.press("✓ KB국민은행"))


async def test_no_linked_institutions_gives_an_empty_checklist(
    world: World, pair_files: tuple[Path, Path], renewed_files: tuple[Path, Path]
) -> None:
    """A renewal without linked institutions says there is nothing to tick, and reminds the
    user to register the new certificate wherever they used the old one."""
    chat = world.chat()
    await register(chat, *pair_files)
    reply = await register(chat, *renewed_files)
    assert "갱신된 인증서로 바꿨어요" in texts(reply)
    assert "연결된 기관이 없어요. 다른 은행이나 증권사에서도" in texts(reply)
    assert "☐" not in texts(reply)


@pytest.mark.parametrize("platform", ["안드로이드", "아이폰", "PC", None])
async def test_steps_follow_the_users_phone(
    world: World, pair_files: tuple[Path, Path], platform: str | None
) -> None:
    """The renewal steps are those for the phone chosen at /start (Android and iPhone: apps
    keep certificates per app, so the renewed one is moved into the others with the app's
    인증서 가져오기 and the website's PC→스마트폰 인증서 복사), or all of them when none
    was chosen."""
    chat = world.chat()
    if platform is not None:
        await chat.say("/start")
        await chat.press(platform)
    await register_reminders_only(chat, pair_files[0])
    said = texts(await chat.say("/renew"))
    for name, heading in STEPS.items():
        assert (heading in said) is (name == platform), heading
    if platform == "안드로이드":
        assert "2021년 11월 이후 앱은 인증서를 앱마다 따로 보관해요" in said
    if platform in ("안드로이드", "아이폰"):
        assert "'인증서 가져오기'" in said
        assert "'PC→스마트폰 인증서 복사'" in said
    if platform == "아이폰":
        assert "아이폰은 인증서를 앱마다 따로 보관해요" in said


async def test_expired_certificate_needs_a_new_issuance(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """After the expiry day /renew says renewal is impossible: a new certificate must be
    issued with an identity check, and no renewal steps are shown."""
    chat = world.chat()
    await chat.say("/start")
    await chat.press("안드로이드")
    await register_reminders_only(chat, pair_files[0])
    world.clock.advance(days=30)  # 2026-07-01 10:00: the expiry day, still renewable
    assert "지금 갱신할 수 있어요" in texts(await chat.say("/renew"))
    world.clock.advance(days=1)
    said = texts(await chat.say("/renew"))
    assert "D+1" in said
    assert "만료된 인증서예요. 갱신은 안 되고 새로 발급받아야 해요" in said
    assert "본인 확인을 거쳐 새로 발급받아 주세요" in said
    assert STEPS["안드로이드"] not in said


async def test_before_the_window_says_when_it_opens(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """Earlier than D-30, the guide says the day renewal opens (expiry minus 30 days)."""
    chat = world.chat()
    world.clock.advance(days=-31)
    await register_reminders_only(chat, pair_files[0])
    said = texts(await chat.say("/renew"))
    assert "D-61" in said
    assert "갱신은 2026년 6월 1일부터 할 수 있어요" in said


async def test_several_certificates_pick_one_and_none_at_all(
    world: World, pair_files: tuple[Path, Path], other_pair_files: tuple[Path, Path]
) -> None:
    """No certificate: /renew says to register one. Several: it asks which one first."""
    chat = world.chat()
    assert "등록된 인증서가 없어요" in texts(await chat.say("/renew"))
    await register_reminders_only(chat, pair_files[0])
    await register_reminders_only(chat, other_pair_files[0])
    reply = await chat.say("/renew")
    assert "어떤 인증서를 갱신할까요?" in texts(reply)
    assert buttons(reply) == ["홍길동 · 2026-07-01", "김철수 · 2026-07-01"]
    said = texts(await chat.press("김철수 · 2026-07-01"))
    assert "김철수 · 금융결제원(yessign)" in said
    assert "갱신 규칙" in said


async def test_renewal_kept_for_reminders_only_replaces_the_old_one(
    world: World, pair_files: tuple[Path, Path], renewed_files: tuple[Path, Path]
) -> None:
    """A renewed certificate registered 'reminders only' renews its predecessor too."""
    chat = world.chat()
    await register_reminders_only(chat, pair_files[0])
    await link_account(chat, "신한은행")
    await register_reminders_only(chat, renewed_files[0])
    assert buttons(await chat.say("/certs")) == ["홍길동 · 2027-07-01"]
    _old, new = await _certificates(world)
    assert new.id is not None
    async with world.database.read() as session:
        (moved,) = await accounts.list_for_certificate(session, new.owner_id, new.id)
    assert moved.state is AccountState.NEEDS_REGISTRATION


async def _stale_details(world: World, renewed_cert: bytes, seed_key: bytes) -> Outbound:
    """The old certificate's details message (buttons still valid), then the renewal."""
    user = Channel.CONSOLE, "console"
    out = await world.handle(Inbound(*user, command="certs"))
    token = next(c.token for o in out if isinstance(o, Reply) for c in o.choices)
    details = await world.handle(Inbound(*user, button=token))
    documents = (Document("signCert.der", renewed_cert), Document("signPri.key", seed_key))
    await world.handle(Inbound(*user, message_ref="r1", documents=documents))
    out = await world.handle(Inbound(*user, message_ref="r2", text=factory.PASSWORD.decode()))
    assert "갱신된 인증서로 바꿨어요" in "\n".join(o.text for o in out if isinstance(o, Reply))
    (reply,) = details
    return reply


def _press(reply: Outbound, label: str) -> Inbound:
    assert isinstance(reply, Reply)
    token = next(c.token for c in reply.choices if c.label == label)
    return Inbound(Channel.CONSOLE, "console", button=token)


async def test_export_button_of_a_replaced_certificate_is_answered(
    world: World, pair_files: tuple[Path, Path], renewed_cert: bytes, seed_key: bytes
) -> None:
    """The old certificate's '인증서 내보내기' pressed after the renewal is answered "no longer
    works" (not an exception, and no file): it was retired and its files are gone."""
    chat = world.chat()
    await register(chat, *pair_files)
    old_details = await _stale_details(world, renewed_cert, seed_key)
    out = await world.handle(_press(old_details, "인증서 내보내기"))
    replies = [o.text for o in out if isinstance(o, Reply)]
    assert replies == ["이 버튼은 더 이상 쓸 수 없어요. 아래 메뉴에서 다시 골라 주세요."]
    assert not [o for o in out if isinstance(o, SendDocument)]


async def test_link_button_of_a_replaced_certificate_does_not_link_the_retired_one(
    world: World, pair_files: tuple[Path, Path], renewed_cert: bytes, seed_key: bytes
) -> None:
    """The old certificate's '계좌 연결하기' pressed after the renewal never attaches an
    account to the retired certificate."""
    chat = world.chat()
    await register(chat, *pair_files)
    old_details = await _stale_details(world, renewed_cert, seed_key)
    out = await world.handle(_press(old_details, "계좌 연결하기"))
    if any(isinstance(o, Reply) and o.choices for o in out):
        (ask,) = [o for o in out if isinstance(o, Reply)]
        out = await world.handle(_press(ask, "신한은행"))
        (ask,) = [o for o in out if isinstance(o, Reply)]
        out = await world.handle(_press(ask, "건너뛰기"))
        (ask,) = [o for o in out if isinstance(o, Reply)]
        await world.handle(_press(ask, "건너뛰기"))
    old, _new = await _certificates(world)
    assert old.id is not None
    async with world.database.read() as session:
        assert await accounts.list_for_certificate(session, old.owner_id, old.id) == []
