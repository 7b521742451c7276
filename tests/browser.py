"""A real browser for tests: headless Debian Chromium driven by Selenium, fully offline.

Use it from a test module with

    from tests.browser import browser  # noqa: F401

and take `browser` as an argument. Each test gets its own Chromium with a fresh profile
(starting one costs about half a second). Selenium calls block: from an async test that
serves the page on its own loop, run them with `await asyncio.to_thread(...)`.

For downloads, open a browser with `make_browser(download_dir=...)` or point the fixture's
browser at a directory with `set_download_dir`, then `wait_for_download`. For a phone,
`as_phone` sets the viewport (390×844 CSS pixels by default) and `screenshot` takes it.

Chromium, chromedriver and a Korean font (Nanum) come from apt (`make test` installs
them). When they are missing the tests fail rather than skip: CI must not go green
without the browser, nor with screenshots of Korean drawn as empty boxes.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

# Selenium Manager is skipped when the driver path is given, as below; should anything
# still reach it, it must not try the network (there is none at test time).
os.environ.setdefault("SE_OFFLINE", "true")

CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",  # tests run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-dev-shm-usage",  # containers give /dev/shm 64 MB; Chromium then crashes
    "--disable-background-networking",
    "--no-first-run",
    "--no-default-browser-check",
    "--window-size=1280,900",
)

# Partial downloads carry these suffixes until Chromium renames them.
_PARTIAL_SUFFIXES = (".crdownload", ".tmp")


def _executables() -> tuple[str, str]:
    """Chromium's and chromedriver's paths; fails the test when either is missing."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    chromedriver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    missing = [path for path in (chromium, chromedriver) if not Path(path).is_file()]
    if missing:
        pytest.fail(
            f"browser tests need Chromium and chromedriver; missing: {', '.join(missing)}. "
            "`make test` installs them (apt-get install chromium chromium-driver).",
            pytrace=False,
        )
    return chromium, chromedriver


@contextmanager
def make_browser(download_dir: Path | None = None) -> Iterator[webdriver.Chrome]:
    """A headless Chromium with a throwaway profile; downloads land in `download_dir`."""
    chromium, chromedriver = _executables()
    with tempfile.TemporaryDirectory(prefix="certmate-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for argument in CHROMIUM_ARGS:
            options.add_argument(argument)
        options.add_argument(f"--user-data-dir={profile}")
        if download_dir is not None:
            options.add_experimental_option(
                "prefs",
                {
                    "download.default_directory": str(download_dir),
                    "download.prompt_for_download": False,
                    "download.directory_upgrade": True,
                    "safebrowsing.enabled": False,
                },
            )
        driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
        try:
            if download_dir is not None:
                set_download_dir(driver, download_dir)
            yield driver
        finally:
            driver.quit()


def require_korean_font() -> None:
    """Fail the test unless fontconfig knows a font with Hangul (Debian's fonts-nanum)."""
    found = ""
    fc_list = shutil.which("fc-list")
    if fc_list:
        listing = subprocess.run(
            [fc_list, ":lang=ko", "family"], capture_output=True, text=True, check=False
        )
        found = listing.stdout.strip()
    if not found:
        pytest.fail(
            "screenshots need a Korean font; none found (fc-list :lang=ko). "
            "`make test` installs it (apt-get install fonts-nanum).",
            pytrace=False,
        )


def as_phone(driver: webdriver.Chrome, width: int = 390, height: int = 844) -> None:
    """Show pages as a phone of `width`×`height` CSS pixels does (mobile viewport, the
    page's `<meta name="viewport">` honoured, 2 device pixels per CSS pixel)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True},
    )


def screenshot(driver: webdriver.Chrome, path: Path) -> bytes:
    """The viewport as PNG, written to `path` too."""
    taken = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    data = base64.b64decode(taken["data"])
    path.write_bytes(data)
    return data


def set_download_dir(driver: webdriver.Chrome, download_dir: Path) -> None:
    """Save every later download to `download_dir` without asking (via DevTools)."""
    download_dir.mkdir(parents=True, exist_ok=True)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior",
        {"behavior": "allow", "downloadPath": str(download_dir), "eventsEnabled": False},
    )


def wait_for_download(download_dir: Path, *, timeout: float = 10.0) -> Path:
    """The one completed file in `download_dir`, waiting until Chromium has finished it."""
    deadline = time.monotonic() + timeout
    while True:
        files = [path for path in download_dir.iterdir() if path.is_file()]
        done = [path for path in files if not path.name.endswith(_PARTIAL_SUFFIXES)]
        if done and len(done) == len(files):
            if len(done) > 1:
                raise AssertionError(f"expected one download, found {sorted(done)}")
            return done[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no finished download in {download_dir} after {timeout} s")
        time.sleep(0.05)


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    """A fresh headless Chromium for one test (no download directory; see set_download_dir)."""
    with make_browser() as driver:
        yield driver
