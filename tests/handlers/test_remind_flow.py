"""Reminder settings (/remind): thresholds, quiet hours, all on/off, per certificate."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.messages import Inbound, Reply
from storage import certificates, users
from storage.models import Certificate, Channel, User
from tests.handlers.harness import Chat, World, buttons, register_reminders_only, texts

MENU = ["30·14·7·1일", "30·7·1일", "14·7·3·1일", "직접 정하기", "조용한 시간 21:00~09:00",
        "조용한 시간 22:00~08:00", "조용한 시간 없음", "알림 모두 끄기"]  # fmt: skip


async def _user(world: World) -> User:
    async with world.database.read() as session:
        user = await users.find(session, Channel.CONSOLE, "console")
    assert user is not None
    return user


async def _certificate(world: World) -> Certificate:
    user = await _user(world)
    assert user.id is not None
    async with world.database.read() as session:
        (row,) = await certificates.list_active(session, user.id)
    return row


async def _custom(world: World, chat: Chat, typed: str) -> str:
    """'직접 정하기', then `typed` as a plain text message; returns what the bot said."""
    await chat.say("/remind")
    assert "만료 며칠 전에 알려 드릴까요?" in texts(await chat.press("직접 정하기"))
    out = await world.handle(Inbound(Channel.CONSOLE, "console", message_ref="d", text=typed))
    return "\n".join(o.text for o in out if isinstance(o, Reply))


async def test_settings_show_the_defaults_and_every_choice(world: World) -> None:
    """With nothing set: on, 30·14·7·1 days, quiet 21:00~09:00, no certificates; a button
    for each preset, custom days, each quiet-hours choice and all off."""
    reply = await world.chat().say("/remind")
    said = texts(reply)
    for part in ("알림: 켜짐", "만료 30·14·7·1일 전, 만료일, 만료 다음 날에 알려 드려요",
                 "조용한 시간: 21:00~09:00", "등록된 인증서가 없어요"):  # fmt: skip
        assert part in said, part
    assert buttons(reply) == MENU
    user = await _user(world)
    assert user.reminder_thresholds is None  # showing the settings stores nothing


@pytest.mark.parametrize(
    ("label", "days"),
    [("30·7·1일", [30, 7, 1]), ("14·7·3·1일", [14, 7, 3, 1]), ("30·14·7·1일", [30, 14, 7, 1])],
)
async def test_a_preset_is_stored(world: World, label: str, days: list[int]) -> None:
    """Pressing a preset stores those thresholds; /remind then shows them."""
    chat = world.chat()
    await chat.say("/remind")
    assert "저장했어요" in texts(await chat.press(label))
    assert (await _user(world)).reminder_thresholds == days
    assert f"만료 {label} 전," in texts(await chat.say("/remind"))


@pytest.mark.parametrize(
    ("typed", "days"),
    [("30 10 3", [30, 10, 3]), ("3, 10, 30", [30, 10, 3]), ("7", [7]), ("60 1", [60, 1])],
)
async def test_custom_days_are_stored_largest_first(
    world: World, typed: str, days: list[int]
) -> None:
    """Custom days (spaces or commas, any order, 1 to 60) are stored largest first."""
    chat = world.chat()
    assert "저장했어요" in await _custom(world, chat, typed)
    assert (await _user(world)).reminder_thresholds == days
    label = "·".join(str(d) for d in days)
    assert f"만료 {label}일 전," in texts(await chat.say("/remind"))


@pytest.mark.parametrize("typed", ["0 99", "abc", "0", "61", "30 30", "1 2 3 4 5 6 7", "-3", "7.5"])
async def test_bad_custom_days_are_refused(world: World, typed: str) -> None:
    """Zero, over 60, repeated, more than six, or not whole numbers: refused with the rule,
    nothing stored, and the next good answer is still taken."""
    chat = world.chat()
    said = await _custom(world, chat, typed)
    assert "1부터 60까지의 서로 다른 일수를 6개까지" in said
    assert (await _user(world)).reminder_thresholds is None
    out = await world.handle(Inbound(Channel.CONSOLE, "console", message_ref="e", text="30 10 3"))
    assert [o.text for o in out if isinstance(o, Reply)] == [
        "저장했어요. 이제 만료 30·10·3일 전에 알려 드릴게요."
    ]
    assert (await _user(world)).reminder_thresholds == [30, 10, 3]


async def test_custom_days_typed_as_one_number_in_the_console(world: World) -> None:
    """In the console, typing "7" after '직접 정하기' sets a 7-day reminder."""
    chat = world.chat()
    await chat.say("/remind")
    await chat.press("직접 정하기")
    reply = await chat.say("7")
    assert reply[0] == {"type": "user", "text": "7"}
    assert (await _user(world)).reminder_thresholds == [7]


async def test_quiet_hours_presets_and_none(world: World) -> None:
    """A quiet-hours preset stores its start and end; '조용한 시간 없음' stores an empty
    window (00:00~00:00), shown as none."""
    chat = world.chat()
    await chat.say("/remind")
    reply = await chat.press("조용한 시간 22:00~08:00")
    assert "조용한 시간: 22:00~08:00 (이 시간에는 보내지 않아요)" in texts(reply)
    user = await _user(world)
    assert (user.quiet_start, user.quiet_end) == ("22:00", "08:00")
    reply = await chat.press("조용한 시간 없음")
    assert "조용한 시간: 없음" in texts(reply)
    user = await _user(world)
    assert (user.quiet_start, user.quiet_end) == ("00:00", "00:00")
    await chat.press("조용한 시간 21:00~09:00")
    user = await _user(world)
    assert (user.quiet_start, user.quiet_end) == ("21:00", "09:00")


async def test_all_reminders_off_and_on(world: World) -> None:
    """'알림 모두 끄기' turns every reminder off for the user (stored, shown, button flips to
    '알림 다시 켜기'), which turns them back on."""
    chat = world.chat()
    await chat.say("/remind")
    reply = await chat.press("알림 모두 끄기")
    assert "알림: 꺼짐" in texts(reply)
    assert buttons(reply)[-1] == "알림 다시 켜기"
    assert (await _user(world)).reminders_enabled is False
    reply = await chat.press("알림 다시 켜기")
    assert "알림: 켜짐" in texts(reply)
    assert (await _user(world)).reminders_enabled is True


async def test_reminders_per_certificate(world: World, pair_files: tuple[Path, Path]) -> None:
    """Each certificate has its own on/off: stored on the certificate, shown in /remind and
    in /certs, without touching the user's global switch."""
    chat = world.chat()
    await register_reminders_only(chat, pair_files[0])
    reply = await chat.say("/remind")
    assert "• 홍길동: 켜짐" in texts(reply)
    assert buttons(reply) == [*MENU, "홍길동 알림 끄기"]
    reply = await chat.press("홍길동 알림 끄기")
    assert "• 홍길동: 꺼짐" in texts(reply)
    assert buttons(reply)[-1] == "홍길동 알림 켜기"
    assert (await _certificate(world)).reminders_enabled is False
    assert (await _user(world)).reminders_enabled is True
    assert "알림 꺼짐" in texts(await chat.say("/certs"))
    await chat.say("/remind")
    await chat.press("홍길동 알림 켜기")
    assert (await _certificate(world)).reminders_enabled is True


async def test_cancel_leaves_custom_days(world: World) -> None:
    """/cancel while custom days are asked leaves the flow: a later number is not taken."""
    chat = world.chat()
    await chat.say("/remind")
    await chat.press("직접 정하기")
    assert "취소했어요" in texts(await chat.say("/cancel"))
    out = await world.handle(Inbound(Channel.CONSOLE, "console", message_ref="x", text="30 10"))
    assert not [o for o in out if isinstance(o, Reply) and o.text.startswith("저장했어요")]
    assert (await _user(world)).reminder_thresholds is None
