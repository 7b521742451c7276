"""The real-browser test infrastructure: headless Chromium against a local aiohttp server.

The server runs on the test's event loop; Selenium's blocking calls run on a worker
thread (`asyncio.to_thread`) so the server keeps answering while the browser waits.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import browser  # noqa: F401

CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'"
TITLE = "certmate browser test"

PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{TITLE}</title>
<script src="/app.js" defer></script>
</head>
<body>
<input type="file" id="file">
<button type="button" id="send">Send</button>
<p id="status">idle</p>
<script>document.title = "inline script ran";</script>
</body>
</html>
"""

SCRIPT = """"use strict";
document.getElementById("send").addEventListener("click", async () => {
  const status = document.getElementById("status");
  try {
    const file = document.getElementById("file").files[0];
    const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
    const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0"));
    const response = await fetch("/digest", {
      method: "POST",
      headers: {"Content-Type": "text/plain"},
      body: hex.join(""),
    });
    status.textContent = response.ok ? "sent" : `failed: ${response.status}`;
  } catch (err) {
    status.textContent = `error: ${err}`;
  }
});
"""


@dataclass
class Site:
    """The test server: its address and the digests the page posted to it."""

    url: str
    digests: asyncio.Queue[str] = field(default_factory=asyncio.Queue)


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    """A page, its script and a digest endpoint on 127.0.0.1, all under a strict CSP."""
    app = web.Application()
    digests: asyncio.Queue[str] = asyncio.Queue()

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def script(_request: web.Request) -> web.Response:
        return web.Response(text=SCRIPT, content_type="text/javascript")

    async def digest(request: web.Request) -> web.Response:
        digests.put_nowait(await request.text())
        return web.Response(status=204)

    async def secure_headers(_request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"

    app.on_response_prepare.append(secure_headers)
    app.router.add_get("/", page)
    app.router.add_get("/app.js", script)
    app.router.add_post("/digest", digest)

    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    try:
        host, port = runner.addresses[0][:2]
        yield Site(f"http://{host}:{port}/", digests)
    finally:
        await runner.cleanup()


async def test_page_hashes_a_chosen_file_and_posts_the_digest(
    browser: webdriver.Chrome,  # noqa: F811
    site: Site,
    tmp_path: Path,
) -> None:
    """A file chosen in a real file input is read, SHA-256'd with WebCrypto and POSTed back
    by a same-origin script under a strict CSP, which blocks the page's inline script."""
    upload = tmp_path / "signCert.der"
    upload.write_bytes(secrets.token_bytes(64 * 1024))

    def choose_and_send() -> None:
        browser.get(site.url)
        browser.find_element(By.ID, "file").send_keys(str(upload))
        browser.find_element(By.ID, "send").click()

    await asyncio.to_thread(choose_and_send)
    received = await asyncio.wait_for(site.digests.get(), timeout=10)

    assert received == hashlib.sha256(upload.read_bytes()).hexdigest()

    def outcome() -> tuple[str, str]:
        status = browser.find_element(By.ID, "status")
        WebDriverWait(browser, 5).until(lambda _driver: status.text != "idle")
        return status.text, browser.title

    assert await asyncio.to_thread(outcome) == ("sent", TITLE)


async def test_loopback_http_is_a_secure_context(
    browser: webdriver.Chrome,  # noqa: F811
    site: Site,
) -> None:
    """http://127.0.0.1 counts as a secure context, so WebCrypto works there without TLS."""

    def probe() -> object:
        browser.get(site.url)
        return browser.execute_script(
            "return [window.isSecureContext, typeof crypto.subtle?.digest];"
        )

    assert await asyncio.to_thread(probe) == [True, "function"]
