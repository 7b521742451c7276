"""Caps per user: no one fills the disk or keeps the writer busy re-sealing a
conversation that grows at every message. Every cap is answered in words."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import col

from handlers.messages import Inbound, Outbound, Reply
from storage import certificates
from storage.models import ButtonToken, Channel
from tests import factory
from tests.conftest import Holder
from tests.handlers.conftest import PASSWORD
from tests.handlers.harness import World, buttons, texts

MIB = 1024 * 1024
UPLOADS = 30
FILE_BYTES = 1024 * 1024 - 4096
"""Just under `[limits] upload_bytes`: each file alone is a legal upload."""


def _database_bytes(world: World) -> int:
    """The SQLite database and its WAL, as a thief copying data_dir would find them."""
    return sum(path.stat().st_size for path in world.folder.glob("certmate.db*"))


async def test_thirty_one_megabyte_files_keep_the_database_small(
    world: World, tmp_path: Path, holder: Holder
) -> None:
    """The attack: 30 files of ~1 MB each, one message at a time. Certificates with a
    megabyte appended are refused on arrival (real files carry tens of bytes after the
    DER); PFX files padded to a megabyte are held only up to the conversation's cap (8
    files, 2 MiB) and every one beyond gets the limit answer. The database stays a few
    MiB (it was 79 MB)."""
    chat = world.chat()
    before = _database_bytes(world)
    padding = b"\x00" * (FILE_BYTES - len(holder.cert_der))
    for number in range(UPLOADS):
        path = tmp_path / f"cert{number:02}.der"
        path.write_bytes(holder.cert_der + padding)
        reply = texts(await chat.upload(path))
        assert "파일 끝에 덧붙은 데이터" in reply, reply
    assert _database_bytes(world) - before < MIB

    pfx = factory.openssl_pfx(holder.key, holder.cert, PASSWORD, cipher="aes")
    pfx_padding = b"\x00" * (FILE_BYTES - len(pfx))
    answers = []
    for number in range(UPLOADS):
        path = tmp_path / f"cert{number:02}.pfx"
        path.write_bytes(pfx + pfx_padding)
        answers.append(texts(await chat.upload(path)))
    limit_answer = "모두 합쳐 2 MiB까지예요"
    assert limit_answer not in answers[0]
    assert all(limit_answer in answer for answer in answers[2:]), answers[2]
    grown = _database_bytes(world) - before
    assert grown < 12 * MIB, f"the database grew {grown / MIB:.1f} MiB"


async def test_nine_held_files_are_one_too_many(
    world: World, tmp_path: Path, ca: factory.Authority, holder: Holder
) -> None:
    """Eight certificates waiting for their keys are held; a ninth is refused with the
    limit answer, and the eight stay held (registering them for reminders works)."""
    chat = world.chat()
    for number in range(9):
        cert = factory.make_cert(
            ca, holder.key, cn=f"홍길동{number}()00123456789012", serial=number + 1
        )
        path = tmp_path / f"cert{number}.der"
        path.write_bytes(factory.cert_der(cert))
        reply = texts(await chat.upload(path))
        if number < 8:
            assert "2 MiB" not in reply, reply
    assert "기다리는 동안 맡아 둘 수 있는 파일은 8개" in reply
    assert "방금 보내신 파일은 받지 않았어요" in reply
    reply = texts(await chat.press("알림용으로만 등록"))
    assert reply.count("알림용으로 등록했어요") == 8


async def test_the_fifty_first_certificate_is_refused(
    world: World, tmp_path: Path, ca: factory.Authority, holder: Holder
) -> None:
    """50 certificates are kept; the 51st is refused in words, on arrival, before any
    password is asked, and nothing is held for it."""
    chat = world.chat()
    for number in range(51):
        cert = factory.make_cert(
            ca, holder.key, cn=f"사용자{number}()00123456789012", serial=number + 1
        )
        path = tmp_path / f"cert{number}.der"
        path.write_bytes(factory.cert_der(cert))
        reply = await chat.upload(path)
        if number < 50:
            reply += await chat.press("알림용으로만 등록")
            assert "알림용으로 등록했어요" in texts(reply), texts(reply)
    assert "인증서는 한 분당 50개까지 보관할 수 있어요" in texts(reply)
    assert "알림용으로만 등록" not in buttons(reply)
    owner = await world.user_id()
    assert owner is not None
    async with world.database.read() as session:
        assert await certificates.count_kept(session, owner) == 50


def _menu_tokens(out: list[Outbound]) -> dict[str, str]:
    (reply,) = [item for item in out if isinstance(item, Reply) and item.choices]
    return {choice.label: choice.token for choice in reply.choices}


def _said(out: list[Outbound]) -> str:
    return "\n".join(item.text for item in out if isinstance(item, Reply))


async def test_buttons_beyond_the_cap_forget_the_oldest(world: World) -> None:
    """With a cap of 12 buttons, three menus of 8 later the first menu's buttons are
    forgotten (pressing one says so, in words), and the newest menu's buttons work."""
    world.settings = replace(world.settings, caps=replace(world.settings.caps, buttons=12))
    world.restart()
    menus = []
    for number in range(3):
        world.clock.advance(seconds=1)  # each menu's buttons expire a little later
        out = await world.handle(Inbound(Channel.CONSOLE, "console", f"m{number}", text="메뉴"))
        menus.append(_menu_tokens(out))
    owner_buttons = await _button_count(world)
    assert owner_buttons == 12
    out = await world.handle(Inbound(Channel.CONSOLE, "console", button=menus[0]["도움말"]))
    assert "이 버튼은 더 이상 쓸 수 없어요" in _said(out)
    out = await world.handle(Inbound(Channel.CONSOLE, "console", button=menus[2]["도움말"]))
    assert "이 버튼은 더 이상 쓸 수 없어요" not in _said(out)


async def _button_count(world: World) -> int:
    async with world.database.read() as session:
        total = await session.scalar(
            sa.select(sa.func.count())
            .select_from(ButtonToken)
            .where(col(ButtonToken.user_key) == "console")
        )
    return int(total or 0)
