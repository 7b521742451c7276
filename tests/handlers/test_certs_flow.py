"""My certificates (/certs): the list, details, reminders on/off and deletion, end to end."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from handlers.messages import Inbound, Outbound, Reply
from storage import accounts, audit, certificates, reminders
from storage.errors import NotFound
from storage.models import (
    AuditAction,
    Certificate,
    CertificateSecret,
    Channel,
    LinkedAccount,
    Reminder,
    ReminderKind,
)
from tests.handlers.harness import (
    Chat,
    World,
    buttons,
    link_account,
    register,
    register_reminders_only,
    texts,
)

DETAILS = "홍길동 · 2026-07-01"


async def _only_certificate(world: World, user: str = "console") -> Certificate:
    owner = await world.user_id(user)
    assert owner is not None
    async with world.database.read() as session:
        (row,) = await certificates.list_active(session, owner)
        return row


async def _plan_reminder(world: World, row: Certificate) -> None:
    """A pending reminder in the outbox, as the sweep would plan it."""
    assert row.id is not None
    async with world.database.write() as session:
        await reminders.plan(
            session,
            certificate_id=row.id,
            owner_id=row.owner_id,
            kind=ReminderKind.EXPIRY,
            threshold_days=14,
            due_at=row.not_after - timedelta(days=14),
            now=world.clock(),
        )


async def _open_delete(chat: Chat) -> list[dict[str, object]]:
    await chat.say("/certs")
    await chat.press(DETAILS)
    return await chat.press("삭제")


async def test_list_shows_active_certificates_with_their_facts(
    world: World, pair_files: tuple[Path, Path], other_pair_files: tuple[Path, Path]
) -> None:
    """Each certificate is listed with holder, CA, usage, expiry, D-day, how many institutions
    are linked and whether reminders are on; one button per certificate opens its details."""
    chat = world.chat()
    await register(chat, *pair_files)
    await register_reminders_only(chat, other_pair_files[0])
    await link_account(chat, "신한은행", certificate=DETAILS)
    reply = await chat.say("/certs")
    listing = texts(reply)
    first, second = listing.split("\n\n")[1:3]
    for block, holder, links in ((first, "홍길동", 1), (second, "김철수", 0)):
        for part in (holder, "금융결제원(yessign)", "은행/신용카드/보험용 개인", "2026-07-01",
                     "2026년 7월 1일", "D-30", "알림 켜짐", f"연결된 기관 {links}곳"):  # fmt: skip
            assert part in block, (part, block)
    assert buttons(reply) == [DETAILS, "김철수 · 2026-07-01"]


async def test_list_follows_the_clock_and_says_when_there_is_nothing(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """No certificates: a short note with the register button. Later the D-day has moved."""
    chat = world.chat()
    reply = await chat.say("/certs")
    assert "등록된 인증서가 없어요" in texts(reply)
    assert buttons(reply) == ["인증서 등록"]
    await register(chat, *pair_files)
    world.clock.advance(days=25)
    listing = texts(await chat.say("/certs"))
    assert "D-5" in listing
    assert "D-30" not in listing


async def test_details_show_linked_institutions_masked_and_the_key_state(
    world: World, pair_files: tuple[Path, Path], other_pair_files: tuple[Path, Path]
) -> None:
    """Details list each linked institution with nickname and masked number (never the full
    number), say whether the private key is kept, and offer every per-certificate action."""
    chat = world.chat()
    await register(chat, *pair_files)
    await link_account(chat, "신한은행", number="110-123-456789", nickname="월급")
    await link_account(chat, "키움증권")
    await chat.say("/certs")
    reply = await chat.press(DETAILS)
    details = texts(reply)
    assert "• 신한은행 월급 110-***-***789" in details
    assert "• 키움증권" in details
    assert "456789" not in details
    assert "개인키를 암호화해서 보관 중이에요" in details
    assert buttons(reply) == [
        "계좌 연결하기",
        "인증서 갱신",
        "인증서 내보내기",
        "알림 끄기",
        "삭제",
    ]

    other = world.chat("other")
    await register_reminders_only(other, other_pair_files[0])
    await other.say("/certs")
    details = texts(await other.press("김철수 · 2026-07-01"))
    assert "연결된 기관이 없어요" in details
    assert "알림용으로만 등록되어 개인키는 보관하지 않아요" in details


async def test_toggle_reminders_from_details(world: World, pair_files: tuple[Path, Path]) -> None:
    """'알림 끄기' turns the certificate's reminders off (stored, shown, button flips);
    '알림 켜기' turns them back on."""
    chat = world.chat()
    await register(chat, *pair_files)
    await chat.say("/certs")
    await chat.press(DETAILS)
    reply = await chat.press("알림 끄기")
    assert "알림 꺼짐" in texts(reply)
    assert "알림 켜기" in buttons(reply)
    assert (await _only_certificate(world)).reminders_enabled is False
    assert "알림 꺼짐" in texts(await chat.say("/certs"))
    await chat.press(DETAILS)
    reply = await chat.press("알림 켜기")
    assert "알림 켜짐" in texts(reply)
    assert (await _only_certificate(world)).reminders_enabled is True


async def _assert_gone(world: World, row: Certificate) -> None:
    """The certificate, its sealed files, its accounts and its reminders are all gone."""
    assert row.id is not None
    async with world.database.read() as session:
        with pytest.raises(NotFound):
            await certificates.get(session, row.owner_id, row.id)
        assert await session.get(CertificateSecret, row.id) is None
        assert await accounts.list_for_certificate(session, row.owner_id, row.id) == []
        for model in (LinkedAccount, Reminder):
            count = await session.scalar(
                select(sa.func.count()).where(col(model.certificate_id) == row.id)
            )
            assert count == 0, model
        actions = [e.action for e in await audit.list_for_owner(session, row.owner_id)]
        assert actions[-1] is AuditAction.DELETE


async def test_delete_by_button_erases_files_accounts_and_reminders(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """Delete asks first (naming the holder, with yes/no buttons); '삭제할게요' erases the
    certificate with its sealed files, linked accounts and pending reminders."""
    chat = world.chat()
    await register(chat, *pair_files)
    await link_account(chat, "신한은행", number="110-123-456789")
    row = await _only_certificate(world)
    await _plan_reminder(world, row)
    reply = await _open_delete(chat)
    assert "홍길동 인증서를 삭제할까요?" in texts(reply)
    assert buttons(reply) == ["삭제할게요", "취소"]
    reply = await chat.press("삭제할게요")
    assert "홍길동 인증서를 삭제했어요" in texts(reply)
    assert "연결된 기관 1곳" in texts(reply)
    await _assert_gone(world, row)
    assert "등록된 인증서가 없어요" in texts(await chat.say("/certs"))


@pytest.mark.parametrize("typed", ["예", "yes", " YES "])
async def test_delete_by_typing_yes(
    world: World, pair_files: tuple[Path, Path], typed: str
) -> None:
    """At the confirmation, typing 예 / yes (any case, spaces around) deletes too."""
    chat = world.chat()
    await register(chat, *pair_files)
    row = await _only_certificate(world)
    await _plan_reminder(world, row)
    await _open_delete(chat)
    said = texts(await chat.say(typed))
    assert "홍길동 인증서를 삭제했어요. 인증서 파일과 예정된 알림을 모두 지웠어요." in said
    assert "0곳" not in said  # nothing linked: no empty claim
    await _assert_gone(world, row)


@pytest.mark.parametrize("answer", ["/press 취소", "아니요", "no"])
async def test_declining_keeps_the_certificate(
    world: World, pair_files: tuple[Path, Path], answer: str
) -> None:
    """'취소', or any typed answer but yes, keeps the certificate, its files and its accounts."""
    chat = world.chat()
    await register(chat, *pair_files)
    await link_account(chat, "신한은행")
    row = await _only_certificate(world)
    assert row.id is not None
    await _open_delete(chat)
    reply = await chat.say(answer)
    assert "삭제하지 않았어요" in texts(reply)
    assert buttons(reply)[0] == "인증서 등록"  # back to the main menu
    async with world.database.read() as session:
        files = await certificates.open_files(session, world.assistant.services.vault,
                                              row.owner_id, row.id)  # fmt: skip
        assert set(files) == {"signCert.der", "signPri.key"}
        assert len(await accounts.list_for_certificate(session, row.owner_id, row.id)) == 1
    assert "연결된 기관 1곳" in texts(await chat.say("/certs"))
    # The confirmation is over: a later "예" deletes nothing.
    assert "삭제했어요" not in texts(await chat.say("예"))
    assert (await _only_certificate(world)).id == row.id


async def test_pressing_yes_twice_deletes_once(world: World, pair_files: tuple[Path, Path]) -> None:
    """A second press of '삭제할게요' (a double tap) finds nothing: "not found", no error."""
    await register(world.chat(), *pair_files)

    def press(out: list[Outbound], label: str) -> Inbound:
        token = next(c.token for o in out if isinstance(o, Reply) for c in o.choices
                     if c.label == label)  # fmt: skip
        return Inbound(Channel.CONSOLE, "console", button=token)

    out = await world.handle(Inbound(Channel.CONSOLE, "console", command="certs"))
    out = await world.handle(press(out, DETAILS))
    confirm = await world.handle(press(out, "삭제"))
    said = await world.handle(press(confirm, "삭제할게요"))
    assert "삭제했어요" in "\n".join(o.text for o in said if isinstance(o, Reply))
    again = await world.handle(press(confirm, "삭제할게요"))
    assert [o.text for o in again if isinstance(o, Reply)] == [
        "이 버튼은 더 이상 쓸 수 없어요. 아래 메뉴에서 다시 골라 주세요."
    ]


async def test_deleting_a_renewed_certificate_deletes_the_one_it_replaced(
    world: World, pair_files: tuple[Path, Path], renewed_files: tuple[Path, Path]
) -> None:
    """Deleting a certificate leaves nothing of it behind, including the older certificate
    it renewed (which the user can only see through it)."""
    chat = world.chat()
    await register(chat, *pair_files)
    await register(chat, *renewed_files)
    await chat.say("/certs")
    await chat.press("홍길동 · 2027-07-01")
    await chat.press("삭제")
    assert "삭제했어요" in texts(await chat.press("삭제할게요"))
    owner = await world.user_id()
    async with world.database.read() as session:
        left = await session.scalar(
            select(sa.func.count()).where(col(Certificate.owner_id) == owner)
        )
    assert left == 0
