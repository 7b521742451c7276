"""Passwords typed in chat never reach the disk or the transcript, whatever the session did."""

from __future__ import annotations

import json
from pathlib import Path

from tests.handlers.conftest import PASSWORD
from tests.handlers.harness import World, link_account, texts

PFX_PASSWORD = "pfx-secret-7Qz!"  # noqa: S105  (a test password)
WRONG = "wrong-guess-4Kd#"
NUMBER = "110-987-654321"


async def test_no_password_on_disk_or_in_the_transcript(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """A session registers a certificate (after a wrong try), links an account with its
    number, exports a PFX and an NPKI zip, and leaves a flow waiting for a password. Then
    every file of the deployment (database, WAL, key file, everything but the exported
    files) is scanned: no password, no wrong guess, no account number; and no transcript
    entry holds a password."""
    chat = world.chat()
    await chat.say("/start")
    await chat.press("아이폰")
    await chat.upload(*pair_files)
    assert "(1/5)" in texts(await chat.say(WRONG))
    assert "등록했어요" in texts(await chat.say(PASSWORD))
    await link_account(chat, "신한은행", number=NUMBER, nickname="월급")
    await chat.say("/export")
    await chat.press("PFX 파일")
    await chat.say(PFX_PASSWORD)
    await chat.say(PFX_PASSWORD)
    await chat.say(PASSWORD)
    await chat.say("/export")
    await chat.press("NPKI (zip)")
    await chat.say("/export")
    await chat.press("PFX 파일")
    await chat.say(PFX_PASSWORD)
    await chat.say(PFX_PASSWORD)  # left waiting, sealed, for the certificate password
    exported = tuple(
        Path(e["path"]) for e in chat.transcript if e["type"] == "document"
    )  # fmt: skip
    assert [p.suffix for p in exported] == [".pfx", ".zip"]

    needles = {
        "certificate password": PASSWORD.encode(),
        "PFX password": PFX_PASSWORD.encode(),
        "wrong password": WRONG.encode(),
        "account number": NUMBER.encode(),
        "account digits": NUMBER.replace("-", "").encode(),
    }
    for when in ("open", "closed"):
        disk = world.disk_bytes(skip=exported)
        names = {p.name for p in disk}
        assert {"certmate.db", "master.key"} <= names, names
        if when == "open":
            assert "certmate.db-wal" in names
        leaks = [(what, path.name) for path, data in disk.items()
                 for what, needle in needles.items() if needle in data]  # fmt: skip
        assert leaks == [], when
        await world.database.close()

    transcript = json.dumps(chat.transcript, ensure_ascii=False)
    for secret in (PASSWORD, PFX_PASSWORD, WRONG, NUMBER):
        assert secret not in transcript
    masked = [e for e in chat.transcript if e == {"type": "user", "text": "••••••"}]
    deletes = [e for e in chat.transcript if e["type"] == "delete"]
    assert len(masked) == len(deletes) == 8  # seven passwords (the PFX ones twice), the number


async def test_a_password_typed_after_an_unreadable_file_is_still_deleted(
    world: World, tmp_path: Path
) -> None:
    """A file certmate cannot read ends the flow; the user types their password anyway:
    it is deleted (masked in the transcript) and they are told nothing waits for one. A
    line that does not look like a password is answered as usual, and so is a password
    typed after the ten minutes."""
    broken = tmp_path / "signCert.der"
    broken.write_bytes(b"not a certificate at all")
    chat = world.chat()
    assert "파일을 열 수 없어요" in texts(await chat.upload(broken))
    reply = await chat.say(PASSWORD)
    assert reply[0] == {"type": "user", "text": "••••••"}
    assert reply[1]["type"] == "delete"
    assert "비밀번호처럼 보여서 메시지를 지웠어요" in texts(reply)
    assert "무엇을 도와드릴까요?" in texts(await chat.say("안녕하세요"))

    await chat.upload(broken)
    world.clock.advance(minutes=11)
    assert [e["type"] for e in await chat.say(PASSWORD)][:2] == ["user", "text"]


async def test_a_password_typed_after_a_lockout_is_still_deleted(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """Five wrong passwords end the flow with a lockout; a sixth try typed afterwards is
    deleted too."""
    chat = world.chat()
    await chat.upload(*pair_files)
    for n in range(5):
        reply = await chat.say(f"{WRONG}{n}")
    assert "잠시 후에" in texts(reply) or "잠겼" in texts(reply), texts(reply)
    reply = await chat.say(PASSWORD)
    assert reply[0] == {"type": "user", "text": "••••••"}
    assert PASSWORD not in json.dumps(chat.transcript, ensure_ascii=False)


async def test_an_account_number_is_deleted_and_masked(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """The account number typed in /link is taken off the chat and masked in the
    transcript, like a password; the nickname is not."""
    chat = world.chat()
    await chat.upload(*pair_files)
    await chat.say(PASSWORD)
    reply = await link_account(chat, "신한은행", number=NUMBER, nickname="월급")
    users_lines = [e for e in reply if e["type"] == "user"]
    assert {"type": "user", "text": "••••••"} in users_lines
    assert {"type": "user", "text": "월급"} in users_lines
    assert NUMBER not in json.dumps(chat.transcript, ensure_ascii=False)


async def test_the_console_hides_typing_while_a_password_is_still_awaited(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """Asked for a password, the user sends something the step does not take (a file
    too large): the answer does not ask again, yet the flow still waits for the password,
    so the console keeps reading without echo."""
    chat = world.chat()
    await chat.upload(*pair_files)
    assert chat.console.expects_secret
    large = pair_files[0].parent / "huge.der"
    large.write_bytes(b"x" * (2 * 1024 * 1024))
    assert "파일이 너무 커요" in texts(await chat.upload(large))
    assert chat.console.expects_secret
    assert "등록했어요" in texts(await chat.say(PASSWORD))
