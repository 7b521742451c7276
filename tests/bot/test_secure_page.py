"""The secure page over real HTTP: one-time links, the envelope, and every way to abuse
them (expired, reused, tampered, replayed to another link, oversized, hostile content)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from bot.secure_page import POLICY
from handlers.messages import Document, Inbound, OpenLink, Reply
from storage import certificates
from storage.models import CertificateSecret, Channel, SecureLink
from tests import factory, page_client
from tests.bot.kakao_site import Site
from tests.conftest import Holder
from tests.fakes.kakao_skill import page_links
from tests.handlers.conftest import PASSWORD

USER = "page-user"


async def _register_link(site: Site, user: str = USER) -> str:
    await site.say(user, "메뉴")
    (url,) = page_links(await site.press(user, "인증서 등록"))
    return url


def _pair(holder: Holder, key: bytes) -> dict[str, bytes]:
    return {"signCert.der": holder.cert_der, "signPri.key": key}


async def test_the_page_keeps_to_itself(site: Site) -> None:
    """The page loads only its own script and style (strict CSP, no inline code), sends
    no Referer (the token is in the path), is never cached, and carries the link's key."""
    url = await _register_link(site)
    page = await page_client.open_page(site.client, url)
    assert page.status == 200
    assert page.headers["Content-Security-Policy"] == POLICY
    assert "script-src 'self';" in POLICY
    assert "unsafe-inline" not in POLICY
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in page.html
    assert " on" not in page.html.split("<body", 1)[1].split(">", 1)[0]  # no inline handlers
    assert len(base64.urlsafe_b64decode(page.key + "==")) == 65
    async with site.client.get(site.base + "/static/secure-page.js") as script:
        assert script.status == 200
        assert "crypto.subtle" in await script.text()


async def test_a_link_is_random_and_bound_to_one_user(site: Site) -> None:
    """Tokens are 128-bit random (22 base64url characters), different each time, and
    only their hash is stored."""
    first, second = await _register_link(site), await _register_link(site, "another")
    tokens = {page_client.token_of(first), page_client.token_of(second)}
    assert len(tokens) == 2
    assert all(len(token) == 22 for token in tokens)
    async with site.world.database.read() as session:
        stored = (await session.scalars(sa.select(col(SecureLink.token_hash)))).all()
    assert not tokens & set(stored)
    assert len(set(stored)) == 2


@pytest.mark.parametrize("token", ["nope", "A" * 22, "x" * 300, "%00", "..%2f..%2fetc"])
async def test_unknown_links_get_a_clear_page(site: Site, token: str) -> None:
    """A made-up token shows the "ask for a new link" page (410), and posting to it
    changes nothing."""
    page = await page_client.open_page(site.client, f"{site.base}/u/{token}")
    assert page.status in (404, 410)
    if page.status == 410:
        assert "새 링크를 받아 주세요" in page.html
    async with site.client.post(f"{site.base}/u/{token}", data=b"\x01" * 200) as response:
        assert response.status in (404, 410)


async def test_an_expired_link_is_refused(site: Site, holder: Holder, seed_key: bytes) -> None:
    """Ten minutes after it was made the link opens nothing, even with a valid envelope."""
    url = await _register_link(site)
    page = await page_client.open_page(site.client, url)
    site.world.clock.advance(minutes=10, seconds=1)
    expired = await page_client.open_page(site.client, url)
    assert expired.status == 410
    assert "만료" in expired.html
    envelope = page_client.seal(page.key, page.token, page_client.form(_pair(holder, seed_key)))
    status, answer = await page_client.submit(site.client, url, envelope)
    assert status == 410
    assert answer["done"] is True


async def test_a_sixth_link_replaces_the_oldest(
    site: Site, holder: Holder, seed_key: bytes
) -> None:
    """Asking for links again and again keeps at most 5 open: the first of six says a
    newer link replaced it (410) and takes no submission; the newest works."""
    urls = []
    for _ in range(6):
        urls.append(await _register_link(site))
        site.world.clock.advance(seconds=1)
    page = await page_client.open_page(site.client, urls[1])
    assert page.status == 200
    replaced = await page_client.open_page(site.client, urls[0])
    assert replaced.status == 410
    assert "새 링크를 받으셔서 이 링크는 닫혔어요" in replaced.html
    status, answer = await page_client.submit_form(
        site.client, urls[-1], page_client.form(_pair(holder, seed_key), PASSWORD)
    )
    assert (status, answer["done"]) == (200, True), answer


async def test_a_tampered_envelope_is_refused_and_the_link_stays_usable(
    site: Site, holder: Holder, seed_key: bytes
) -> None:
    """Any flipped byte fails authentication (400, nothing done); the real one still works."""
    url = await _register_link(site)
    page = await page_client.open_page(site.client, url)
    good = page_client.seal(
        page.key, page.token, page_client.form(_pair(holder, seed_key), PASSWORD)
    )
    for position in (0, 10, 70, 80, len(good) - 1):
        bad = bytearray(good)
        bad[position] ^= 0x01
        status, answer = await page_client.submit(site.client, url, bytes(bad))
        assert status == 400
        assert answer["done"] is False
    for junk in (b"", b"\x01", b"\x01" + b"\x04" * 65 + b"\x00" * 40):
        status, _ = await page_client.submit(site.client, url, junk)
        assert status == 400
    status, answer = await page_client.submit(site.client, url, good)
    assert (status, answer["done"]) == (200, True)


async def test_an_envelope_for_one_link_does_not_open_on_another(
    site: Site, holder: Holder, seed_key: bytes
) -> None:
    """The token is bound as associated data: replaying a sealed form to another link of
    the same user (or sealing it with the wrong token) fails."""
    first = await _register_link(site)
    second = await _register_link(site)
    page = await page_client.open_page(site.client, first)
    sealed = page_client.seal(
        page.key, page.token, page_client.form(_pair(holder, seed_key), PASSWORD)
    )
    status, _ = await page_client.submit(site.client, second, sealed)
    assert status == 400
    other = await page_client.open_page(site.client, second)
    wrong_token = page_client.seal(
        other.key, page.token, page_client.form(_pair(holder, seed_key), PASSWORD)
    )
    status, _ = await page_client.submit(site.client, second, wrong_token)
    assert status == 400


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"[]",
        json.dumps({"files": "x"}).encode(),
        json.dumps({"files": [{"name": "a", "data": "!!!"}]}).encode(),
        json.dumps({"files": [{"name": "a", "data": ""}] * 9}).encode(),
        json.dumps({"files": [{"name": 5, "data": ""}]}).encode(),
        json.dumps({"password": 12}).encode(),
        json.dumps({"password": "x" * 2000}).encode(),
        b'{"password": "\\ud800"}',
        b"[" * 50_000,
    ],
)
async def test_hostile_page_content_is_refused(site: Site, content: bytes) -> None:
    """Whatever a hostile page seals (not JSON, wrong types, too many files, bad base64,
    an oversized or unencodable password) is refused with 400 and nothing else."""
    url = await _register_link(site)
    page = await page_client.open_page(site.client, url)
    status, answer = await page_client.submit(
        site.client, url, page_client.seal(page.key, page.token, content)
    )
    assert status == 400
    assert answer["done"] is False


async def test_a_file_name_with_a_path_is_reduced_to_its_name(
    site: Site, holder: Holder, seed_key: bytes
) -> None:
    """Names like `../../signCert.der` or `C:\\NPKI\\signPri.key` count only as their own
    name, so the pair is still recognised."""
    url = await _register_link(site)
    files = {"../../signCert.der": holder.cert_der, "C:\\NPKI\\yessign\\signPri.key": seed_key}
    status, answer = await page_client.submit_form(
        site.client, url, page_client.form(files, PASSWORD)
    )
    assert (status, answer["done"]) == (200, True), answer


async def test_an_oversized_body_is_refused(site: Site) -> None:
    """The HTTP server takes no body over its limit (413), before any decryption."""
    url = await _register_link(site)
    async with site.client.post(url, data=io.BytesIO(b"\x01" * (3 * 1024 * 1024))) as response:
        assert response.status == 413


async def test_five_wrong_passwords_lock_and_use_the_link(
    site: Site, holder: Holder, seed_key: bytes
) -> None:
    """The page shares the chat's lockout: the fifth wrong password locks the
    certificate for 15 minutes and the link is used up, with nothing stored (the page
    must not show it as a success)."""
    url = await _register_link(site)
    files = _pair(holder, seed_key)
    for attempt in range(1, 5):
        status, answer = await page_client.submit_form(
            site.client, url, page_client.form(files, "wrong")
        )
        assert (status, answer["done"]) == (200, False)
        assert f"({attempt}/5)" in "\n".join(answer["messages"])
    status, answer = await page_client.submit_form(
        site.client, url, page_client.form(files, "wrong")
    )
    assert (answer["done"], answer["stored"]) == (True, False)
    assert "10:15까지 잠겼어요" in "\n".join(answer["messages"])
    again = await page_client.open_page(site.client, url)
    assert again.status == 410


async def test_the_password_never_reaches_the_disk_and_a_used_link_has_no_key(
    site: Site, holder: Holder, seed_key: bytes
) -> None:
    """After a registration through the page, neither the database, its WAL, nor any
    other file holds the password; the used link's private key is gone."""
    url = await _register_link(site)
    status, answer = await page_client.submit_form(
        site.client, url, page_client.form(_pair(holder, seed_key), PASSWORD)
    )
    assert (status, answer["done"], answer["stored"]) == (200, True, True)
    async with site.world.database.read() as session:
        (link,) = (await session.scalars(sa.select(SecureLink))).all()
    assert link.used_at is not None
    assert link.sealed is None
    assert link.sealed_key_id is None
    password = PASSWORD.encode()
    for path, data in site.world.disk_bytes().items():
        assert password not in data, path
        assert password.decode().encode("utf-16-le") not in data, path


async def test_a_telegram_user_can_type_the_password_on_the_page_instead(
    site: Site, holder: Holder, seed_key: bytes
) -> None:
    """On Telegram the files come in chat; the password request offers the page, where
    the password alone (the files are held by the chat) completes the registration and
    ends the chat's wait for a password."""
    assistant = site.world.assistant
    files = tuple(Document(name, data) for name, data in _pair(holder, seed_key).items())
    out = await assistant.handle(Inbound(Channel.TELEGRAM, "42", documents=files))
    assert any(isinstance(o, Reply) and o.expects_secret for o in out)
    (link,) = [o for o in out if isinstance(o, OpenLink)]
    assert link.url.startswith(site.base + "/u/")
    page = await page_client.open_page(site.client, link.url)
    assert "대화창에서 받은 파일이 있어요" in page.html
    assert "텔레그램의 certmate 대화에서 보낸 링크예요." in page.html
    status, answer = await page_client.submit_form(
        site.client, link.url, page_client.form({}, PASSWORD)
    )
    assert (status, answer["done"]) == (200, True), answer
    assert "홍길동" in "\n".join(answer["messages"])
    # The chat no longer waits for a password: the next text is an ordinary message.
    out = await assistant.handle(Inbound(Channel.TELEGRAM, "42", text="hello", message_ref="1:5"))
    said = [o.text for o in out if isinstance(o, Reply)]
    assert any("보안 페이지에서 처리한 결과예요" in text for text in said)
    assert not any(getattr(o, "message_ref", None) == "1:5" for o in out)


async def test_concurrent_submissions_use_a_link_once(
    site: Site, holder: Holder, seed_key: bytes
) -> None:
    """Two submissions racing on one link: one registers, the other is told the link is
    used; the certificate is registered once."""
    url = await _register_link(site)
    page = await page_client.open_page(site.client, url)
    envelopes = [
        page_client.seal(page.key, page.token, page_client.form(_pair(holder, seed_key), PASSWORD))
        for _ in range(2)
    ]
    results: list[tuple[int, dict[str, Any]]] = await asyncio.gather(
        *(page_client.submit(site.client, url, envelope) for envelope in envelopes)
    )
    registered = [a for s, a in results if s == 200 and any("홍길동" in m for m in a["messages"])]
    assert len(registered) == 1
    assert all(answer["done"] for _, answer in results)


async def test_a_pfx_and_a_zip_register_through_the_page(
    site: Site, holder: Holder, seed_key: bytes, other_holder: Holder
) -> None:
    """The page takes what the chat takes: a .pfx (its password opens it) and a zipped
    NPKI folder."""
    pfx = factory.openssl_pfx(other_holder.key, other_holder.cert, PASSWORD, cipher="aes")
    url = await _register_link(site)
    status, answer = await page_client.submit_form(
        site.client, url, page_client.form({"김철수.pfx": pfx}, "wrong")
    )
    assert (status, answer["done"]) == (200, False)
    status, answer = await page_client.submit_form(
        site.client, url, page_client.form({"김철수.pfx": pfx}, PASSWORD)
    )
    assert (status, answer["done"]) == (200, True), answer
    assert "김철수" in "\n".join(answer["messages"])
    folder = factory.npki_folder("yessign", "cn=x")
    archive = factory.make_zip(
        {f"{folder}/signCert.der": holder.cert_der, f"{folder}/signPri.key": seed_key}
    )
    url = await _register_link(site)
    status, answer = await page_client.submit_form(
        site.client, url, page_client.form({"NPKI.zip": archive}, PASSWORD)
    )
    assert (status, answer["done"]) == (200, True), answer
    assert "홍길동" in "\n".join(answer["messages"])


async def test_a_certificate_alone_registers_for_reminders_only_without_a_password(
    site: Site, holder: Holder
) -> None:
    """signCert.der alone with a password: the key is missing (said, the link stays
    open); with the password left empty: registered for reminders only, no key kept."""
    url = await _register_link(site)
    alone = {"signCert.der": holder.cert_der}
    status, answer = await page_client.submit_form(site.client, url, page_client.form(alone, "pw"))
    assert (status, answer["done"]) == (200, False)
    assert "signPri.key" in "\n".join(answer["messages"])
    status, answer = await page_client.submit_form(site.client, url, page_client.form(alone))
    assert (status, answer["done"]) == (200, True), answer
    assert "알림용으로 등록했어요" in "\n".join(answer["messages"])
    user_id = await site.world.user_id(USER, Channel.KAKAO)
    assert user_id is not None
    async with site.world.database.read() as session:
        (row,) = await certificates.list_active(session, user_id)
    assert not row.has_private_key


async def test_a_self_signed_copy_sent_alone_through_the_page_retires_nothing(
    site: Site, holder: Holder, seed_key: bytes
) -> None:
    """The attack of issue 11: a self-signed certificate copying the holder's subject with a
    later expiry, sent alone through a register link. It is added beside, never in place
    of the real certificate, whose key stays sealed."""
    url = await _register_link(site)
    status, answer = await page_client.submit_form(
        site.client, url, page_client.form(_pair(holder, seed_key), PASSWORD)
    )
    assert (status, answer["done"]) == (200, True), answer
    later = holder.cert.not_valid_after_utc.replace(year=2027)
    forged = factory.forged_copy(holder.cert, factory.rsa_key(), not_after=later)
    url = await _register_link(site)
    status, answer = await page_client.submit_form(
        site.client, url, page_client.form({"signCert.der": factory.cert_der(forged)})
    )
    said = "\n".join(answer["messages"])
    assert (status, answer["done"]) == (200, True), answer
    assert "갱신된 인증서로 바꿨어요" not in said
    assert "바꾸지 않고 따로 추가했어요" in said
    user_id = await site.world.user_id(USER, Channel.KAKAO)
    assert user_id is not None
    async with site.world.database.read() as session:
        rows = await certificates.list_active(session, user_id)
        real = await session.get(CertificateSecret, rows[0].id)
    assert [(row.holder, row.has_private_key) for row in rows] == [
        ("홍길동", True),
        ("홍길동", False),
    ]
    assert real is not None  # its sealed files (and key) are still there
