"""Registering a certificate through the console channel, end to end."""

from __future__ import annotations

from pathlib import Path

from tests import factory
from tests.conftest import Holder
from tests.handlers.conftest import PASSWORD
from tests.handlers.harness import Chat, World, buttons, texts


async def test_pair_then_password_registers_and_masks_the_password(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """Both files, then the password: it is deleted, masked in the transcript, and the
    summary shows holder, CA, usage, expiry with D-day and the open renewal window."""
    chat = world.chat()
    reply = await chat.upload(*pair_files)
    assert "비밀번호" in texts(reply)
    reply = await chat.say(PASSWORD)
    assert reply[0] == {"type": "user", "text": "••••••"}
    assert reply[1] == {"type": "delete", "message": "2"}
    summary = texts(reply)
    for part in ("홍길동", "금융결제원(yessign)", "은행/신용카드/보험용 개인", "2026-07-01", "D-30",
                 "지금 갱신할 수 있어요"):  # fmt: skip
        assert part in summary, part
    assert PASSWORD not in str(chat.transcript)


async def test_files_in_either_order_across_messages(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """The key first, then the certificate: the first is held and the bot says what it needs."""
    cert, key = pair_files
    chat = world.chat()
    assert "signCert.der" in texts(await chat.upload(key))
    assert "비밀번호" in texts(await chat.upload(cert))
    assert "등록했어요" in texts(await chat.say(PASSWORD))


async def test_wrong_password_then_lockout_after_five(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """Each wrong try counts; the fifth locks the certificate, even across a fresh upload."""
    chat = world.chat()
    await chat.upload(*pair_files)
    for attempt in range(1, 5):
        assert f"({attempt}/5)" in texts(await chat.say("wrong-password"))
    assert "잠겼어요" in texts(await chat.say("wrong-password"))
    await chat.upload(*pair_files)
    assert "잠겼어요" in texts(await chat.say(PASSWORD)) or "잠겼어요" in texts(chat.transcript)
    world.clock.advance(minutes=16)
    await chat.upload(*pair_files)
    assert "등록했어요" in texts(await chat.say(PASSWORD))


async def test_reminders_only_keeps_no_key(world: World, pair_files: tuple[Path, Path]) -> None:
    """The certificate alone, then 'reminders only': registered without key or password."""
    cert, _key = pair_files
    chat = world.chat()
    reply = await chat.upload(cert)
    assert "알림용으로만 등록" in buttons(reply)
    assert "알림용으로 등록했어요" in texts(await chat.press("알림용으로만 등록"))
    assert "이미 등록되어 있어요" in texts(await chat.upload(cert))


async def test_restart_mid_flow_continues(world: World, pair_files: tuple[Path, Path]) -> None:
    """The first file, a restart, the second file: the held file survived in the database."""
    cert, key = pair_files
    chat = world.chat()
    await chat.upload(cert)
    world.restart()
    assert "비밀번호" in texts(await chat.upload(key))
    world.restart()
    assert "등록했어요" in texts(await chat.say(PASSWORD))


async def test_a_password_typed_after_the_flow_timed_out_is_still_deleted(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """Asked for a password, away 16 minutes, then typed it: the message still leaves the chat."""
    chat = world.chat()
    await chat.upload(*pair_files)
    world.clock.advance(minutes=16)
    reply = await chat.say(PASSWORD)
    assert reply[0] == {"type": "user", "text": "••••••"}
    assert {"type": "delete", "message": "2"} in reply
    assert "15분 동안 답이 없어서" in texts(reply)
    assert "등록했어요" not in texts(reply)


async def _upload_two_folders(
    world: World, folder: Path, *, a: tuple[Holder, bytes], b: tuple[Holder, bytes]
) -> Chat:
    """A zip of an NPKI folder holding two certificates, in A/ and B/, each with the
    key given beside it."""
    files = {}
    for name, (holder, key) in (("A", a), ("B", b)):
        files[f"{name}/signCert.der"], files[f"{name}/signPri.key"] = holder.cert_der, key
    bundle = folder / "npki.zip"
    bundle.write_bytes(factory.make_zip(files))
    chat = world.chat()
    await chat.upload(bundle)
    return chat


async def test_two_certificates_with_different_passwords_in_one_zip(
    world: World, tmp_path: Path, holder: Holder, other_holder: Holder, seed_key: bytes
) -> None:
    """Issue 14 item 6: the first password registers the first certificate; the second is
    then asked for by name, and the first password is not counted against it."""
    other_key = factory.seed_cbc_sha1_key(other_holder.plain, b"other-pass-77")
    chat = await _upload_two_folders(
        world, tmp_path, a=(holder, seed_key), b=(other_holder, other_key)
    )
    first = texts(await chat.say(PASSWORD))
    assert "인증서를 등록했어요.\n홍길동" in first
    assert "김철수 인증서는 이 비밀번호로 열리지 않았어요" in first
    assert "맞지 않아요" not in first  # no try counted: the password was right for 홍길동
    second = texts(await chat.say("other-pass-77"))
    assert "인증서를 등록했어요.\n김철수" in second
    assert "등록을 마쳤어요" in second


async def test_a_key_of_someone_elses_certificate_is_never_said_to_be_registered(
    world: World, tmp_path: Path, other_holder: Holder, seed_key: bytes
) -> None:
    """Issue 14 item 1: 김철수's certificate with 홍길동's key and that key's right
    password stores nothing, so nothing says it finished; /certs then lists nothing."""
    chat = world.chat()
    cert, key = tmp_path / "signCert.der", tmp_path / "signPri.key"
    cert.write_bytes(other_holder.cert_der)
    key.write_bytes(seed_key)
    await chat.upload(cert, key)
    answer = texts(await chat.say(PASSWORD))
    assert "맞지 않아요 (1/5)" in answer
    for claim in ("등록했어요", "마쳤어요", "알려 드릴게요"):
        assert claim not in answer, answer
    assert "등록된 인증서가 없어요" in texts(await chat.say("/certs"))


async def test_a_zip_whose_second_key_is_not_its_certificates_says_done_only_for_the_first(
    world: World, tmp_path: Path, holder: Holder, other_holder: Holder, seed_key: bytes
) -> None:
    """Issue 14 item 1, a zip of two: 김철수's folder holds 홍길동's key. The password
    registers 홍길동's certificate, which is said; 김철수's is asked for again by name,
    and no line says registering is finished."""
    chat = await _upload_two_folders(
        world, tmp_path, a=(holder, seed_key), b=(other_holder, seed_key)
    )
    answer = texts(await chat.say(PASSWORD))
    assert "인증서를 등록했어요.\n홍길동" in answer
    assert "김철수 인증서는 이 비밀번호로 열리지 않았어요" in answer
    assert "마쳤어요" not in answer
    listed = texts(await chat.say("/certs"))
    assert "홍길동" in listed, listed
    assert "김철수" not in listed, listed
