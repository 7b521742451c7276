"""The secure page as a careful person sees it on a phone (390×844, headless Chromium with
a Korean font): who is asking and until when, what happens to the files, Korean that
wraps between words only, a real primary button, and a result that replaces the
instructions. Each test saves its screenshots and prints their paths.
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from storage import audit, links
from storage.links import OpenedLink
from storage.models import AuditAction, Channel
from tests import page_client, png
from tests.bot.kakao_site import Site
from tests.browser import (
    as_phone,
    require_korean_font,
    screenshot,
    set_download_dir,
    wait_for_download,
)
from tests.conftest import Holder
from tests.fakes.kakao_skill import labels, page_links
from tests.handlers.conftest import PASSWORD

USER = "phone-user"
NEW_PASSWORD = "pfx-new-4Fz!"  # noqa: S105  (a test password)

# Every visible word (a run of text between spaces; a file name may still wrap after a
# hyphen or a slash) that was laid out on more than one line.
_BROKEN_WORDS_JS = """
const broken = [];
for (const element of document.querySelectorAll("h1, h2, p, li, label, button, a")) {
  if (!element.getClientRects().length) continue;
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const match of node.data.matchAll(/[^\\s\\/-]+[\\/-]?/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const tops = Array.from(range.getClientRects(), (r) => r.top);
      if (tops.length && Math.max(...tops) - Math.min(...tops) > 8) broken.push(match[0]);
    }
  }
}
return broken;
"""

_BUTTON_JS = """
const style = getComputedStyle(document.getElementById("submit"));
const page = getComputedStyle(document.body);
return [style.backgroundColor, style.color, page.backgroundColor,
        getComputedStyle(document.getElementById("instructions")).backgroundColor];
"""


def _rgb(css: str) -> tuple[int, int, int]:
    """`rgb(29, 78, 216)` (or rgba) as numbers."""
    inside = css[css.index("(") + 1 : css.index(")")]
    r, g, b = (round(float(part)) for part in inside.split(",")[:3])
    return r, g, b


def _luminance(colour: tuple[int, int, int]) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(one: tuple[int, int, int], other: tuple[int, int, int]) -> float:
    high, low = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _text(driver: webdriver.Chrome, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).text)


def _shot(driver: webdriver.Chrome, folder: Path, name: str) -> png.Region:
    """Screenshot the viewport into `folder/name`, print its path, and measure the part
    of it where the page's text is (the `main` element, within the viewport)."""
    path = folder / name
    data = screenshot(driver, path)
    print(f"\nscreenshot: {path}")  # noqa: T201  (the path is the point)
    box: dict[str, Any] = driver.execute_script(
        "const r = document.querySelector('main').getBoundingClientRect();"
        "return {left: r.left, top: r.top, right: r.right, bottom: r.bottom,"
        " scale: window.devicePixelRatio};"
    )
    image = png.read(data)
    scale = float(box["scale"])
    assert (image.width, image.height) == (round(390 * scale), round(844 * scale))
    return png.region(
        image,
        round(box["left"] * scale),
        round(box["top"] * scale),
        round(box["right"] * scale),
        round(min(box["bottom"], 844) * scale),
    )


def _not_blank(region: png.Region) -> None:
    """Text was drawn: a fair share of the region is not background, much of it dark
    enough to be letters, in the many shades anti-aliasing gives."""
    assert region.differing / region.pixels > 0.04, region
    assert region.dark / region.pixels > 0.02, region
    assert region.colours > 64, region


def _words_whole(driver: webdriver.Chrome) -> None:
    assert driver.execute_script("return getComputedStyle(document.body).wordBreak") == ("keep-all")
    broken: list[str] = driver.execute_script(_BROKEN_WORDS_JS)
    assert broken == [], f"words broken across lines: {broken}"


def _look_at_register(driver: webdriver.Chrome, url: str, folder: Path) -> png.Region:
    as_phone(driver)
    driver.get(url)
    WebDriverWait(driver, 20).until(lambda d: d.find_element(By.ID, "submit").is_displayed())
    _words_whole(driver)
    button, label, page, card = (_rgb(c) for c in driver.execute_script(_BUTTON_JS))
    assert max(button) - min(button) > 80, f"the primary button is not coloured: {button}"
    assert _contrast(button, label) >= 4.5, (button, label)
    assert _contrast(button, page) >= 3, (button, page)
    assert card != page  # the instructions stand on their own card
    return _shot(driver, folder, "secure-page-register-390x844.png")


def _register(driver: webdriver.Chrome, files: list[Path], folder: Path) -> png.Region:
    driver.find_element(By.ID, "files").send_keys("\n".join(str(path) for path in files))
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "submit").click()
    WebDriverWait(driver, 20).until(lambda d: d.find_element(By.ID, "result").is_displayed())
    _words_whole(driver)
    return _shot(driver, folder, "secure-page-registered-390x844.png")


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    require_korean_font()
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return folder


async def test_the_register_page_on_a_phone(
    site: Site,
    browser: webdriver.Chrome,
    *,
    pair_files: tuple[Path, Path],
    screenshots: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """At 390×844 the page says who asks (certmate, in KakaoTalk), until when the link
    works (10:10, ten minutes after it was sent at 10:00 in Seoul) and what happens to
    the files; no Korean word is broken across lines; the button is a coloured primary
    button; once registered, a success state with the result replaces the instructions."""
    await site.say(USER, "메뉴")
    (url,) = page_links(await site.press(USER, "인증서 등록"))
    with capsys.disabled():
        before = await asyncio.to_thread(_look_at_register, browser, url, screenshots)
    _not_blank(before)
    shown = await asyncio.to_thread(lambda: browser.find_element(By.TAG_NAME, "body").text)
    assert "카카오톡의 certmate 대화에서 보낸 링크예요." in shown
    assert "10:10까지, 한 번만 쓸 수 있어요." in shown
    assert "파일과 비밀번호는 이렇게 다뤄요" in shown
    assert "비밀번호는 개인키가 열리는지 확인하는 데만 쓰고 저장하지 않아요." in shown
    assert await asyncio.to_thread(lambda: browser.title) == "certmate · 인증서 등록"

    with capsys.disabled():
        after = await asyncio.to_thread(_register, browser, list(pair_files), screenshots)
    _not_blank(after)
    assert not await asyncio.to_thread(browser.find_element(By.ID, "instructions").is_displayed)
    result = await asyncio.to_thread(_text, browser, "result")
    assert result.startswith("등록했어요")
    assert "홍길동" in result
    assert "대화창으로 돌아가셔도 돼요" in result


async def test_a_locked_page_says_it_closed_not_that_it_succeeded(
    site: Site, browser: webdriver.Chrome, pair_files: tuple[Path, Path]
) -> None:
    """Five wrong passwords lock the key and use the link up: the result replaces the
    form as for a success, but its heading says the link closed, not "registered"."""
    await site.say(USER, "메뉴")
    (url,) = page_links(await site.press(USER, "인증서 등록"))
    for _ in range(4):
        status, _answer = await page_client.submit_form(
            site.client, url, page_client.form(_pair_bytes(pair_files), "wrong-password")
        )
        assert status == 200

    def last_try() -> str:
        browser.get(url)
        browser.find_element(By.ID, "files").send_keys("\n".join(str(p) for p in pair_files))
        browser.find_element(By.ID, "password").send_keys("wrong-password")
        browser.find_element(By.ID, "submit").click()
        WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "result").is_displayed())
        return _text(browser, "result")

    result = await asyncio.to_thread(last_try)
    assert result.startswith("이 링크는 닫혔어요")
    assert "등록했어요" not in result
    assert not await asyncio.to_thread(browser.find_element(By.ID, "instructions").is_displayed)


def _pair_bytes(files: tuple[Path, Path]) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in files}


async def _export_link(site: Site, holder: Holder, seed_key: bytes, target: str) -> str:
    """Register the holder's pair through the page, then ask to export it: the export
    page's link for the format whose button starts with `target`."""
    await site.say(USER, "메뉴")
    (url,) = page_links(await site.press(USER, "인증서 등록"))
    files = {"signCert.der": holder.cert_der, "signPri.key": seed_key}
    status, _ = await page_client.submit_form(site.client, url, page_client.form(files, PASSWORD))
    assert status == 200
    await site.say(USER, "메뉴")
    answer = await site.press(USER, "인증서 내보내기")
    (label,) = [label for label in labels(answer) if label.startswith(target)]
    (url,) = page_links(await site.press(USER, label))
    return url


async def _still_open(site: Site, url: str) -> bool:
    services = site.world.assistant.services
    async with services.database.read() as session:
        found = await links.find(
            session, services.vault, page_client.token_of(url), services.clock()
        )
    return isinstance(found, OpenedLink)


async def _exports(site: Site) -> int:
    user_id = await site.world.user_id(USER, Channel.KAKAO)
    assert user_id is not None
    async with site.world.database.read() as session:
        events = await audit.list_for_owner(session, user_id)
    return sum(1 for event in events if event.action == AuditAction.EXPORT)


async def test_the_pfx_export_page_asks_the_new_password_twice(
    site: Site,
    browser: webdriver.Chrome,
    *,
    holder: Holder,
    seed_key: bytes,
    tmp_path: Path,
    screenshots: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The PFX export page asks the certificate password first, then the new PFX password
    twice. Two different new passwords are said on the page before anything is sent (the
    link stays unused, nothing is exported); the same one twice downloads the .pfx, and
    the page says the file was downloaded here, not to delete it "from this chat"."""
    url = await _export_link(site, holder, seed_key, "PFX")
    downloads = tmp_path / "downloads"

    def open_and_mistype() -> tuple[list[str], str]:
        set_download_dir(browser, downloads)
        as_phone(browser)
        browser.get(url)
        fields = browser.find_elements(By.CSS_SELECTOR, "#page-form input")
        order = [str(field.get_attribute("id")) for field in fields]
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "new-password").send_keys(NEW_PASSWORD)
        browser.find_element(By.ID, "new-password-again").send_keys(NEW_PASSWORD + "x")
        browser.find_element(By.ID, "submit").click()
        WebDriverWait(browser, 10).until(lambda d: _text(d, "status"))
        return order, _text(browser, "status")

    order, said = await asyncio.to_thread(open_and_mistype)
    assert order == ["password", "new-password", "new-password-again"]
    assert said == (
        "두 번 입력한 새 비밀번호가 서로 달라요. 같은 비밀번호를 두 번 입력해 주세요."
        " 아직 아무것도 보내지 않았어요."
    )
    assert await _still_open(site, url)
    assert await _exports(site) == 0
    assert not downloads.exists() or not list(downloads.iterdir())
    with capsys.disabled():
        region = await asyncio.to_thread(
            _shot, browser, screenshots, "secure-page-export-mismatch-390x844.png"
        )
    _not_blank(region)

    def retype() -> str:
        browser.find_element(By.ID, "new-password-again").send_keys(NEW_PASSWORD)
        browser.find_element(By.ID, "submit").click()
        WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "result").is_displayed())
        _words_whole(browser)
        return str(browser.find_element(By.TAG_NAME, "body").text)

    shown = await asyncio.to_thread(retype)
    saved = await asyncio.to_thread(wait_for_download, downloads)
    assert saved.suffix == ".pfx"
    assert await _exports(site) == 1
    assert "파일이 준비됐어요" in shown
    assert f"{saved.name} 파일을 이 기기로 내려받아요." in shown
    assert "이 대화" not in shown
    assert "대화방에서" not in shown
    with capsys.disabled():
        await asyncio.to_thread(_shot, browser, screenshots, "secure-page-exported-390x844.png")


async def test_an_npki_export_page_asks_one_password_and_says_where_the_file_went(
    site: Site, browser: webdriver.Chrome, holder: Holder, seed_key: bytes, tmp_path: Path
) -> None:
    """NPKI (zip) asks only the certificate password (no new one); the result names the
    downloaded zip and never tells to delete it from a chat."""
    url = await _export_link(site, holder, seed_key, "NPKI (zip)")
    downloads = tmp_path / "downloads"

    def export() -> tuple[list[str], str]:
        set_download_dir(browser, downloads)
        browser.get(url)
        fields = browser.find_elements(By.CSS_SELECTOR, "#page-form input")
        order = [str(field.get_attribute("id")) for field in fields]
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "submit").click()
        WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "result").is_displayed())
        return order, _text(browser, "result")

    order, result = await asyncio.to_thread(export)
    assert order == ["password"]
    saved = await asyncio.to_thread(wait_for_download, downloads)
    assert zipfile.is_zipfile(io.BytesIO(saved.read_bytes()))
    assert result.startswith("파일이 준비됐어요")
    assert f"{saved.name} 파일을 이 기기로 내려받아요." in result
    assert "이 대화에서" not in result
