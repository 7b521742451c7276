"""The thief's test over Telegram: passwords typed in chat are gone from disk once handled.

The real channel (python-telegram-bot, the inbox, the assistant, a SQLite
file) talks to the local fake Bot API. Right after the conversation, the
database, its WAL and shared-memory files are copied, as a thief who also
has the key file would, and carved (tests/carver.py): every sealed blob
whose data key still unwraps under any binding the thief can reconstruct is
decrypted, and every file is searched in the clear.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.channels.telegram import TelegramChannel
from storage.models import Channel
from tests import carver, factory
from tests.bot.channels.test_telegram import USER, _buttons, _channel, _exchange, _press, _texts
from tests.conftest import Holder
from tests.fakes.telegram import FakeBotApi
from tests.handlers.harness import World

PASSWORD = "certificate-pw-3Xv!"  # noqa: S105  (a test password)
WRONG = "wrong-guess-8Lm#"
PFX_PASSWORD = "new-pfx-pw-5Tq%"  # noqa: S105


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as fake:
        yield fake


@pytest.fixture
def pair(holder: Holder) -> tuple[bytes, bytes]:
    """The holder's signCert.der, and signPri.key under this test's own password."""
    return holder.cert_der, factory.seed_cbc_sha1_key(holder.plain, PASSWORD.encode())


@pytest.fixture
async def polling(world: World, api: FakeBotApi) -> AsyncIterator[TelegramChannel]:
    channel = _channel(world, api)
    await channel.start()
    try:
        yield channel
    finally:
        await channel.stop(grace=5)


def _carve(world: World, into: Path, update_ids: range) -> list[carver.Find]:
    copied = carver.copy_sqlite_files(world.folder, into)
    assert "certmate.db" in copied
    bindings = carver.bindings_for(
        Channel.TELEGRAM, [str(USER)], update_ids, carver.link_digests(copied)
    )
    keyring = carver.keyring_of(world.folder / "master.key")
    return carver.carve(copied, keyring, bindings, [PASSWORD, WRONG, PFX_PASSWORD])


async def test_typed_passwords_cannot_be_carved_from_a_copy_after_the_flow(
    api: FakeBotApi,
    polling: TelegramChannel,
    world: World,
    pair: tuple[bytes, bytes],
    tmp_path: Path,
) -> None:
    """Register over Telegram (a wrong try, then the password), then export a PFX with a
    new password: as soon as the last update is handled, a copy of certmate.db, -wal and
    -shm gives up none of the three, not even with the key file."""
    channel = polling
    await _exchange(api, channel, api.document_update(USER, "signCert.der", pair[0]))
    await _exchange(api, channel, api.document_update(USER, "signPri.key", pair[1]))
    assert "(1/5)" in _texts(await _exchange(api, channel, api.text_update(USER, WRONG)))
    typed = api.text_update(USER, PASSWORD)
    assert "등록했어요" in _texts(await _exchange(api, channel, typed))
    assert (USER, typed["message"]["message_id"]) in api.deleted
    sent = await _exchange(api, channel, api.text_update(USER, "/export"))
    sent = await _press(api, channel, sent, "PFX")
    await _exchange(api, channel, api.text_update(USER, PFX_PASSWORD))
    await _exchange(api, channel, api.text_update(USER, PFX_PASSWORD))  # typed twice
    last = api.text_update(USER, PASSWORD)
    await _exchange(api, channel, last)
    assert [name for name, _ in api.sent_documents(USER)] == ["홍길동-2026-07-01.pfx"]

    finds = _carve(world, tmp_path / "thief", range(1, last["update_id"] + 1))
    assert finds == []


async def test_the_carver_finds_a_password_still_waiting(
    api: FakeBotApi,
    polling: TelegramChannel,
    world: World,
    pair: tuple[bytes, bytes],
    tmp_path: Path,
) -> None:
    """The carver is real: a PFX password legitimately waiting (sealed in the conversation
    for the next step) is found in a copy, through the conversation's binding."""
    channel = polling
    await _exchange(api, channel, api.document_update(USER, "signCert.der", pair[0]))
    await _exchange(api, channel, api.document_update(USER, "signPri.key", pair[1]))
    await _exchange(api, channel, api.text_update(USER, PASSWORD))
    sent = await _exchange(api, channel, api.text_update(USER, "/export"))
    assert _buttons(sent)
    sent = await _press(api, channel, sent, "PFX")
    last = api.text_update(USER, PFX_PASSWORD)
    await _exchange(api, channel, last)

    finds = _carve(world, tmp_path / "thief", range(1, last["update_id"] + 1))
    assert carver.Find(PFX_PASSWORD, "certmate.db", f"conversation telegram:{USER}") in finds or (
        carver.Find(PFX_PASSWORD, "certmate.db-wal", f"conversation telegram:{USER}") in finds
    )
