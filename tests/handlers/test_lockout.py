"""The wrong-password lockout cannot be reset, nor used as an oracle (issue 11, item 6).

Each test performs what a thief holding someone's files would try: change a
byte of a locked file, pair the locked key with another certificate, spread
guesses over many keys, or read the answer to a key that is not its
certificate's to learn whether the password was right.
"""

from __future__ import annotations

from pathlib import Path

from tests import factory
from tests.conftest import Holder
from tests.handlers.conftest import PASSWORD
from tests.handlers.harness import Chat, World, texts

LOCKED = "잠겼어요"


def _write(folder: Path, files: dict[str, bytes]) -> list[Path]:
    folder.mkdir(parents=True)
    paths = []
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    return paths


async def _lock(chat: Chat, paths: list[Path]) -> None:
    """Upload and type five wrong passwords: the key is locked."""
    await chat.upload(*paths)
    for attempt in range(1, 5):
        assert f"({attempt}/5)" in texts(await chat.say("wrong-password"))
    assert LOCKED in texts(await chat.say("wrong-password"))


async def test_a_byte_appended_to_a_locked_pfx_finds_it_still_locked(
    world: World, holder: Holder, tmp_path: Path
) -> None:
    """A PFX locked by five wrong passwords, sent again with a byte appended (new file
    bytes, the same key inside): still locked, the right password not even tried."""
    pfx = factory.openssl_pfx(holder.key, holder.cert, PASSWORD, cipher="aes")
    chat = world.chat()
    await _lock(chat, _write(tmp_path / "a", {"me.pfx": pfx}))
    reply = await chat.upload(*_write(tmp_path / "b", {"me.pfx": pfx + b"\x00"}))
    reply += await chat.say(PASSWORD)
    assert LOCKED in texts(reply)
    assert "등록했어요" not in texts(reply)


async def test_the_locked_key_paired_with_another_certificate_is_still_locked(
    world: World, holder: Holder, other_holder: Holder, seed_key: bytes, tmp_path: Path
) -> None:
    """홍길동's key locked; then the same signPri.key beside 김철수's certificate (and with
    a byte appended): the key is what is locked, whatever certificate comes with it."""
    chat = world.chat()
    await _lock(
        chat, _write(tmp_path / "a", {"signCert.der": holder.cert_der, "signPri.key": seed_key})
    )
    for folder, key in (("b", seed_key), ("c", seed_key + b"\x00")):
        files = {"signCert.der": other_holder.cert_der, "signPri.key": key}
        reply = await chat.upload(*_write(tmp_path / folder, files))
        assert LOCKED in texts(reply), texts(reply)
        assert "비밀번호를" not in texts(reply)


async def test_many_keys_of_one_user_are_stopped_by_the_per_user_budget(
    world: World, holder: Holder, tmp_path: Path
) -> None:
    """Four keys take five wrong passwords each (20, the per-user budget in an hour); a
    fifth key gets no try at all, and an hour later it does."""
    chat = world.chat()
    for number in range(4):
        key = factory.seed_cbc_sha1_key(holder.plain, factory.PASSWORD)  # a new ciphertext
        await _lock(
            chat,
            _write(tmp_path / str(number), {"signCert.der": holder.cert_der, "signPri.key": key}),
        )
    fifth = factory.seed_cbc_sha1_key(holder.plain, factory.PASSWORD)
    paths = _write(tmp_path / "fifth", {"signCert.der": holder.cert_der, "signPri.key": fifth})
    assert LOCKED in texts(await chat.upload(*paths))
    world.clock.advance(hours=1, minutes=1)
    await chat.upload(*paths)
    assert "등록했어요" in texts(await chat.say(PASSWORD))


async def test_a_key_that_is_not_its_certificates_answers_alike_for_any_password(
    world: World, other_holder: Holder, seed_key: bytes, tmp_path: Path
) -> None:
    """김철수's certificate with 홍길동's key: the right password and a wrong one get the
    very same answer (and both count), so the answer tells nothing about the password."""
    files = {"signCert.der": other_holder.cert_der, "signPri.key": seed_key}
    answers = []
    for user, password in (("right", PASSWORD), ("wrong", "wrong-password")):
        chat = world.chat(user)
        await chat.upload(*_write(tmp_path / user, files))
        answers.append(texts((await chat.say(password))[1:]))
    right, wrong = answers
    assert right == wrong
    assert "(1/5)" in right


async def test_export_counts_against_the_same_key_as_registration(
    world: World,
    pair_files: tuple[Path, Path],
    other_holder: Holder,
    seed_key: bytes,
    tmp_path: Path,
) -> None:
    """Wrong passwords typed at /export count on the stored key: after four there, the
    same key uploaded with another certificate locks at its first wrong password."""
    chat = world.chat()
    await chat.upload(*pair_files)
    assert "등록했어요" in texts(await chat.say(PASSWORD))
    await chat.say("/export")
    await chat.press("PFX 파일")
    await chat.say("new-pfx-password")
    await chat.say("new-pfx-password")
    for attempt in range(1, 5):
        assert f"({attempt}/5)" in texts(await chat.say("wrong-password"))
    await chat.say("/cancel")
    files = {"signCert.der": other_holder.cert_der, "signPri.key": seed_key}
    await chat.upload(*_write(tmp_path / "again", files))
    assert LOCKED in texts(await chat.say("wrong-password"))
