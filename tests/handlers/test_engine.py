"""The conversation engine: button tokens, concurrency, ordering, rate limit, idle expiry,
cancel, fallbacks and group chats."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from handlers.assistant import AFTER_SECRET
from handlers.messages import Delete, Document, Inbound, Outbound, Reply, Unsupported
from storage import certificates, conversations
from storage.models import (
    ButtonToken,
    Certificate,
    CertificateSecret,
    Channel,
    ConversationState,
    LinkedAccount,
    User,
)
from tests.conftest import Holder
from tests.handlers.conftest import PASSWORD
from tests.handlers.harness import World, buttons, register, texts

MENU = ["인증서 등록", "내 인증서", "계좌 연결하기", "인증서 갱신", "인증서 내보내기",
        "알림 설정", "개인정보와 데이터", "도움말"]  # fmt: skip
NOT_FOUND = "이 버튼은 더 이상 쓸 수 없어요. 아래 메뉴에서 다시 골라 주세요."
TOO_FAST = "메시지가 너무 빨리 오고 있어요. 1분쯤 뒤에 다시 보내 주세요."
REFUSED_KO = "메시지를 지우지 못했어요. 비밀번호가 담긴 메시지는 직접 지워 주세요."


def _replies(out: list[Outbound]) -> list[Reply]:
    return [o for o in out if isinstance(o, Reply)]


def _said(out: list[Outbound]) -> str:
    return "\n".join(r.text for r in _replies(out))


def _choice(out: list[Outbound], label: str) -> str:
    """The token of the button labelled `label` among the replies."""
    return next(c.token for r in _replies(out) for c in r.choices if c.label == label)


def _console(user: str = "console", **fields: Any) -> Inbound:
    return Inbound(Channel.CONSOLE, user, **fields)


async def _snapshot(world: World) -> dict[str, list[tuple[Any, ...]]]:
    """Every row that a flow can change, as plain tuples (to compare before and after)."""
    tables: dict[str, sa.Select[*tuple[Any, ...]]] = {
        "users": sa.select(col(User.id), col(User.locale), col(User.platform),
                           col(User.reminders_enabled), col(User.reminder_thresholds),
                           col(User.quiet_start)),
        "certificates": sa.select(col(Certificate.id), col(Certificate.owner_id),
                                  col(Certificate.status), col(Certificate.reminders_enabled),
                                  col(Certificate.replaced_by_id)),
        "secrets": sa.select(col(CertificateSecret.certificate_id), col(CertificateSecret.sealed)),
        "accounts": sa.select(col(LinkedAccount.id), col(LinkedAccount.certificate_id),
                              col(LinkedAccount.state)),
        "states": sa.select(col(ConversationState.user_key), col(ConversationState.flow),
                            col(ConversationState.step), col(ConversationState.version),
                            col(ConversationState.sealed)),
    }  # fmt: skip
    async with world.database.read() as session:
        return {
            name: [tuple(row) for row in (await session.execute(query)).all()]
            for name, query in tables.items()
        }


async def _console_state(world: World, user: str = "console") -> conversations.Saved | None:
    """The flow the user is in; the note left after a flow that wanted a password (so a
    late one is deleted) is not a flow, and holds nothing secret."""
    async with world.database.read() as session:
        saved = await conversations.load(
            session, world.assistant.services.vault, Channel.CONSOLE, user
        )
    if saved is not None and saved.flow == AFTER_SECRET:
        assert saved.secret is None
        return None
    return saved


# --- button tokens ------------------------------------------------------------------


@pytest.mark.parametrize("token", ["forged-token-123", "", "x" * 200, "' OR 1=1 --"])
async def test_a_forged_token_is_not_found_and_changes_nothing(
    world: World, pair_files: tuple[Path, Path], token: str
) -> None:
    """A token the server never issued gets "not found" with the main menu; the database is
    untouched and the flow in progress goes on as if nothing happened."""
    chat = world.chat()
    await register(chat, *pair_files)
    await chat.say("/link")
    await chat.say("신한은행")
    before = await _snapshot(world)
    out = await world.handle(_console(message_ref="f", button=token))
    (reply,) = _replies(out)
    assert reply.text == NOT_FOUND
    assert [c.label for c in reply.choices] == MENU
    after = await _snapshot(world)
    assert after == before
    assert "별명" in texts(await chat.say("110-123-456789"))  # still at the number step


async def test_another_users_token_is_not_found_and_changes_nothing(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """A's "yes, delete" token sent by B (another console user, or the same user key on
    another channel) is "not found": A's certificate stays, B gets no state. A can still
    use it."""
    await register(world.chat("alice"), *pair_files)
    out = await world.handle(_console("alice", command="certs"))
    out = await world.handle(_console("alice", button=_choice(out, "홍길동 · 2026-07-01")))
    out = await world.handle(_console("alice", button=_choice(out, "삭제")))
    delete_yes = _choice(out, "삭제할게요")
    before = await _snapshot(world)
    for intruder in (_console("bob", button=delete_yes),
                     Inbound(Channel.TELEGRAM, "alice", button=delete_yes)):  # fmt: skip
        out = await world.handle(intruder)
        assert _said(out) == NOT_FOUND
    after = await _snapshot(world)
    # Only the intruders' user rows (and their menu buttons) are new.
    assert after["certificates"] == before["certificates"]
    assert after["secrets"] == before["secrets"]
    assert after["states"] == before["states"]
    assert "삭제했어요" in _said(await world.handle(_console("alice", button=delete_yes)))


async def test_a_button_expires_after_a_week(world: World, holder: Holder) -> None:
    """Buttons work for 7 days (a certificate's details button still opens them after six);
    an older one is "not found"."""
    out = await world.handle(_console(documents=(Document("signCert.der", holder.cert_der),)))
    await world.handle(_console(button=_choice(out, "알림용으로만 등록")))
    details = _choice(await world.handle(_console(command="certs")), "홍길동 · 2026-07-01")
    world.clock.advance(days=6)
    assert "알림용으로만 등록되어" in _said(await world.handle(_console(button=details)))
    world.clock.advance(days=1, seconds=1)
    out = await world.handle(_console(button=details))
    assert _said(out) == NOT_FOUND


# --- concurrency and order ------------------------------------------------------------


async def test_two_users_registering_at_once_do_not_interfere(
    world: World, pair_files: tuple[Path, Path], other_pair_files: tuple[Path, Path]
) -> None:
    """Two users upload and type their passwords at the same time: each ends with exactly
    their own certificate, and each transcript speaks only of their own holder."""
    alice, bob = world.chat("alice"), world.chat("bob")
    await asyncio.gather(register(alice, *pair_files), register(bob, *other_pair_files))
    for chat, mine, theirs in ((alice, "홍길동", "김철수"), (bob, "김철수", "홍길동")):
        said = texts(chat.transcript)
        assert mine in said
        assert theirs not in said
        owner = await world.user_id(chat.console.user_key)
        assert owner is not None
        async with world.database.read() as session:
            assert [c.holder for c in await certificates.list_active(session, owner)] == [mine]
    assert await _console_state(world, "alice") is None
    assert await _console_state(world, "bob") is None


async def test_many_users_at_once(world: World, holder: Holder, seed_key: bytes) -> None:
    """Eight users register the same certificate concurrently, one message each at a time
    interleaved: every one of them gets it registered, once."""
    documents = (Document("signCert.der", holder.cert_der), Document("signPri.key", seed_key))
    users = [f"user{n}" for n in range(8)]
    await asyncio.gather(*(world.handle(_console(u, documents=documents)) for u in users))
    outs = await asyncio.gather(*(world.handle(_console(u, message_ref="p", text=PASSWORD))
                                  for u in users))  # fmt: skip
    for out in outs:
        assert "인증서를 등록했어요" in _said(out)
    async with world.database.read() as session:
        owners = (await session.scalars(select(Certificate.owner_id))).all()
    assert len(owners) == len(set(owners)) == 8


async def test_one_users_messages_are_handled_in_order(
    world: World, holder: Holder, seed_key: bytes
) -> None:
    """Messages of one user sent all at once are handled one at a time, in the order they
    came: certificate, key, password, then the list already shows the certificate."""
    inbounds = [
        _console(message_ref="1", documents=(Document("signCert.der", holder.cert_der),)),
        _console(message_ref="2", documents=(Document("signPri.key", seed_key),)),
        _console(message_ref="3", text=PASSWORD),
        _console(message_ref="4", command="certs"),
        _console(message_ref="5", command="privacy"),
    ]
    outs = await asyncio.gather(*(world.handle(i) for i in inbounds))
    assert "개인키 파일(signPri.key)도 10분 안에 보내 주세요" in _said(outs[0])
    assert "인증서 비밀번호를 입력해 주세요" in _said(outs[1])
    assert outs[2][0] == Delete("3", REFUSED_KO)
    assert "인증서를 등록했어요" in _said(outs[2])
    assert "홍길동" in _said(outs[3])
    assert "D-30" in _said(outs[3])
    assert "인증서 1개 (그중 개인키 보관 1개)" in _said(outs[4])
    assert len(world.assistant._locks) == 0  # no lock is kept once nobody waits


# --- rate limit ---------------------------------------------------------------------


async def test_more_than_20_messages_a_minute_on_telegram_are_told_to_slow_down(
    world: World,
) -> None:
    """The 21st message within a minute gets only the polite "too fast" reply; it refills
    at 20 a minute, and other users are not affected."""

    def telegram(user: str) -> Inbound:
        return Inbound(Channel.TELEGRAM, user, text="안녕하세요")

    for _ in range(20):
        assert "무엇을 도와드릴까요?" in _said(await world.handle(telegram("42")))
    out = await world.handle(telegram("42"))
    assert out == [Reply(TOO_FAST)]
    assert "무엇을 도와드릴까요?" in _said(await world.handle(telegram("43")))
    world.clock.advance(seconds=3)  # one message's worth
    assert "무엇을 도와드릴까요?" in _said(await world.handle(telegram("42")))
    assert await world.handle(telegram("42")) == [Reply(TOO_FAST)]


async def test_the_console_is_not_rate_limited(world: World) -> None:
    """A console user (a script) may send as fast as it likes."""
    chat = world.chat()
    for _ in range(40):
        assert "무엇을 도와드릴까요?" in texts(await chat.say("안녕하세요"))


async def test_a_password_sent_while_rate_limited_is_still_deleted(
    world: World, holder: Holder, seed_key: bytes
) -> None:
    """Even over the rate limit, a message sent where a password is expected is deleted."""
    documents = (Document("signCert.der", holder.cert_der), Document("signPri.key", seed_key))
    await world.handle(Inbound(Channel.TELEGRAM, "42", documents=documents))
    for n in range(19):  # photos use up the budget and leave the password step as it is
        photo = Inbound(Channel.TELEGRAM, "42", message_ref=f"p{n}", unsupported=Unsupported.PHOTO)
        await world.handle(photo)
    out = await world.handle(Inbound(Channel.TELEGRAM, "42", message_ref="pw", text=PASSWORD))
    assert Delete("pw", REFUSED_KO) in out  # rate-limited, the password still goes
    assert any(isinstance(o, Reply) and "너무 빨리" in o.text for o in out)


# --- idle expiry and /cancel ----------------------------------------------------------


async def test_idle_flow_expires_after_15_minutes_with_a_note(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """A file held mid-flow is forgotten after 15 idle minutes: the next message gets the
    "expired" note first, the state with its sealed file is gone, and the partner file
    alone no longer completes the pair."""
    cert, key = pair_files
    chat = world.chat()
    await chat.upload(cert)
    saved = await _console_state(world)
    assert saved is not None
    assert saved.secret is not None
    world.clock.advance(minutes=16)
    reply = await chat.say("안녕하세요")
    assert reply[1]["text"].startswith("15분 동안 답이 없어서 하던 일을 정리했어요")
    assert "무엇을 도와드릴까요?" in texts(reply)
    assert await _console_state(world) is None
    async with world.database.read() as session:
        assert await session.scalar(select(sa.func.count()).select_from(ConversationState)) == 0
    assert "signCert.der)도 보내 주세요" in texts(await chat.upload(key))


async def test_a_flow_idle_for_14_minutes_continues(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """Under 15 minutes nothing expires: the password still registers, no note is shown."""
    chat = world.chat()
    await chat.upload(*pair_files)
    world.clock.advance(minutes=14)
    reply = await chat.say(PASSWORD)
    assert "15분" not in texts(reply)
    assert "등록했어요" in texts(reply)


@pytest.mark.parametrize("step", ["new", "current"])
async def test_a_password_typed_after_an_export_expired_is_still_deleted(
    world: World, pair_files: tuple[Path, Path], step: str
) -> None:
    """Asked for the PFX password (or the certificate password), away 16 minutes, then
    typing it: the message is deleted and masked all the same, and nothing is exported."""
    chat = world.chat()
    await register(chat, *pair_files)
    await chat.say("/export")
    await chat.press("PFX 파일")
    if step == "current":
        await chat.say("new-pfx-password")
        await chat.say("new-pfx-password")
    world.clock.advance(minutes=16)
    reply = await chat.say(PASSWORD)
    assert reply[0] == {"type": "user", "text": "••••••"}
    assert reply[1]["type"] == "delete"
    assert "15분 동안 답이 없어서" in texts(reply)
    assert not [e for e in reply if e["type"] == "document"]
    assert PASSWORD not in str(chat.transcript)
    assert "무엇을 도와드릴까요?" in texts(await chat.say("안녕하세요"))  # the next one is not


async def test_cancel_leaves_the_flow_and_shreds_its_files(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """/cancel mid-flow clears the state and the sealed files waiting in it; with nothing
    going on it says there was nothing to cancel. Both show the main menu."""
    chat = world.chat()
    reply = await chat.say("/cancel")
    assert "취소할 진행 중인 일이 없어요" in texts(reply)
    assert buttons(reply) == MENU
    await chat.say("/remind")  # a flow that holds nothing: no claim that something was deleted
    await chat.press("직접 정하기")
    assert texts(await chat.say("/cancel")) == "진행하던 일을 취소했어요."
    await chat.upload(*pair_files)
    assert (await _console_state(world)) is not None
    reply = await chat.say("/cancel")
    assert "진행하던 일을 취소했어요. 맡아 두었던 파일과 정보는 지웠어요." in texts(reply)
    assert buttons(reply) == MENU
    assert await _console_state(world) is None
    async with world.database.read() as session:
        assert await session.scalar(select(sa.func.count()).select_from(ConversationState)) == 0
    assert "무엇을 도와드릴까요?" in texts(await chat.say(PASSWORD))  # not taken as a password


# --- fallbacks ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inbound", "expected"),
    [
        (_console(command="frobnicate"), "모르는 명령이에요"),
        (_console(command="START"), "안녕하세요, certmate예요"),
        (_console(unsupported=Unsupported.PHOTO), "사진은 받을 수 없어요"),
        (_console(unsupported=Unsupported.STICKER), "스티커 고마워요"),
        (_console(unsupported=Unsupported.OVERSIZED), "파일이 너무 커요"),
        (_console(unsupported=Unsupported.OTHER), "이 메시지는 처리할 수 없어요"),
        (_console(), "이 메시지는 처리할 수 없어요"),
        (_console(text="ㅎㅇ 뭐하는 봇이에요?"), "무엇을 도와드릴까요?"),
        (_console(text=""), "무엇을 도와드릴까요?"),
        (_console(text="\x00\u202e" * 500), "무엇을 도와드릴까요?"),
    ],
)
async def test_anything_unexpected_gets_a_helpful_reply_with_the_menu(
    world: World, inbound: Inbound, expected: str
) -> None:
    """Unknown commands, photos, stickers, oversized files, odd or empty text: a helpful
    reply (never silence, never an exception), with the main menu."""
    out = await world.handle(inbound)
    assert expected in _said(out)
    assert [c.label for c in _replies(out)[-1].choices] in (MENU, ["안드로이드", "아이폰", "PC"])


@pytest.mark.parametrize(
    "documents",
    [
        (Document("signCert.der", b"not a certificate"),),
        (Document("signCert.der", b""), Document("signPri.key", b"\x30\x80")),
        (Document("npki.zip", b"PK\x03\x04" + b"\x00" * 40),),
        (Document("cert.pfx", b"\x30\x82\xff\xff" + b"\x01" * 64),),
        (Document("readme.txt", "안녕".encode()),),
        (Document("../../etc/passwd", b"root:x:0:0"),),
    ],
)
async def test_hostile_or_broken_uploads_are_answered(
    world: World, documents: tuple[Document, ...]
) -> None:
    """Broken certificates, archives and PFX files, and files that are none of these, are
    answered with a message (and never stored), not an exception."""
    out = await world.handle(_console(documents=documents))
    assert _replies(out), out
    async with world.database.read() as session:
        assert await session.scalar(select(sa.func.count()).select_from(Certificate)) == 0


async def test_an_oversized_upload_through_the_console(world: World, tmp_path: Path) -> None:
    """The console does not send a file over the upload limit; the user is told it is too
    large, with the main menu."""
    big = tmp_path / "signCert.der"
    big.write_bytes(b"\x30" * (1024 * 1024 + 1))
    chat = world.chat()
    reply = await chat.upload(big)
    assert reply[0] == {"type": "user", "upload": ["signCert.der"]}
    assert "파일이 너무 커요" in texts(reply)
    assert buttons(reply) == MENU


async def test_unexpected_input_inside_a_flow_keeps_the_flow(
    world: World, pair_files: tuple[Path, Path], other_pair_files: tuple[Path, Path]
) -> None:
    """Text where a button is expected gets a hint to follow the step or /cancel, with
    the menu; the flow is kept and the right answer still works."""
    chat = world.chat()
    await register(chat, *pair_files)
    await register(chat, *other_pair_files)
    await chat.say("/link")  # asks which certificate
    reply = await chat.say("뭘 눌러야 하죠")
    assert "지금 단계에서 기대한 답이 아니에요" in texts(reply)
    assert (await _console_state(world)) is not None
    for unexpected in (_console(unsupported=Unsupported.STICKER), _console(command="nope")):
        await world.handle(unexpected)
    saved = await _console_state(world)
    assert saved is not None
    assert (saved.flow, saved.step) == ("link", "pick_cert")
    out = await world.handle(_console(command="link"))
    out = await world.handle(_console(button=_choice(out, "김철수 · 2026-07-01")))
    assert "은행이나 증권사를 골라 주세요" in _said(out)


# --- group chats --------------------------------------------------------------------


async def test_a_certificate_posted_in_a_group_is_deleted_and_not_read(
    world: World, holder: Holder, seed_key: bytes
) -> None:
    """In a group the document message is deleted and the user is told to use a private
    chat; no certificate, conversation state or button is stored."""
    documents = (Document("signCert.der", holder.cert_der), Document("signPri.key", seed_key))
    group = Inbound(Channel.TELEGRAM, "42", message_ref="g1", documents=documents, private=False)
    out = await world.handle(group)
    assert out[0] == Delete("g1", REFUSED_KO)
    assert "단체 대화방에 올린 인증서 파일을 지웠어요" in _said(out)
    assert "1:1 대화에서만" in _said(out)
    async with world.database.read() as session:
        for model in (Certificate, CertificateSecret, ConversationState, ButtonToken, User):
            assert await session.scalar(select(sa.func.count()).select_from(model)) == 0, model


async def test_group_members_who_write_are_not_stored_as_users(world: World) -> None:
    """Issue 14 item 11: a member's command or text in a group is answered (or ignored)
    without making them a user: no row, so no reminder or notice is ever kept for them."""
    for inbound in (
        Inbound(Channel.TELEGRAM, "77", command="start", private=False),
        Inbound(Channel.TELEGRAM, "78", message_ref="t", text="안녕하세요", private=False),
    ):
        await world.handle(inbound)
    async with world.database.read() as session:
        assert await session.scalar(select(sa.func.count()).select_from(User)) == 0


async def test_a_group_never_reads_text_or_commands(
    world: World, holder: Holder, seed_key: bytes
) -> None:
    """A command in a group points to a private chat; text in a group is not read, not even
    as the password a private flow is waiting for."""
    documents = (Document("signCert.der", holder.cert_der), Document("signPri.key", seed_key))
    await world.handle(Inbound(Channel.TELEGRAM, "42", documents=documents))
    command = Inbound(Channel.TELEGRAM, "42", command="certs", private=False)
    assert "1:1 대화에서만 쓸 수 있어요" in _said(await world.handle(command))
    text = Inbound(Channel.TELEGRAM, "42", message_ref="g2", text=PASSWORD, private=False)
    assert await world.handle(text) == []
    async with world.database.read() as session:
        assert await session.scalar(select(sa.func.count()).select_from(Certificate)) == 0
        saved = await conversations.load(
            session, world.assistant.services.vault, Channel.TELEGRAM, "42"
        )
    assert saved is not None
    assert saved.step == "password"


async def test_restart_keeps_button_tokens_and_state(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """Tokens and state live in the database: after a restart a button shown before still
    works, in the flow the user was in."""
    chat = world.chat()
    await register(chat, *pair_files)
    await chat.say("/certs")
    await chat.press("홍길동 · 2026-07-01")
    await chat.press("삭제")
    world.restart()
    assert "삭제했어요" in texts(await chat.press("삭제할게요"))
    async with world.database.read() as session:
        assert await session.scalar(select(sa.func.count()).select_from(Certificate)) == 0


async def test_the_rate_limit_reply_is_in_the_users_language(world: World) -> None:
    """An English-speaking user who sends too fast is told so in English."""
    await world.handle(Inbound(Channel.TELEGRAM, "42", command="lang", args="en"))
    for _ in range(19):
        await world.handle(Inbound(Channel.TELEGRAM, "42", text="hi"))
    out = await world.handle(Inbound(Channel.TELEGRAM, "42", text="hi"))
    assert out == [Reply("Messages are coming in too fast. Please try again in a minute.")]


async def test_a_password_that_looks_like_a_command_is_still_deleted(
    world: World, holder: Holder, seed_key: bytes
) -> None:
    """Telegram marks `/abc x` as a command; where a password is awaited, an unknown command
    is the password: deleted from the chat and tried, not answered as an unknown command."""
    documents = (Document("signCert.der", holder.cert_der), Document("signPri.key", seed_key))
    await world.handle(Inbound(Channel.TELEGRAM, "42", documents=documents))
    out = await world.handle(
        Inbound(Channel.TELEGRAM, "42", message_ref="c", command="notthe", args="password")
    )
    assert Delete("c", REFUSED_KO) in out
    assert "비밀번호가 맞지 않아요" in _said(out)
    out = await world.handle(Inbound(Channel.TELEGRAM, "42", message_ref="d", command="certs"))
    assert not any(isinstance(o, Delete) for o in out)  # our own commands still work


# --- what a step was about is gone ----------------------------------------------------


async def _delete_the_certificate(world: World) -> None:
    out = await world.handle(_console(command="certs"))
    out = await world.handle(_console(button=_choice(out, "홍길동 · 2026-07-01")))
    out = await world.handle(_console(button=_choice(out, "삭제")))
    out = await world.handle(_console(button=_choice(out, "삭제할게요")))
    assert "삭제했어요" in " ".join(r.text for r in _replies(out)), out


async def test_a_button_for_a_deleted_certificate_is_answered_once_by_the_engine(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """A button shown before its certificate was deleted (in the list): "not found"
    with the main menu, said once by the engine (it used to be copied in each flow), and
    no flow left going."""
    await register(world.chat(), *pair_files)
    out = await world.handle(_console(command="certs"))
    stale = _choice(out, "홍길동 · 2026-07-01")
    await _delete_the_certificate(world)
    out = await world.handle(_console(button=stale))
    said = [r.text for r in _replies(out)]
    expected = world.assistant.services.catalog.texts("ko")("button.not_found")
    assert said.count(expected) == 1, said
    assert buttons_of(out), "the main menu comes with it"
    assert await _console_state(world) is None


async def test_a_password_typed_for_a_deleted_certificate_is_taken_off_the_chat(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """The export waits for the certificate's password (PFX); meanwhile the certificate
    is deleted (another device, the page): the password typed now is deleted from the
    chat and the user told the certificate is gone."""
    await register(world.chat(), *pair_files)
    out = await world.handle(_console(command="export"))
    out = await world.handle(_console(button=_choice(out, "PFX 파일")))
    out = await world.handle(_console(message_ref="new", text="new-pfx-pass"))
    out = await world.handle(_console(message_ref="again", text="new-pfx-pass"))
    assert any(r.expects_secret for r in _replies(out)), out  # now the certificate's
    async with world.database.write() as session:
        await certificates.delete(session, 1, 1)
    out = await world.handle(_console(message_ref="pw", text=PASSWORD))
    assert [o for o in out if isinstance(o, Delete) and o.message_ref == "pw"], out
    expected = world.assistant.services.catalog.texts("ko")("button.not_found")
    assert expected in [r.text for r in _replies(out)], out


def buttons_of(out: list[Outbound]) -> list[str]:
    return [c.label for r in _replies(out) for c in r.choices]
