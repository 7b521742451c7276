"""Export (/export): the NPKI zip of the original files, or a PFX under a new password."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import npki
from storage import audit
from storage.models import AuditAction
from tests import factory
from tests.conftest import Holder
from tests.handlers.conftest import PASSWORD
from tests.handlers.harness import Chat, World, buttons, register, register_reminders_only, texts

SUBJECT = "cn=홍길동()0012345678901234,ou=SHB,ou=personal4IB,o=yessign,c=kr"
FOLDER = f"NPKI/yessign/USER/{SUBJECT}"
PFX_PASSWORD = "new-pfx-2026!"  # noqa: S105  (a test password)


def _document(entries: list[dict[str, Any]]) -> Path:
    """The one document the bot sent among `entries`, as written by the console."""
    (entry,) = [e for e in entries if e["type"] == "document"]
    assert set(entry) == {"type", "filename", "path"}
    path, sent = Path(entry["path"]), Path(entry["filename"])
    # Written under the name sent, or numbered ("…-2.zip") when that file exists already.
    assert path.name == sent.name or (
        path.stem.startswith(f"{sent.stem}-") and path.suffix == sent.suffix
    )
    assert path.is_file()
    return path


def _private_der(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


async def _exports(world: World) -> list[str | None]:
    """The fingerprints of the EXPORT audit events, in order."""
    owner = await world.user_id()
    assert owner is not None
    async with world.database.read() as session:
        events = await audit.list_for_owner(session, owner)
    return [e.detail for e in events if e.action is AuditAction.EXPORT]


async def _pfx_export(chat: Chat, current_password: str) -> list[dict[str, Any]]:
    await chat.say("/export")
    await chat.press("PFX 파일")
    await chat.say(PFX_PASSWORD)
    await chat.say(PFX_PASSWORD)
    return await chat.say(current_password)


async def test_npki_zip_holds_the_original_files_in_the_npki_layout(
    world: World, pair_files: tuple[Path, Path], holder: Holder, seed_key: bytes
) -> None:
    """'NPKI (zip)' sends at once (no password needed) a zip laid out as banking software
    expects, NPKI/yessign/USER/<subject>/, holding the uploaded files byte for byte."""
    chat = world.chat()
    await register(chat, *pair_files)
    reply = await chat.say("/export")
    assert "홍길동 인증서를 어떤 형식으로 받을까요?" in texts(reply)
    labels = buttons(reply)
    assert labels[0].startswith("NPKI (zip)")
    assert labels[1].startswith("PFX")
    reply = await chat.press("NPKI (zip)")
    path = _document(reply)
    assert path.parent == world.folder / "out"
    assert path.name == "홍길동-2026-07-01-NPKI.zip"
    assert "홍길동-2026-07-01-NPKI.zip 파일을 보냈어요" in texts(reply)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == [f"{FOLDER}/signCert.der", f"{FOLDER}/signPri.key"]
        assert archive.read(f"{FOLDER}/signCert.der") == holder.cert_der
        assert archive.read(f"{FOLDER}/signPri.key") == seed_key
    fingerprint = npki.open_pair(holder.cert_der, seed_key, factory.PASSWORD)
    assert await _exports(world) == [fingerprint.certificate.fingerprint_sha256]


async def test_pfx_asks_both_passwords_deletes_and_masks_them(
    world: World, pair_files: tuple[Path, Path], holder: Holder
) -> None:
    """PFX asks the new PFX password first, then the certificate password; both messages
    are deleted and masked, and the .pfx opens with the new password holding the same
    certificate and private key."""
    chat = world.chat()
    await register(chat, *pair_files)
    await chat.say("/export")
    reply = await chat.press("PFX 파일")
    assert "PFX 파일에 걸 비밀번호를 정해서 입력해 주세요 (6자 이상)" in texts(reply)
    reply = await chat.say(PFX_PASSWORD)
    assert reply[0] == {"type": "user", "text": "••••••"}
    assert reply[1]["type"] == "delete"
    assert "한 번 더 입력해 주세요" in texts(reply)
    reply = await chat.say(PFX_PASSWORD)
    assert reply[1]["type"] == "delete"
    assert "이제 인증서 비밀번호를 입력해 주세요" in texts(reply)
    reply = await chat.say(PASSWORD)
    assert reply[0] == {"type": "user", "text": "••••••"}
    assert reply[1]["type"] == "delete"
    path = _document(reply)
    assert path.name == "홍길동-2026-07-01.pfx"
    assert "아이폰의 은행·증권 앱에는 PFX를 바로 넣을 수 없어요" in texts(reply)
    opened = npki.open_pfx(path.read_bytes(), PFX_PASSWORD.encode())
    assert opened.certificate.der == holder.cert_der
    assert _private_der(opened.private_key) == _private_der(holder.key)
    with pytest.raises(npki.WrongPassword):
        npki.open_pfx(path.read_bytes(), factory.PASSWORD)
    deleted = [e["message"] for e in chat.transcript if e["type"] == "delete"]
    assert len(deleted) == 4  # the registration password, the PFX one twice, the certificate one
    assert PFX_PASSWORD not in str(chat.transcript)
    assert PASSWORD not in str(chat.transcript)
    assert len(await _exports(world)) == 1


async def test_a_short_pfx_password_is_asked_again(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """A PFX password under 6 characters is refused (the message still deleted and masked)."""
    chat = world.chat()
    await register(chat, *pair_files)
    await chat.say("/export")
    await chat.press("PFX 파일")
    reply = await chat.say("12345")
    assert reply[0] == {"type": "user", "text": "••••••"}
    assert "비밀번호는 6자 이상이어야 해요" in texts(reply)
    await chat.say(PFX_PASSWORD)
    assert "이제 인증서 비밀번호" in texts(await chat.say(PFX_PASSWORD))


async def test_a_new_pfx_password_typed_differently_twice_is_asked_again(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """Issue 14 item 7: the new PFX password is typed twice; a mismatch is said before
    anything is exported (no file, no audit event), and both are asked again."""
    chat = world.chat()
    await register(chat, *pair_files)
    await chat.say("/export")
    await chat.press("PFX 파일")
    await chat.say(PFX_PASSWORD)
    reply = await chat.say(PFX_PASSWORD + "x")
    assert reply[1]["type"] == "delete"
    assert "두 비밀번호가 달라요" in texts(reply)
    assert not [e for e in reply if e.get("type") == "document"]
    assert await _exports(world) == []
    await chat.say(PFX_PASSWORD)
    await chat.say(PFX_PASSWORD)
    path = _document(await chat.say(PASSWORD))
    npki.open_pfx(path.read_bytes(), PFX_PASSWORD.encode())


async def test_wrong_certificate_password_retries_then_exports(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """A wrong certificate password sends nothing and asks again (counted 1/5); the right
    one then exports with the PFX password given before."""
    chat = world.chat()
    await register(chat, *pair_files)
    reply = await _pfx_export(chat, "not-the-password")
    assert reply[0] == {"type": "user", "text": "••••••"}
    assert "비밀번호가 맞지 않아요 (1/5)" in texts(reply)
    assert not [e for e in reply if e["type"] == "document"]
    assert await _exports(world) == []
    path = _document(await chat.say(PASSWORD))
    npki.open_pfx(path.read_bytes(), PFX_PASSWORD.encode())
    assert len(await _exports(world)) == 1


async def test_five_wrong_certificate_passwords_lock_the_export(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """The fifth wrong password locks the certificate: the flow ends without a file, and
    the right password does not export until the lock lifts."""
    chat = world.chat()
    await register(chat, *pair_files)
    await _pfx_export(chat, "wrong-1")
    for attempt in range(2, 5):
        assert f"({attempt}/5)" in texts(await chat.say(f"wrong-{attempt}"))
    assert "잠겼어요" in texts(await chat.say("wrong-5"))
    reply = await _pfx_export(chat, PASSWORD)
    assert "잠겼어요" in texts(reply)
    assert not [e for e in chat.transcript if e["type"] == "document"]
    world.clock.advance(minutes=16)
    _document(await _pfx_export(chat, PASSWORD))


async def test_reminders_only_certificate_exports_the_certificate_alone(
    world: World, pair_files: tuple[Path, Path], holder: Holder
) -> None:
    """A certificate kept for reminders only has no key: either format sends a zip with
    signCert.der alone, saying why, and asks no password."""
    chat = world.chat()
    await register_reminders_only(chat, pair_files[0])
    for choice in ("PFX 파일", "NPKI (zip)"):
        await chat.say("/export")
        reply = await chat.press(choice)
        assert "개인키 없이 인증서 파일만 보내 드려요" in texts(reply)
        with zipfile.ZipFile(_document(reply)) as archive:
            assert archive.namelist() == [f"{FOLDER}/signCert.der"]
            assert archive.read(f"{FOLDER}/signCert.der") == holder.cert_der
    assert len(await _exports(world)) == 2
    assert not [e for e in chat.transcript if e["type"] == "delete"]


async def test_a_certificate_that_came_as_pfx_is_converted_to_npki(
    world: World, tmp_path: Path, holder: Holder
) -> None:
    """A certificate registered from a .pfx exports as NPKI by converting it: the password
    is asked (and masked), and the zip's key opens with it and belongs to the certificate."""
    pfx = tmp_path / "hong.pfx"
    pfx.write_bytes(factory.openssl_pfx(holder.key, holder.cert, PASSWORD, cipher="aes"))
    chat = world.chat()
    await register(chat, pfx)
    await chat.say("/export")
    reply = await chat.press("NPKI (zip)")
    assert "인증서 비밀번호를 입력해 주세요" in texts(reply)
    reply = await chat.say(PASSWORD)
    assert reply[0] == {"type": "user", "text": "••••••"}
    with zipfile.ZipFile(io.BytesIO(_document(reply).read_bytes())) as archive:
        cert = archive.read(f"{FOLDER}/signCert.der")
        key = archive.read(f"{FOLDER}/signPri.key")
    opened = npki.open_pair(cert, key, factory.PASSWORD)
    assert cert == holder.cert_der
    assert _private_der(opened.private_key) == _private_der(holder.key)


async def test_several_certificates_pick_one_and_none_at_all(
    world: World, pair_files: tuple[Path, Path], other_pair_files: tuple[Path, Path]
) -> None:
    """No certificate: nothing to export. Several: the user picks one, then the format."""
    chat = world.chat()
    assert "내보낼 인증서가 없어요" in texts(await chat.say("/export"))
    await register(chat, *pair_files)
    await register_reminders_only(chat, other_pair_files[0])
    reply = await chat.say("/export")
    assert "어떤 인증서를 내보낼까요?" in texts(reply)
    assert buttons(reply) == ["홍길동 · 2026-07-01", "김철수 · 2026-07-01"]
    assert "김철수 인증서를" in texts(await chat.press("김철수 · 2026-07-01"))
    reply = await chat.press("NPKI (zip)")
    assert _document(reply).name == "김철수-2026-07-01-NPKI.zip"


async def test_export_from_the_details(world: World, pair_files: tuple[Path, Path]) -> None:
    """'인증서 내보내기' in a certificate's details goes straight to the format question."""
    chat = world.chat()
    await register(chat, *pair_files)
    await chat.say("/certs")
    await chat.press("홍길동 · 2026-07-01")
    reply = await chat.press("인증서 내보내기")
    assert "어떤 형식으로 받을까요?" in texts(reply)
    _document(await chat.press("NPKI (zip)"))


async def test_restart_between_the_two_pfx_passwords(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """The PFX password waits sealed in the conversation state: after a restart the
    certificate password still produces a PFX under the password chosen before."""
    chat = world.chat()
    await register(chat, *pair_files)
    await chat.say("/export")
    await chat.press("PFX 파일")
    await chat.say(PFX_PASSWORD)
    await chat.say(PFX_PASSWORD)
    world.restart()
    path = _document(await chat.say(PASSWORD))
    npki.open_pfx(path.read_bytes(), PFX_PASSWORD.encode())


async def test_a_traversal_cn_cannot_leave_the_exported_zip(
    world: World, tmp_path: Path, ca: factory.Authority, seed_key: bytes, holder: Holder
) -> None:
    """The attack: a certificate whose CN is `../../../../tmp/x` (anyone can sign one)
    is registered with its key and exported. Every zip entry stays under
    NPKI/yessign/USER/<one folder>/, the folder keeping only safe characters."""
    cert = factory.make_cert(ca, holder.key, cn="../../../../tmp/x", with_identify_data=False)
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "signCert.der").write_bytes(factory.cert_der(cert))
    (folder / "signPri.key").write_bytes(seed_key)
    chat = world.chat()
    await register(chat, folder / "signCert.der", folder / "signPri.key")
    await chat.say("/export")
    with zipfile.ZipFile(_document(await chat.press("NPKI (zip)"))) as archive:
        names = archive.namelist()
    assert names == [
        f"NPKI/yessign/USER/cn=________tmp_x,ou=SHB,ou=personal4IB,o=yessign,c=kr/{name}"
        for name in ("signCert.der", "signPri.key")
    ]
    for name in names:
        assert ".." not in Path(name).parts
        assert not Path(name).is_absolute()
