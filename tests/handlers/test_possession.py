"""Only proof of possession retires a stored certificate (issue 11, item 3).

Each test performs the attack a forger can: a certificate copying the
holder's subject with a later expiry, sent alone, with a key of its own, or
signed by another key in the real CA's name. The real certificate and its
key must survive every one of them; the real renewal still replaces it.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlmodel import col, select

from storage.models import Certificate, CertificateSecret, CertificateStatus
from tests import factory
from tests.conftest import Holder
from tests.handlers.conftest import PASSWORD, RENEWED_NOT_AFTER
from tests.handlers.harness import World, buttons, register, texts

REPLACED = "갱신된 인증서로 바꿨어요"


async def _rows(world: World) -> list[Certificate]:
    owner = await world.user_id()
    async with world.database.read() as session:
        result = await session.scalars(
            select(Certificate).where(col(Certificate.owner_id) == owner).order_by("id")
        )
        return list(result.all())


async def _assert_real_one_kept(world: World) -> None:
    """The first certificate is still active, with its key and its sealed files."""
    real, *_others = await _rows(world)
    assert real.status is CertificateStatus.ACTIVE
    assert real.has_private_key
    async with world.database.read() as session:
        assert await session.get(CertificateSecret, real.id) is not None


def _write(folder: Path, files: dict[str, bytes]) -> list[Path]:
    folder.mkdir()
    paths = []
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def _new_key_pair(cert: x509.Certificate, key: rsa.RSAPrivateKey) -> dict[str, bytes]:
    return {
        "signCert.der": factory.cert_der(cert),
        "signPri.key": factory.seed_cbc_sha1_key(factory.private_key_info(key), factory.PASSWORD),
    }


def _trusting(world: World, *authorities: factory.Authority) -> None:
    """The operator configured these CA certificates (`[npki] ca_certificates`)."""
    world.settings = dataclasses.replace(
        world.settings, ca_certificates=tuple(a.cert for a in authorities)
    )
    world.restart()


async def test_a_self_signed_copy_sent_alone_does_not_retire_the_real_one(
    world: World, pair_files: tuple[Path, Path], holder: Holder, tmp_path: Path
) -> None:
    """A self-signed certificate with the holder's subject and a later expiry, sent alone
    and kept 'reminders only': added beside the real one, which keeps its key; the user is
    told it was not a replacement and offered to register it with its key."""
    chat = world.chat()
    await register(chat, *pair_files)
    forged = factory.forged_copy(holder.cert, factory.rsa_key(), not_after=RENEWED_NOT_AFTER)
    (path,) = _write(tmp_path / "forged", {"signCert.der": factory.cert_der(forged)})
    reply = await chat.upload(path)
    reply += await chat.press("알림용으로만 등록")
    said = texts(reply)
    assert REPLACED not in said
    assert "개인키 없이 받아서 바꾸지 않고 따로 추가했어요" in said
    assert "개인키와 함께 등록" in buttons(reply)
    await _assert_real_one_kept(world)
    assert [r.status for r in await _rows(world)] == [CertificateStatus.ACTIVE] * 2


async def test_a_forged_certificate_with_its_own_key_and_password_is_not_a_renewal(
    world: World, pair_files: tuple[Path, Path], holder: Holder, tmp_path: Path
) -> None:
    """Proof of possession of the forger's own key is not enough: the issuer (itself)
    is not the real certificate's, so the real one stays."""
    chat = world.chat()
    await register(chat, *pair_files)
    key = factory.rsa_key()
    forged = factory.forged_copy(holder.cert, key, not_after=RENEWED_NOT_AFTER)
    reply = await register(chat, *_write(tmp_path / "forged", _new_key_pair(forged, key)))
    said = texts(reply)
    assert REPLACED not in said
    assert "발급기관이 달라서 갱신으로 보지 않고 따로 추가했어요" in said
    await _assert_real_one_kept(world)


async def test_a_certificate_signed_by_another_key_in_the_cas_name_fails_the_signature(
    world: World,
    pair_files: tuple[Path, Path],
    holder: Holder,
    ca: factory.Authority,
    tmp_path: Path,
) -> None:
    """Issuer name copied, own key and password, signed by a key that is not the CA's:
    with the CA certificate configured, the signature fails and nothing is replaced."""
    _trusting(world, ca)
    chat = world.chat()
    await register(chat, *pair_files)
    key = factory.rsa_key()
    impostor = factory.impostor_ca(ca)
    forged = factory.forged_copy(
        holder.cert, key, not_after=RENEWED_NOT_AFTER, signer=impostor.key, issuer=ca.cert.subject
    )
    reply = await register(chat, *_write(tmp_path / "forged", _new_key_pair(forged, key)))
    said = texts(reply)
    assert REPLACED not in said
    assert "발급기관의 서명이 확인되지 않아서" in said
    await _assert_real_one_kept(world)


async def test_the_real_capubs_in_a_zip_unmasks_a_forgery_and_a_fake_one_vouches_nothing(
    world: World,
    pair_files: tuple[Path, Path],
    holder: Holder,
    ca: factory.Authority,
    tmp_path: Path,
) -> None:
    """An NPKI zip's CaPubs is the uploader's word: the real CA's certificate (it signed
    the stored certificate) makes a forgery in its name fail; the forger's own CaPubs,
    which did not sign the stored certificate, is not taken as the CA's."""
    chat = world.chat()
    await register(chat, *pair_files)
    key = factory.rsa_key()
    impostor = factory.impostor_ca(ca)
    forged = factory.forged_copy(
        holder.cert, key, not_after=RENEWED_NOT_AFTER, signer=impostor.key, issuer=ca.cert.subject
    )
    folder = factory.npki_folder("yessign", "cn=홍길동()0012345678901234")
    pair = _new_key_pair(forged, key)
    archive = factory.make_zip(
        {
            "NPKI/yessign/CaPubs": factory.cert_der(ca.cert),
            f"{folder}/signCert.der": pair["signCert.der"],
            f"{folder}/signPri.key": pair["signPri.key"],
        }
    )
    (path,) = _write(tmp_path / "zip", {"forged.zip": archive})
    said = texts(await register(chat, path))
    assert REPLACED not in said
    assert "발급기관의 서명이 확인되지 않아서" in said
    await _assert_real_one_kept(world)


async def test_the_real_renewal_with_a_new_key_replaces_the_old_one(
    world: World,
    pair_files: tuple[Path, Path],
    ca: factory.Authority,
    tmp_path: Path,
) -> None:
    """A renewal as a CA issues it (new key, same issuer, signed by the CA), with the CA
    certificate configured and in a CaPubs beside it: it replaces the old certificate."""
    _trusting(world, ca)
    chat = world.chat()
    await register(chat, *pair_files)
    key = factory.rsa_key()
    renewed = factory.make_cert(
        ca, key, serial=0x1A2B3D, not_before=datetime(2026, 6, 10, 15, tzinfo=UTC),
        not_after=RENEWED_NOT_AFTER,
    )  # fmt: skip
    files = _new_key_pair(renewed, key) | {"CaPubs": factory.cert_der(ca.cert)}
    said = texts(await register(chat, *_write(tmp_path / "renewed", files)))
    assert REPLACED in said
    old, new = await _rows(world)
    assert (old.status, old.replaced_by_id) == (CertificateStatus.REPLACED, new.id)


async def test_a_keyless_renewal_is_kept_beside_until_its_key_comes(
    world: World, pair_files: tuple[Path, Path], renewed_files: tuple[Path, Path]
) -> None:
    """The real renewal sent without its key is added beside (the old key is not
    shredded); registered again with its key and password, it replaces the old one."""
    chat = world.chat()
    await register(chat, *pair_files)
    reply = await chat.upload(renewed_files[0])
    reply += await chat.press("알림용으로만 등록")
    assert REPLACED not in texts(reply)
    await _assert_real_one_kept(world)
    reply = await chat.press("개인키와 함께 등록")
    reply += await chat.upload(*renewed_files)
    reply += await chat.say(PASSWORD)
    assert REPLACED in texts(reply), texts(reply)
    old, new = await _rows(world)
    assert (old.status, old.replaced_by_id) == (CertificateStatus.REPLACED, new.id)
    assert new.has_private_key
