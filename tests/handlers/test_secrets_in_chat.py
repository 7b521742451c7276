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
    await chat.press("PFX (아이폰·맥)")
    await chat.say(PFX_PASSWORD)
    await chat.say(PASSWORD)
    await chat.say("/export")
    await chat.press("NPKI (zip)")
    await chat.say("/export")
    await chat.press("PFX (아이폰·맥)")
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
    assert len(masked) == len(deletes) == 6  # five passwords and the account number
