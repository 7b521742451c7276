"""The KakaoTalk skill server over real HTTP: who may call it, how payloads become
messages, how answers fit Kakao's limits, and every flow that needs a file or a
password going through the secure page instead of the chat."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import zipfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

import npki
from bot.app import notifiers
from bot.channels.kakao import kakao_callback_allowed
from bot.channels.kakao_render import MAX_BODY_BYTES
from bot.reminders.notifiers import NoticeNotifier
from handlers.messages import Inbound, Outbound, Reply
from storage import certificates, notices, users
from storage.models import Channel, User
from tests import factory, page_client
from tests.bot.kakao_site import Site, running_site
from tests.bot.raw_http import raw_post
from tests.conftest import Holder
from tests.fakes.kakao_skill import (
    SECRET,
    SKILL_PATH,
    FakeKakaoCallback,
    buttons,
    labels,
    page_links,
    skill_payload,
    texts,
)
from tests.handlers.conftest import PASSWORD

USER = "kakao-user-1"


async def _user_exists(site: Site, user: str) -> bool:
    async with site.world.database.read() as session:
        return await users.find(session, Channel.KAKAO, user) is not None


# --- who may call ----------------------------------------------------------------------


async def test_a_request_without_the_secret_header_is_401_and_changes_nothing(
    site: Site,
) -> None:
    """Kakao does not sign skill requests: without the configured header, nothing runs."""
    status, _ = await site.post(skill_payload(USER, "시작"), headers={})
    assert status == 401
    assert not await _user_exists(site, USER)


async def test_a_wrong_secret_is_403_and_changes_nothing(site: Site) -> None:
    """A forged or stale secret is refused (compared in constant time)."""
    for wrong in ("nope", SECRET[:-1], SECRET + "x", ""):
        status, _ = await site.post(
            skill_payload(USER, "시작"), headers={"X-Certmate-Secret": wrong}
        )
        assert status == 403
    assert not await _user_exists(site, USER)


async def test_a_secret_that_is_not_utf8_is_403_and_logs_no_traceback(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """Raw bytes that are not UTF-8 in the secret header are a wrong secret: 403, with
    no error in the log, and the server keeps serving."""
    caplog.set_level(logging.DEBUG)
    port = int(site.base.rsplit(":", 1)[1])
    body = json.dumps(skill_payload(USER, "시작")).encode()
    for value in (b"\xff\xfe\xfd", b"\xc3\x28", b"\xed\xa0\x80", SECRET.encode() + b"\xe9"):
        assert await raw_post(port, SKILL_PATH, [b"X-Certmate-Secret: " + value], body) == 403
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not await _user_exists(site, USER)
    assert (await site.say(USER, "시작"))["version"] == "2.0"


async def test_another_bot_is_403(site: Site) -> None:
    """With `bot_ids` set, a request for any other bot is refused."""
    status, _ = await site.post(skill_payload(USER, "시작", bot_id="someone-else"))
    assert status == 403
    assert not await _user_exists(site, USER)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'{"userRequest": {}}',
        b'{"userRequest": {"user": {"id": ""}, "utterance": "hi"}}',
        json.dumps({"userRequest": {"user": {"id": "x" * 129}, "utterance": "hi"}}).encode(),
        b'{"userRequest": {"user": {"id": "u"}, "utterance": 5}}',
        b"[" * 100_000,
    ],
)
async def test_malformed_payloads_are_400_and_the_server_keeps_serving(
    site: Site,
    body: bytes,
) -> None:
    """Hostile or broken JSON never reaches the core, and never stops the server."""
    status, _ = await site.post(None, raw=body)
    assert status == 400
    answer = await site.say(USER, "시작")
    assert answer["version"] == "2.0"


# --- payload shapes and buttons ----------------------------------------------------------


async def test_old_and_current_payload_shapes_are_the_same_user(site: Site) -> None:
    """The older payload (talk_user_id, plusfriend_user_key) and the current one
    (botUserKey, plusfriendUserKey) name the same user: by `user.id`, or in an old
    payload without it by `properties.talk_user_id`."""
    await site.say(USER, "시작", shape="old")
    await site.say(USER, "메뉴", shape="current")
    no_id = skill_payload(USER, "도움말", shape="old")
    del no_id["userRequest"]["user"]["id"]  # only properties.talk_user_id names them
    status, _ = await site.post(no_id)
    assert status == 200
    async with site.world.database.read() as session:
        kakao_users = (await session.scalars(sa.select(col(User.user_key)))).all()
    assert kakao_users == [USER]


async def test_the_menu_comes_as_quick_replies_and_a_press_carries_its_token(
    site: Site,
) -> None:
    """Buttons are quickReplies whose `extra` holds the opaque token; pressing one sends
    it back as clientExtra and the core resolves it for this user only."""
    answer = await site.say(USER, "메뉴")
    quick = answer["template"]["quickReplies"]
    assert 1 <= len(quick) <= 10
    assert "내 인증서" in [q["label"] for q in quick]
    assert all(set(q["extra"]) == {"certmate"} and len(q["extra"]["certmate"]) == 22 for q in quick)
    answer = await site.press(USER, "내 인증서")
    assert "등록된 인증서가 없어요" in texts(answer)
    # Another user replaying the token gets "not found", not this user's flow.
    token = next(q["extra"] for q in quick if q["label"] == "내 인증서")
    other = await site.say("someone-else", "내 인증서", extra=token)
    assert "더 이상 쓸 수 없어요" in texts(other)


async def test_an_image_is_answered_as_a_photo_and_a_group_gets_the_private_note(
    site: Site,
) -> None:
    """Images (the image plugin's params) are not certificates; a group chatbot request
    gets only the note to write privately."""
    answer = await site.say(USER, "사진", params={"secureimage": "{}"})
    assert "사진은 받을 수 없어요" in texts(answer)
    payload = skill_payload("member", "/start")
    payload["userRequest"]["chat"] = {"id": "room", "type": "botGroupKey"}
    status, group = await site.post(payload)
    assert status == 200
    assert "1:1 대화에서만" in texts(group)


# --- no password in the chat -------------------------------------------------------------


async def test_no_menu_entry_asks_for_a_password_or_a_file_in_kakao_chat(
    site: Site,
    holder: Holder,
    seed_key: bytes,
) -> None:
    """KakaoTalk cannot delete a message: no reply to a Kakao user ever asks for a
    password in the chat, whichever menu entry they take (with a certificate on file)."""
    await _register_through_page(site, USER, holder, seed_key)
    assistant = site.world.assistant

    async def send(**what: Any) -> list[Outbound]:
        site.world.clock.advance(seconds=4)  # within the 20-a-minute rate limit
        out = await assistant.handle(Inbound(Channel.KAKAO, USER, **what))
        asks = [o for o in out if isinstance(o, Reply) and o.expects_secret]
        assert asks == [], [o.text for o in asks]
        return out

    async def follow(path: tuple[str, ...]) -> list[Outbound] | None:
        """From the menu, press the buttons labelled `path` in turn (None: a button of
        the path is not offered this time)."""
        await send(command="cancel")
        out = await send(command="menu")
        for label in path:
            offered = [o for o in out if isinstance(o, Reply) and o.choices]
            tokens = [c.token for c in (offered[-1].choices if offered else ()) if c.label == label]
            if not tokens:
                return None
            out = await send(button=tokens[0])
        return out

    texts = site.world.assistant.services.catalog.texts("ko")
    destructive = {texts("certs.delete_yes"), texts("privacy.delete_yes")}
    paths: list[tuple[str, ...]] = [()]
    visited = 0
    while paths and visited < 60:
        path = paths.pop(0)
        out = await follow(path)
        if out is None:
            continue
        visited += 1
        if len(path) < 3:
            offered = [o for o in out if isinstance(o, Reply) and o.choices]
            choices = offered[-1].choices if offered else ()
            paths += [(*path, c.label) for c in choices if c.label not in destructive]
    assert visited == 60  # every menu entry and many of their buttons, with no secret asked


async def _register_through_page(site: Site, user: str, holder: Holder, key: bytes) -> None:
    await site.say(user, "메뉴")
    answer = await site.press(user, "인증서 등록")
    (url,) = page_links(answer)
    files = {"signCert.der": holder.cert_der, "signPri.key": key}
    status, result = await page_client.submit_form(
        site.client, url, page_client.form(files, PASSWORD)
    )
    assert (status, result["done"]) == (200, True), result


async def test_registration_goes_through_the_secure_page(
    site: Site,
    holder: Holder,
    seed_key: bytes,
) -> None:
    """ "인증서 등록" answers with a card linking a one-time page; the page takes the files
    and password (a wrong one can be retried there), registers the certificate, and the
    next chat message shows the result; the link then refuses a second use."""
    await site.say(USER, "메뉴")
    answer = await site.press(USER, "인증서 등록")
    (url,) = page_links(answer)
    assert url.startswith(site.base + "/u/")
    assert "카카오톡 대화에 보내지 말고" in texts(answer)
    files = {"signCert.der": holder.cert_der, "signPri.key": seed_key}

    status, wrong = await page_client.submit_form(
        site.client, url, page_client.form(files, "not-it")
    )
    assert (status, wrong["done"]) == (200, False)
    assert "비밀번호가 맞지 않아요 (1/5)" in "\n".join(wrong["messages"])

    status, done = await page_client.submit_form(
        site.client, url, page_client.form(files, PASSWORD)
    )
    assert (status, done["done"]) == (200, True)
    said = "\n".join(done["messages"])
    assert "홍길동" in said
    assert "다음에 말을 걸어 주실 때" in said  # no Event API: reminders wait as notices

    user_id = await site.world.user_id(USER, Channel.KAKAO)
    assert user_id is not None
    async with site.world.database.read() as session:
        (row,) = await certificates.list_active(session, user_id)
    assert row.has_private_key
    assert row.holder == "홍길동"

    answer = await site.say(USER, "안녕")
    assert "보안 페이지에서 처리한 결과예요" in texts(answer)
    again = await page_client.open_page(site.client, url)
    assert again.status == 410
    assert "이미 사용했어요" in again.html


async def _export_page(
    site: Site, holder: Holder, seed_key: bytes, target: str
) -> tuple[str, page_client.Page]:
    """Register through the page, then take "인증서 내보내기" and `target`: the export
    page's address and what it shows."""
    await _register_through_page(site, USER, holder, seed_key)
    await site.say(USER, "메뉴")
    await site.press(USER, "인증서 내보내기")
    (url,) = page_links(await site.press(USER, target))
    return url, await page_client.open_page(site.client, url)


async def test_export_goes_through_the_secure_page_and_the_file_comes_back_there(
    site: Site,
    holder: Holder,
    seed_key: bytes,
) -> None:
    """KakaoTalk cannot carry files: "PFX" answers with a page that asks for the new PFX
    password and the certificate's own (a short new one, or a wrong own one, can be
    retried there), and hands back a PFX that opens with the new one."""
    url, page = await _export_page(site, holder, seed_key, "PFX 파일")
    assert 'id="new-password"' in page.html
    assert 'id="password"' in page.html
    for password, new_password, said in (
        (PASSWORD, "123", "6"),
        ("wrong", "new-pfx-pass", "(1/5)"),
    ):
        sealed = page_client.seal(
            page.key, page.token, page_client.form({}, password, new_password)
        )
        status, retry = await page_client.submit(site.client, url, sealed)
        assert (status, retry["done"]) == (200, False)
        assert said in "\n".join(retry["messages"])
    sealed = page_client.seal(page.key, page.token, page_client.form({}, PASSWORD, "new-pfx-pass"))
    status, result = await page_client.submit(site.client, url, sealed)
    assert (status, result["done"]) == (200, True), result
    pfx = base64.b64decode(result["file"]["data"])
    assert result["file"]["name"].endswith(".pfx")
    opened = npki.open_pfx(pfx, b"new-pfx-pass")
    assert opened.certificate.holder == "홍길동"
    # The chat's copy of the result tells the truth: the file was a download on the page,
    # not a message of this chat (KakaoTalk sends no files, and nothing to delete here).
    copy = texts(await site.say(USER, "안녕"))
    assert "보안 페이지에서 내려받을 수 있게 했어요" in copy
    assert "이 대화에서" not in copy


async def test_a_leaked_export_link_alone_does_not_give_the_key(
    site: Site,
    holder: Holder,
    seed_key: bytes,
) -> None:
    """The attack: whoever holds the "NPKI (zip)" link (a forwarded message, a shared
    screen) posts the form with no password, then guesses. Nothing comes back without
    the certificate's password; wrong ones count toward the lockout; the right one gets
    the original files, byte for byte."""
    url, page = await _export_page(site, holder, seed_key, "NPKI (zip)")
    assert 'id="password"' in page.html
    assert 'id="password" name="password" type="password" autocomplete="off" required' in (
        page.html
    )
    assert 'id="new-password"' not in page.html
    for password, said in (("", "인증서 비밀번호를 입력해 주세요"), ("guess", "(1/5)")):
        sealed = page_client.seal(page.key, page.token, page_client.form({}, password))
        status, answer = await page_client.submit(site.client, url, sealed)
        assert (status, answer["done"], answer["file"]) == (200, False, None), answer
        assert said in "\n".join(answer["messages"])
    sealed = page_client.seal(page.key, page.token, page_client.form({}, PASSWORD))
    status, result = await page_client.submit(site.client, url, sealed)
    assert (status, result["done"]) == (200, True), result
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(result["file"]["data"])))
    names = archive.namelist()
    assert archive.read(next(n for n in names if n.endswith("signPri.key"))) == seed_key
    assert archive.read(next(n for n in names if n.endswith("signCert.der"))) == holder.cert_der


async def test_five_wrong_passwords_on_an_export_page_lock_it(
    site: Site,
    holder: Holder,
    seed_key: bytes,
) -> None:
    """Guessing on the export page shares the chat's lockout: the fifth wrong password
    locks the certificate and ends the link, and no file ever came back."""
    url, page = await _export_page(site, holder, seed_key, "NPKI (zip)")
    for attempt in range(1, 6):
        sealed = page_client.seal(page.key, page.token, page_client.form({}, f"guess-{attempt}"))
        status, answer = await page_client.submit(site.client, url, sealed)
        assert status == 200
        assert answer["file"] is None
    assert answer["done"]
    assert "잠겼어요" in "\n".join(answer["messages"])
    again = await page_client.open_page(site.client, url)
    assert again.status == 410


async def test_a_certificate_without_key_exports_without_a_password(
    site: Site, holder: Holder
) -> None:
    """A certificate kept for reminders only has nothing secret: its page asks no
    password and gives the certificate alone."""
    await site.say(USER, "메뉴")
    (url,) = page_links(await site.press(USER, "인증서 등록"))
    status, _ = await page_client.submit_form(
        site.client, url, page_client.form({"signCert.der": holder.cert_der})
    )
    assert status == 200
    await site.say(USER, "메뉴")
    await site.press(USER, "인증서 내보내기")
    (url,) = page_links(await site.press(USER, "NPKI (zip)"))
    page = await page_client.open_page(site.client, url)
    assert 'id="password"' not in page.html
    sealed = page_client.seal(page.key, page.token, page_client.form({}))
    status, result = await page_client.submit(site.client, url, sealed)
    assert (status, result["done"]) == (200, True), result
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(result["file"]["data"])))
    assert [name.rsplit("/", 1)[1] for name in archive.namelist()] == ["signCert.der"]


# --- rendering limits --------------------------------------------------------------------


async def test_every_answer_fits_kakaos_limits(
    site: Site,
    holder: Holder,
    seed_key: bytes,
) -> None:
    """Through a whole session every answer has 1-3 outputs, texts within 1,000, at most
    10 quickReplies of at most 14 characters, and a body within 30,720 bytes."""
    await _register_through_page(site, USER, holder, seed_key)
    answers = [await site.say(USER, word) for word in ("시작", "메뉴", "/help", "/certs")]
    answers.append(await site.press(USER, labels(site.last[USER])[0]))
    for label in ("계좌 연결하기", "알림 설정", "개인정보와 데이터", "인증서 갱신"):
        await site.say(USER, "메뉴")
        answers.append(await site.press(USER, label))
    for answer in answers:
        _assert_fits(answer)


def _assert_fits(answer: dict[str, Any]) -> None:
    outputs = answer["template"]["outputs"]
    assert 1 <= len(outputs) <= 3
    for output in outputs:
        if "simpleText" in output:
            assert len(output["simpleText"]["text"].encode("utf-16-le")) // 2 <= 1000
    quick = answer["template"].get("quickReplies", [])
    assert len(quick) <= 10
    assert all(len(q["label"]) <= 14 for q in quick)
    assert len(json.dumps(answer, ensure_ascii=False).encode()) <= MAX_BODY_BYTES


async def test_a_certificate_list_reads_as_a_list_card(
    site: Site,
    holder: Holder,
    seed_key: bytes,
    other_holder: Holder,
) -> None:
    """Choices too long for quickReplies (`홍길동 · 2026-07-01`) become listCard items that
    carry the same tokens, and pressing one works."""
    other_key = factory.seed_cbc_sha1_key(other_holder.plain, factory.PASSWORD)
    await _register_through_page(site, USER, holder, seed_key)
    await _register_through_page(site, USER, other_holder, other_key)
    await site.say(USER, "메뉴")
    answer = await site.press(USER, "인증서 내보내기")
    assert "listCard" in json.dumps(answer["template"]["outputs"])
    items = buttons(answer)
    assert {item["title"].split(" · ")[0] for item in items} == {"홍길동", "김철수"}
    chosen = await site.press(USER, items[0]["title"])
    assert "PFX 파일" in labels(chosen)
    _assert_fits(chosen)


# --- the callback path ---------------------------------------------------------------------


async def test_a_slow_answer_goes_through_the_callback_url(tmp_path: Path) -> None:
    """When an answer is not ready in time and the block has callback on, Kakao is told
    to wait (`useCallback`) and the answer is posted to the callback URL."""
    async with (
        FakeKakaoCallback() as kakao,
        running_site(tmp_path, callback_after=0.0, callback_allowed=lambda _url: True) as started,
    ):
        url = kakao.callback_url()
        status, answer = await started.post(skill_payload(USER, "메뉴", callback_url=url))
        assert status == 200
        assert answer["useCallback"] is True
        await asyncio.wait_for(kakao.arrived.wait(), 5)
        posted = json.loads(kakao.received[0])
        assert posted["version"] == "2.0"
        assert "quickReplies" in posted["template"]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://bot-api.kakao.com/v1/callback/x", True),
        ("https://bot-api.kakao.com:443/v1/callback/x", True),
        ("https://kakao.com/x", True),
        ("http://bot-api.kakao.com/x", False),
        ("https://bot-api.kakao.com:8443/x", False),
        ("https://bot-api.kakao.com:80/x", False),
        ("https://bot-api.kakao.com:99999/x", False),
        ("https://bot-api.kakao.com:x/x", False),
        ("https://user:pw@bot-api.kakao.com/x", False),
        ("https://kakao.com.evil.example/x", False),
        ("https://evilkakao.com/x", False),
        ("https://127.0.0.1/x", False),
        ("ftp://bot-api.kakao.com/x", False),
        ("", False),
    ],
)
def test_callback_urls_are_kakaos_https_on_443_only(url: str, allowed: bool) -> None:
    assert kakao_callback_allowed(url) is allowed


async def test_a_callback_answered_with_a_redirect_is_not_followed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A callback answered 307 (to another host) is a failed callback: the answer is
    posted once, where Kakao said, and never to where the redirect points."""
    async with (
        FakeKakaoCallback() as thief,
        FakeKakaoCallback() as kakao,
        running_site(tmp_path, callback_after=0.0, callback_allowed=lambda _url: True) as site,
    ):
        kakao.redirect_to(thief.callback_url("steal"))
        url = kakao.callback_url()
        status, answer = await site.post(skill_payload(USER, "메뉴", callback_url=url))
        assert status == 200
        assert answer["useCallback"] is True
        await asyncio.wait_for(kakao.arrived.wait(), 5)
        await site.channel.stop(5)  # the callback task has finished
    assert len(kakao.received) == 1
    assert thief.received == []
    assert "redirected (HTTP 307); not followed" in caplog.text


async def test_a_callback_url_off_kakao_is_never_called(tmp_path: Path) -> None:
    """The callback URL comes in the payload: only Kakao's https hosts are called, so a
    leaked secret cannot turn certmate into a request forwarder. Even with every answer
    due through the callback at once, one to another host is answered in the response."""
    async with running_site(tmp_path, callback_after=0.0) as started:
        # An allowed URL would now get `useCallback` (test_a_slow_answer_goes_through_…).
        answer = await started.say(USER, "메뉴", callback_url="https://127.0.0.1:1/steal")
    assert "useCallback" not in answer
    assert answer["template"]["quickReplies"]


async def test_reminders_for_kakao_users_wait_as_notices_without_the_event_api(
    site: Site,
    holder: Holder,
    seed_key: bytes,
) -> None:
    """Without the Event API a Kakao user's reminder is kept and shown at their next
    message (the notifier for Kakao is the notice one)."""
    kept = notifiers(site.world.assistant.services)
    assert isinstance(kept[Channel.KAKAO], NoticeNotifier)
    user_id = await site.world.user_id(USER, Channel.KAKAO)
    assert user_id is None
    await _register_through_page(site, USER, holder, seed_key)
    user_id = await site.world.user_id(USER, Channel.KAKAO)
    assert user_id is not None
    async with site.world.database.write() as session:
        await notices.add(
            session,
            user_id,
            message_id="m1",
            text="인증서 만료 D-7",
            choices=[],
            certificates=[],
            now=site.world.clock(),
        )
    answer = await site.say(USER, "안녕")
    assert "인증서 만료 D-7" in texts(answer)


async def test_a_certificate_that_came_as_a_pfx_asks_its_password_for_an_npki_export(
    site: Site, other_holder: Holder
) -> None:
    """ "NPKI (zip)" of a certificate registered from a .pfx converts the key, so the
    export page asks the certificate's password, and the zip's key opens with it."""
    pfx = factory.openssl_pfx(other_holder.key, other_holder.cert, PASSWORD, cipher="aes")
    await site.say(USER, "메뉴")
    (url,) = page_links(await site.press(USER, "인증서 등록"))
    status, _ = await page_client.submit_form(
        site.client, url, page_client.form({"a.pfx": pfx}, PASSWORD)
    )
    assert status == 200
    await site.say(USER, "메뉴")
    await site.press(USER, "인증서 내보내기")
    (url,) = page_links(await site.press(USER, "NPKI (zip)"))
    page = await page_client.open_page(site.client, url)
    assert 'id="password"' in page.html
    assert 'id="new-password"' not in page.html
    sealed = page_client.seal(page.key, page.token, page_client.form({}, PASSWORD))
    status, result = await page_client.submit(site.client, url, sealed)
    assert (status, result["done"]) == (200, True), result
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(result["file"]["data"])))
    files = {name.rsplit("/", 1)[1]: archive.read(name) for name in archive.namelist()}
    opened = npki.open_pair(files["signCert.der"], files["signPri.key"], PASSWORD.encode())
    assert opened.certificate.holder == "김철수"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("인증서 등록", "아래 일회용 보안 페이지에서 등록해 주세요"),
        ("등록", "아래 일회용 보안 페이지에서 등록해 주세요"),
        ("내 인증서", "등록된 인증서가 없어요."),
        ("알림", "알림 설정\\n• 알림:"),
        ("도움말", "이렇게 도와드릴 수 있어요"),
    ],
)
async def test_a_typed_word_or_menu_label_is_understood_over_http(
    site: Site, typed: str, expected: str
) -> None:
    """KakaoTalk users type what the buttons say: a first message "인증서 등록" or "등록"
    opens the registration (the page link), not the fallback."""
    answer = await site.say(USER, typed)
    said = json.dumps(answer, ensure_ascii=False)
    assert expected in said, said
    assert "기대한 답이 아니에요" not in said
    assert "무엇을 도와드릴까요" not in said


async def test_no_text_promises_what_kakaotalk_cannot_do(site: Site) -> None:
    """KakaoTalk takes no files in chat, deletes nothing and sends no files: /start, help,
    the fallback, a photo's answer and /privacy say the secure page instead."""
    said = [
        texts(await site.say(USER, "/start")),
        texts(await site.say(USER, "/help")),
        texts(await site.say(USER, "아무 말")),
        texts(await site.say(USER, "사진", params={"secureimage": "{}"})),
        texts(await site.say(USER, "/privacy")),
    ]
    for text in said:
        for untrue in ("보내셔도", "바로 지워요", "파일로 보내 주세요", "파일을 보내시면"):
            assert untrue not in text, (untrue, text)
    assert all("보안 페이지" in text for text in said[:5]), said


async def test_a_typed_button_label_answers_the_question_it_belongs_to(site: Site) -> None:
    """Issue 14 item 2: after "시작" asks for the device, typing "아이폰" (a quick reply's
    label, typed instead of pressed) answers it, as pressing does; it was "not what this
    step expected" and the question was dropped."""
    asked = await site.say(USER, "시작")
    assert "아이폰" in labels(asked)
    answer = texts(await site.say(USER, "아이폰"))
    assert "아이폰으로 설정했어요" in answer, answer
    assert "기대한 답이 아니에요" not in answer
    async with site.world.database.read() as session:
        (user,) = (await session.scalars(select(User))).all()
    assert user.platform == "ios"
