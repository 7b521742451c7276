"""The secure page in a real browser (headless Chromium): the page's own script encrypts
with WebCrypto, the server registers, and the link cannot be used twice.

The site runs on the test's event loop; Selenium's blocking calls run on a worker
thread so the server keeps answering while the browser waits.
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from storage import certificates
from storage.models import Channel
from tests import page_client
from tests.bot.kakao_site import Site
from tests.browser import set_download_dir, wait_for_download
from tests.conftest import Holder
from tests.fakes.kakao_skill import page_links
from tests.handlers.conftest import PASSWORD

USER = "browser-user"


def _status(driver: webdriver.Chrome, contains: str) -> str:
    """Wait until the page's status says `contains`; returns the whole status text."""
    WebDriverWait(driver, 20).until(lambda d: contains in d.find_element(By.ID, "status").text)
    return str(driver.find_element(By.ID, "status").text)


def _result(driver: webdriver.Chrome) -> str:
    """Wait until the result replaced the instructions; returns what it says."""
    WebDriverWait(driver, 20).until(lambda d: d.find_element(By.ID, "result").is_displayed())
    return str(driver.find_element(By.ID, "result").text)


def _fill_and_submit(driver: webdriver.Chrome, files: list[Path], password: str) -> None:
    if files:
        chooser = driver.find_element(By.ID, "files")
        chooser.send_keys("\n".join(str(path) for path in files))
    field = driver.find_element(By.ID, "password")
    field.clear()
    field.send_keys(password)
    driver.find_element(By.ID, "submit").click()


async def test_registration_in_a_real_browser(
    site: Site,
    browser: webdriver.Chrome,
    pair_files: tuple[Path, Path],
) -> None:
    """Open the link from KakaoTalk, choose signCert.der and signPri.key, type a wrong
    password (the page says so and keeps the form), then the right one: the page shows
    the registered certificate, the database holds it, and the link is refused after."""
    await site.say(USER, "메뉴")
    (url,) = page_links(await site.press(USER, "인증서 등록"))
    await asyncio.to_thread(browser.get, url)
    assert await asyncio.to_thread(lambda: browser.title) == "certmate · 인증서 등록"

    await asyncio.to_thread(_fill_and_submit, browser, list(pair_files), "not-the-password")
    wrong = await asyncio.to_thread(_status, browser, "비밀번호가 맞지 않아요")
    assert "(1/5)" in wrong
    # The form stays, files still chosen: only the password is typed again.
    await asyncio.to_thread(_fill_and_submit, browser, [], PASSWORD)
    done = await asyncio.to_thread(_result, browser)
    assert "대화창으로 돌아가셔도 돼요" in done
    assert "홍길동" in done
    assert not await asyncio.to_thread(browser.find_element(By.ID, "page-form").is_displayed)

    user_id = await site.world.user_id(USER, Channel.KAKAO)
    assert user_id is not None
    async with site.world.database.read() as session:
        (row,) = await certificates.list_active(session, user_id)
    assert row.holder == "홍길동"
    assert row.has_private_key

    await asyncio.to_thread(browser.get, url)
    body = await asyncio.to_thread(lambda: browser.find_element(By.TAG_NAME, "body").text)
    assert "이 링크는 이미 사용했어요" in body


async def test_an_export_downloads_in_a_real_browser(
    site: Site,
    browser: webdriver.Chrome,
    holder: Holder,
    seed_key: bytes,
    tmp_path: Path,
) -> None:
    """ "NPKI (zip)" from KakaoTalk: the page asks the certificate password (a wrong one
    is said and the form stays), then its button downloads the zip, which holds the
    original signPri.key in the NPKI folder layout."""
    await site.say(USER, "메뉴")
    (url,) = page_links(await site.press(USER, "인증서 등록"))
    files = {"signCert.der": holder.cert_der, "signPri.key": seed_key}
    status, _ = await page_client.submit_form(site.client, url, page_client.form(files, PASSWORD))
    assert status == 200
    await site.say(USER, "메뉴")
    await site.press(USER, "인증서 내보내기")
    (url,) = page_links(await site.press(USER, "NPKI (zip)"))

    downloads = tmp_path / "downloads"
    await asyncio.to_thread(set_download_dir, browser, downloads)
    await asyncio.to_thread(browser.get, url)
    await asyncio.to_thread(_fill_and_submit, browser, [], "not-the-password")
    wrong = await asyncio.to_thread(_status, browser, "비밀번호가 맞지 않아요")
    assert "(1/5)" in wrong
    assert not list(downloads.glob("*"))
    await asyncio.to_thread(_fill_and_submit, browser, [], PASSWORD)
    assert "대화창으로 돌아가셔도 돼요" in await asyncio.to_thread(_result, browser)
    saved = await asyncio.to_thread(wait_for_download, downloads)
    assert saved.name.endswith("-NPKI.zip")
    archive = zipfile.ZipFile(io.BytesIO(saved.read_bytes()))
    (key_name,) = [name for name in archive.namelist() if name.endswith("/signPri.key")]
    assert key_name.startswith("NPKI/yessign/USER/")
    assert archive.read(key_name) == seed_key
