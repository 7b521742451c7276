"""Link an account (/link, 계좌 연결하기): institution, certificate, number, nickname."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.institutions import load_directory
from handlers.messages import Delete, Inbound, Outbound, Reply
from storage import accounts, certificates
from storage.models import AccountKind, AccountState, Channel, LinkedAccount
from tests.handlers.harness import (
    World,
    buttons,
    link_account,
    register,
    register_reminders_only,
    texts,
)

NUMBER = "110-123-456789"
MASKED = "110-***-***789"
POPULAR = ["KB국민은행", "신한은행", "우리은행", "하나은행", "NH농협은행", "IBK기업은행",
           "카카오뱅크", "토스뱅크"]  # fmt: skip


async def _accounts(world: World, user: str = "console") -> list[LinkedAccount]:
    owner = await world.user_id(user)
    assert owner is not None
    async with world.database.read() as session:
        rows: list[LinkedAccount] = []
        for row in await certificates.list_active(session, owner):
            assert row.id is not None
            rows.extend(await accounts.list_for_certificate(session, owner, row.id))
        return rows


async def test_pick_a_bank_by_button_and_skip_number_and_nickname(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """With one certificate /link goes straight to the institutions (popular banks, brokers,
    another way); a bank pressed, both optional steps skipped: linked without number."""
    chat = world.chat()
    await register(chat, *pair_files)
    reply = await chat.say("/link")
    assert "은행이나 증권사를 골라 주세요" in texts(reply)
    assert buttons(reply) == [*POPULAR, "증권사", "다른 방법으로 연결"]
    reply = await chat.press("신한은행")
    assert "신한은행 계좌번호를 입력해 주세요" in texts(reply)
    assert buttons(reply) == ["건너뛰기"]
    assert "별명" in texts(await chat.press("건너뛰기"))
    reply = await chat.press("건너뛰기")
    assert "신한은행을 연결했어요." in texts(reply)
    assert buttons(reply)[:2] == ["다른 기관도 연결", "인증서 등록"]
    (account,) = await _accounts(world)
    assert (account.institution_code, account.kind) == ("088", AccountKind.BANK)
    assert (account.number_masked, account.number_sealed, account.nickname) == (None, None, None)
    assert account.state is AccountState.LINKED


@pytest.mark.parametrize(
    ("typed", "offered"),
    [
        ("신한", ["신한은행", "신한투자증권"]),
        ("kb", ["KB국민은행", "KB증권", "케이뱅크"]),
        ("KB ", ["KB국민은행", "KB증권", "케이뱅크"]),
        ("토스", ["토스뱅크", "토스증권"]),
    ],
)
async def test_part_of_a_name_offers_the_matches(
    world: World, pair_files: tuple[Path, Path], typed: str, offered: list[str]
) -> None:
    """Typing part of a name shows the matching institutions as buttons, banks first."""
    chat = world.chat()
    await register(chat, *pair_files)
    await chat.say("/link")
    reply = await chat.say(typed)
    assert f"'{typed.strip()}' 검색 결과예요" in texts(reply)
    assert buttons(reply) == offered
    assert f"{offered[1]} 계좌번호" in texts(await chat.press(offered[1]))


@pytest.mark.parametrize(("typed", "name"), [("국민", "KB국민은행"), ("신한은행", "신한은행"),
                                             ("키움", "키움증권")])  # fmt: skip
async def test_a_single_match_goes_straight_to_the_number(
    world: World, pair_files: tuple[Path, Path], typed: str, name: str
) -> None:
    """When only one institution matches what was typed, it is taken without a button."""
    chat = world.chat()
    await register(chat, *pair_files)
    await chat.say("/link")
    assert f"{name} 계좌번호를 입력해 주세요" in texts(await chat.say(typed))


async def test_an_institution_code_is_found_too(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """The 3-digit code (088) is a name like any other: it goes straight to 신한은행.

    Sent as a text Inbound: the console reads a bare number as a button press
    (see tests/bot/test_chat_cli.py::test_an_institution_code_in_a_script_is_a_message)."""
    chat = world.chat()
    await register(chat, *pair_files)
    await chat.say("/link")
    out = await world.handle(Inbound(Channel.CONSOLE, "console", message_ref="c1", text="088"))
    assert [o.text for o in out if isinstance(o, Reply)] == [
        "신한은행 계좌번호를 입력해 주세요 (숫자와 - 만). 암호화해서 보관하고, 가려서 보여 드려요."
        " 없어도 돼요."
    ]
    await chat.say(NUMBER)
    await chat.say("월급")
    (account,) = await _accounts(world)
    assert account.institution_code == "088"


async def test_no_match_offers_the_full_list(world: World, pair_files: tuple[Path, Path]) -> None:
    """A name that matches nothing says so and offers 'link another way'; the user can
    then type again."""
    chat = world.chat()
    await register(chat, *pair_files)
    await chat.say("/link")
    reply = await chat.say("없는은행이름")
    assert "검색 결과가 없어요" in texts(reply)
    assert buttons(reply) == ["다른 방법으로 연결"]
    assert "우리은행 계좌번호" in texts(await chat.say("우리은행"))


async def test_another_way_lists_every_institution(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """'다른 방법으로 연결' lists every bank and every securities firm of the directory (as
    Toss does); '증권사' lists the securities firms alone. Any of them can be picked."""
    directory = load_directory()
    banks = [i.name("ko") for i in directory.by_kind("bank")]
    firms = [i.name("ko") for i in directory.by_kind("securities")]
    chat = world.chat()
    await register(chat, *pair_files)
    await chat.say("/link")
    reply = await chat.press("다른 방법으로 연결")
    lists = [e for e in reply if e["type"] == "text"]
    assert [(e["text"], e["buttons"]) for e in lists] == [("은행", banks), ("증권사", firms)]
    assert len(banks) >= 20
    assert len(firms) >= 20
    assert "미래에셋증권 계좌번호" in texts(await chat.press("미래에셋증권"))
    await chat.press("건너뛰기")
    await chat.press("건너뛰기")
    (account,) = await _accounts(world)
    assert account.kind is AccountKind.SECURITIES

    await chat.say("/link")
    reply = await chat.press("증권사")
    assert (texts(reply), buttons(reply)) == ("증권사", firms)


def _text(text: str, ref: str = "t1") -> Inbound:
    """A plain text message from the console user (never read as a button press)."""
    return Inbound(Channel.CONSOLE, "console", message_ref=ref, text=text)


def _said(out: list[Outbound]) -> str:
    return "\n".join(o.text for o in out if isinstance(o, Reply))


@pytest.mark.parametrize(
    "bad", ["12ab", "12345", "110--123-456", "-110123456", "110-123-", "1" * 21, "계좌", "1 2 3"]
)
async def test_a_bad_account_number_is_asked_again(
    world: World, pair_files: tuple[Path, Path], bad: str
) -> None:
    """Letters, fewer than 6 or more than 20 digits, doubled, leading or trailing hyphens:
    deleted from the chat all the same (a mistyped number is most of one), asked again with
    the skip button, and the flow stays at the number (a good one goes on)."""
    chat = world.chat()
    await register(chat, *pair_files)
    await chat.say("/link")
    await chat.say("신한은행")
    inbound = _text(bad)
    out = await world.handle(inbound)
    assert "계좌번호는 숫자 6~20자리예요" in _said(out)
    deleted, reply = out
    assert isinstance(deleted, Delete)
    assert deleted.message_ref == inbound.message_ref
    assert "계좌번호가 담긴 메시지는 직접 지워 주세요" in deleted.if_refused
    assert isinstance(reply, Reply)
    assert [c.label for c in reply.choices] == ["건너뛰기"]
    assert "별명" in texts(await chat.say(NUMBER))


async def test_digits_only_and_spaced_numbers_are_accepted(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """6 to 20 digits without hyphens, or with spaces between groups, are account numbers:
    masked keeping the first and last three digits."""
    chat = world.chat()
    await register(chat, *pair_files)
    for number, masked in (("1101234567", "110****567"), ("110 123 456789", "110******789")):
        await chat.say("/link")
        await chat.say("신한은행")
        assert "별명" in _said(await world.handle(_text(number)))
        assert f"(생활비 {masked})" in _said(await world.handle(_text("생활비", ref="t2")))
    assert [a.number_masked for a in await _accounts(world)] == ["110****567", "110******789"]


async def test_account_number_is_stored_sealed_and_shown_masked(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """A good number is sealed (not in the database, its WAL or anywhere on disk), revealable
    by its owner, and shown only masked (110-***-***789) with the nickname."""
    chat = world.chat()
    await register(chat, *pair_files)
    reply = await link_account(chat, "신한은행", number=NUMBER, nickname="월급")
    assert "신한은행을 연결했어요 (월급 110-***-***789)." in texts(reply)
    (account,) = await _accounts(world)
    assert (account.number_masked, account.nickname) == (MASKED, "월급")
    assert account.id is not None
    async with world.database.read() as session:
        revealed = await accounts.reveal_number(
            session, world.assistant.services.vault, account.owner_id, account.id
        )
    assert revealed == NUMBER
    disk = world.disk_bytes()
    assert any(path.name.startswith("certmate.db") for path in disk)
    for needle in (NUMBER, NUMBER.replace("-", ""), "123-456789"):
        assert not [p for p, data in disk.items() if needle.encode() in data], needle


async def test_restart_between_number_and_nickname_keeps_the_number(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """The number waits sealed in the conversation state: a restart before the nickname
    loses nothing."""
    chat = world.chat()
    await register(chat, *pair_files)
    await chat.say("/link")
    await chat.say("신한은행")
    await chat.say(NUMBER)
    world.restart()
    await chat.say("비상금")
    (account,) = await _accounts(world)
    assert (account.number_masked, account.nickname) == (MASKED, "비상금")


async def test_several_certificates_pick_one_first(
    world: World, pair_files: tuple[Path, Path], other_pair_files: tuple[Path, Path]
) -> None:
    """With several certificates /link asks which one first; the account goes to that one."""
    chat = world.chat()
    await register(chat, *pair_files)
    await register_reminders_only(chat, other_pair_files[0])
    reply = await chat.say("/link")
    assert "어떤 인증서에 연결할까요?" in texts(reply)
    assert buttons(reply) == ["홍길동 · 2026-07-01", "김철수 · 2026-07-01"]
    assert "은행이나 증권사를 골라 주세요" in texts(await chat.press("김철수 · 2026-07-01"))
    await chat.say("신한은행")
    await chat.press("건너뛰기")
    await chat.say("생활비")
    owner = await world.user_id()
    assert owner is not None
    async with world.database.read() as session:
        hong, kim = await certificates.list_active(session, owner)
        assert hong.holder == "홍길동"
        assert hong.id is not None
        assert kim.id is not None
        assert await accounts.list_for_certificate(session, owner, hong.id) == []
        (account,) = await accounts.list_for_certificate(session, owner, kim.id)
    assert account.nickname == "생활비"


async def test_link_from_details_and_link_another(
    world: World, pair_files: tuple[Path, Path], other_pair_files: tuple[Path, Path]
) -> None:
    """'계좌 연결하기' in a certificate's details skips the certificate question, and
    '다른 기관도 연결' after linking starts again for the same certificate."""
    chat = world.chat()
    await register(chat, *pair_files)
    await register_reminders_only(chat, other_pair_files[0])
    await chat.say("/certs")
    await chat.press("김철수 · 2026-07-01")
    assert "은행이나 증권사를 골라 주세요" in texts(await chat.press("계좌 연결하기"))
    await chat.press("우리은행")
    await chat.press("건너뛰기")
    await chat.press("건너뛰기")
    assert "은행이나 증권사를 골라 주세요" in texts(await chat.press("다른 기관도 연결"))
    await chat.press("하나은행")
    await chat.press("건너뛰기")
    await chat.press("건너뛰기")
    owner = await world.user_id()
    assert owner is not None
    async with world.database.read() as session:
        _hong, kim = await certificates.list_active(session, owner)
        assert kim.id is not None
        linked = await accounts.list_for_certificate(session, owner, kim.id)
    assert [a.institution_code for a in linked] == ["020", "081"]


async def test_no_certificate_no_link(world: World) -> None:
    """Without a certificate there is nothing to link: the user is sent to register first."""
    reply = await world.chat().say("/link")
    assert "먼저 인증서를 등록해 주세요" in texts(reply)
    assert buttons(reply) == ["인증서 등록"]


async def test_a_search_with_more_matches_than_shown_says_so(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """Issue 14 item 8: "증권" matches 31 firms; 8 are shown, the answer says there are
    more and offers the full list."""
    chat = world.chat()
    await register(chat, *pair_files)
    await chat.say("/link")
    reply = await chat.say("증권")
    assert "'증권' 검색 결과가 많아서 8곳만 보여 드려요" in texts(reply)
    assert len(buttons(reply)) == 9
    assert buttons(reply)[-1] == "다른 방법으로 연결"
