"""Privacy and data (/privacy, /deleteme): what is kept, and deleting everything."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel, col

from storage import certificates
from storage.models import (
    AuditEvent,
    ButtonToken,
    Certificate,
    CertificateSecret,
    ConversationState,
    KeyAttempt,
    LinkedAccount,
    Reminder,
    User,
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


async def _everything(chat: Chat, pair_files: tuple[Path, Path], other_cert: Path) -> None:
    """Two certificates (one with its key), one linked account, a wrong-password count."""
    await register(chat, *pair_files)
    await register_reminders_only(chat, other_cert)
    await link_account(chat, "신한은행", number="110-123-456789", certificate="홍길동 · 2026-07-01")
    await chat.say("/export")
    await chat.press("홍길동 · 2026-07-01")
    await chat.press("PFX 파일")
    await chat.say("new-pfx-password")
    await chat.say("new-pfx-password")
    assert "(1/5)" in texts(await chat.say("not-the-password"))
    await chat.say("/cancel")


async def _rows(world: World, owner: int, user: str = "console") -> dict[str, int]:
    """How many rows of each table belong to `owner` (or to the console user's identity)."""
    belonging: list[tuple[type[SQLModel], sa.ColumnElement[bool]]] = [
        (Certificate, col(Certificate.owner_id) == owner),
        (CertificateSecret, col(CertificateSecret.owner_id) == owner),
        (LinkedAccount, col(LinkedAccount.owner_id) == owner),
        (Reminder, col(Reminder.owner_id) == owner),
        (AuditEvent, col(AuditEvent.owner_id) == owner),
        (KeyAttempt, col(KeyAttempt.owner_id) == owner),
        (User, col(User.user_key) == user),
        (ConversationState, col(ConversationState.user_key) == user),
        (ButtonToken, col(ButtonToken.user_key) == user),
    ]
    counts = {}
    async with world.database.read() as session:
        for model, belongs in belonging:
            counts[model.__name__] = int(
                await session.scalar(sa.select(sa.func.count()).where(belongs)) or 0
            )
    return counts


async def test_privacy_shows_what_is_kept(
    world: World, pair_files: tuple[Path, Path], other_pair_files: tuple[Path, Path]
) -> None:
    """/privacy counts the certificates (and how many keep a key) and linked institutions,
    says how they are kept, and offers to delete one or everything."""
    chat = world.chat()
    reply = await chat.say("/privacy")
    assert "인증서 0개 (그중 개인키 보관 0개)" in texts(reply)
    await _everything(chat, pair_files, other_pair_files[0])
    reply = await chat.say("/privacy")
    said = texts(reply)
    for part in ("인증서 2개 (그중 개인키 보관 1개)", "연결된 기관 1곳", "AES-256-GCM",
                 "비밀번호는 저장하지 않아요"):  # fmt: skip
        assert part in said, part
    assert buttons(reply) == ["인증서 하나 삭제", "모두 삭제"]


async def test_delete_one_from_privacy_lists_the_certificates(
    world: World, pair_files: tuple[Path, Path], other_pair_files: tuple[Path, Path]
) -> None:
    """'인증서 하나 삭제' in /privacy shows the certificates to pick the one to delete."""
    chat = world.chat()
    await register_reminders_only(chat, pair_files[0])
    await register_reminders_only(chat, other_pair_files[0])
    await chat.say("/privacy")
    reply = await chat.press("인증서 하나 삭제")
    assert "내 인증서" in texts(reply)
    assert buttons(reply) == ["홍길동 · 2026-07-01", "김철수 · 2026-07-01"]


async def _assert_all_gone(world: World, owner: int, chat: Chat) -> None:
    counts = await _rows(world, owner)
    assert counts == dict.fromkeys(counts, 0), counts
    assert await world.user_id() is None
    reply = await chat.say("/start")
    assert "안녕하세요, certmate예요" in texts(reply)
    assert buttons(reply) == ["안드로이드", "아이폰", "PC"]
    assert await world.user_id() is not None  # a new user, from scratch
    assert "등록된 인증서가 없어요" in texts(await chat.say("/certs"))


async def test_delete_everything_by_button(
    world: World, pair_files: tuple[Path, Path], other_pair_files: tuple[Path, Path]
) -> None:
    """'모두 삭제' asks with the counts; '모두 삭제할게요' deletes the user with every
    certificate, sealed file, account, attempt, audit event, conversation state and button
    token, and says what went. /start then works as for a new user."""
    chat = world.chat()
    await _everything(chat, pair_files, other_pair_files[0])
    owner = await world.user_id()
    assert owner is not None
    before = await _rows(world, owner)
    assert all(before[name] > 0 for name in ("Certificate", "CertificateSecret", "LinkedAccount",
                                             "KeyAttempt", "User", "ButtonToken"))  # fmt: skip
    await chat.say("/privacy")
    reply = await chat.press("모두 삭제")
    assert "정말 모두 지울까요? 인증서 2개, 연결된 기관 1곳" in texts(reply)
    assert buttons(reply) == ["모두 삭제할게요", "취소"]
    reply = await chat.press("모두 삭제할게요")
    assert "모두 지웠어요: 인증서 2개, 연결된 기관 1곳" in texts(reply)
    assert buttons(reply) == []
    await _assert_all_gone(world, owner, chat)


@pytest.mark.parametrize("typed", ["예", "yes", "네"])
async def test_deleteme_then_typing_yes(
    world: World, pair_files: tuple[Path, Path], other_pair_files: tuple[Path, Path], typed: str
) -> None:
    """/deleteme goes straight to the confirmation; typing 예 (or yes, 네) deletes everything."""
    chat = world.chat()
    await _everything(chat, pair_files, other_pair_files[0])
    owner = await world.user_id()
    assert owner is not None
    assert "정말 모두 지울까요?" in texts(await chat.say("/deleteme"))
    assert "모두 지웠어요" in texts(await chat.say(typed))
    await _assert_all_gone(world, owner, chat)


@pytest.mark.parametrize("answer", ["/press 취소", "아니요", "/press 2"])
async def test_declining_deletes_nothing(
    world: World, pair_files: tuple[Path, Path], answer: str
) -> None:
    """Cancel, or any other answer, deletes nothing; the confirmation is over afterwards."""
    chat = world.chat()
    await register(chat, *pair_files)
    owner = await world.user_id()
    assert owner is not None
    await chat.say("/deleteme")
    assert "아무것도 지우지 않았어요" in texts(await chat.say(answer))
    assert "모두 지웠어요" not in texts(await chat.say("예"))
    assert await world.user_id() == owner
    async with world.database.read() as session:
        assert len(await certificates.list_active(session, owner)) == 1


async def test_deleting_everything_leaves_other_users_alone(
    world: World, pair_files: tuple[Path, Path], other_pair_files: tuple[Path, Path]
) -> None:
    """One user's /deleteme removes nothing of another user's."""
    mine, theirs = world.chat(), world.chat("other")
    await register(mine, *pair_files)
    await register(theirs, *other_pair_files)
    await link_account(theirs, "신한은행")
    other = await world.user_id("other")
    assert other is not None
    before = await _rows(world, other, "other")
    await mine.say("/deleteme")
    await mine.press("모두 삭제할게요")
    assert await _rows(world, other, "other") == before
    assert "김철수" in texts(await theirs.say("/certs"))
