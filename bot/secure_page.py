"""The secure page over HTTP: `GET /u/<token>` shows it, `POST /u/<token>` takes its
encrypted submission. What it means lives in `handlers.pages`; this module
renders HTML and sets the headers that keep the page to itself.

The token is in the path, so the page sends no Referer and is never cached;
the Content-Security-Policy allows only this server's own script and style
(no inline code at all), and only Telegram's web client may frame it (a
Telegram Web App).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Final

from aiohttp import web

from handlers.pages import PageView, SecurePages

PAGE_ROUTE: Final = "/u/{token}"
SCRIPT_PATH: Final = "/static/secure-page.js"
STYLE_PATH: Final = "/static/secure-page.css"
POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
    " img-src 'self'; form-action 'none'; base-uri 'none';"
    " frame-ancestors https://web.telegram.org"
)
HEADERS: Final = {
    "Content-Security-Policy": POLICY,
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
}
_PAGES_KEY: Final = web.AppKey("secure_pages", SecurePages)


def add_routes(app: web.Application, pages: SecurePages) -> None:
    app[_PAGES_KEY] = pages
    static = resources.files("bot") / "static"
    script = (static / "secure-page.js").read_bytes()
    style = (static / "secure-page.css").read_bytes()
    app.router.add_get(SCRIPT_PATH, _static(script, "text/javascript"))
    app.router.add_get(STYLE_PATH, _static(style, "text/css"))
    app.router.add_get(PAGE_ROUTE, _show)
    app.router.add_post(PAGE_ROUTE, _submit)


def _static(data: bytes, content_type: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def serve(_request: web.Request) -> web.Response:
        return web.Response(
            body=data,
            content_type=content_type,
            charset="utf-8",
            headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"},
        )

    return serve


async def _show(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    view = await request.app[_PAGES_KEY].view(token)
    status = 410 if view.refusal else 200
    return web.Response(
        text=render(view, token), status=status, content_type="text/html", headers=HEADERS
    )


async def _submit(request: web.Request) -> web.Response:
    envelope = await request.read()
    answer = await request.app[_PAGES_KEY].submit(request.match_info["token"], envelope)
    file = None
    if answer.file_name:
        file = {"name": answer.file_name, "data": base64.b64encode(answer.file_data).decode()}
    return web.json_response(
        {"done": answer.done, "messages": answer.messages, "file": file},
        status=answer.status,
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


def render(view: PageView, token: str) -> str:
    """The page's HTML: a form for an open link, a short explanation for any other."""
    w = view.words
    content = f"<p>{_e(view.refusal)}</p>" if view.refusal else _form(view)
    data = {
        "token": token,
        "key": view.public_key,
        "max-bytes": str(view.upload_bytes),
        "working": w.working,
        "failed": w.failed,
        "no-webcrypto": w.no_webcrypto,
        "back-to-chat": w.back_to_chat,
        "download": w.download,
        "too-big": w.too_big,
    }
    attributes = " ".join(f'data-{name}="{_e(value)}"' for name, value in data.items())
    return f"""<!doctype html>
<html lang="{_e(w.locale)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{_e(w.title)}</title>
<link rel="stylesheet" href="{STYLE_PATH}">
<script src="{SCRIPT_PATH}" defer></script>
</head>
<body {attributes}>
<h1>{_e(w.title)}</h1>
{content}
<div id="status" role="status" aria-live="polite"></div>
<div id="result"></div>
<p class="note">{_e(w.privacy)}</p>
</body>
</html>
"""


def _form(view: PageView) -> str:
    w = view.words
    fields = ""
    if view.asks_files:
        fields += f"""<label for="files">{_e(w.files_label)}</label>
<input id="files" name="files" type="file" multiple accept=".der,.key,.zip,.pfx,.p12">
"""
    if view.needs_new_password:
        fields += f"""<label for="new-password">{_e(w.new_password_label)}</label>
<input id="new-password" name="new-password" type="password" autocomplete="new-password"
 minlength="{view.new_password_minimum}" required>
"""
    if view.needs_password:
        # Not required to register: a certificate alone, with no password, registers for
        # reminders only. Required to export: the server refuses an empty one anyway.
        required = " required" if view.password_required else ""
        fields += f"""<label for="password">{_e(w.password_label)}</label>
<input id="password" name="password" type="password" autocomplete="off"{required}>
"""
    else:
        fields += f"<p>{_e(w.no_password_needed)}</p>\n"
    return f"""<p>{_e(w.lead)}</p>
<form id="page-form" autocomplete="off">
{fields}<button id="submit" type="submit">{_e(w.submit)}</button>
</form>"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)
