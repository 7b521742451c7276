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

BOT_NAME: Final = "certmate"
"""Who asks, as the bot calls itself in every chat."""
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
        {"done": answer.done, "stored": answer.stored, "messages": answer.messages, "file": file},
        status=answer.status,
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


def render(view: PageView, token: str) -> str:
    """The page's HTML: who asks and until when, then a form for an open link (a short
    explanation for any other), a result area that replaces the instructions once the
    link is used, and what happens to the files."""
    w = view.words
    content = f'<p class="refusal">{_e(view.refusal)}</p>' if view.refusal else _form(view)
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
        "mismatch": w.mismatch,
        "done-title": w.done_title,
        "closed-title": w.closed_title,
    }
    attributes = " ".join(f'data-{name}="{_e(value)}"' for name, value in data.items())
    title = f"{BOT_NAME} · {w.title}" if w.title else BOT_NAME
    about = "".join(
        f'<p class="{name}">{_e(text)}</p>\n'
        for name, text in (("asker", w.asker), ("expires", w.expires))
        if text
    )
    return f"""<!doctype html>
<html lang="{_e(w.locale)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{_e(title)}</title>
<link rel="stylesheet" href="{STYLE_PATH}">
<script src="{SCRIPT_PATH}" defer></script>
</head>
<body {attributes}>
<main>
<header class="brand"><span class="mark" aria-hidden="true"></span>{BOT_NAME}</header>
<h1>{_e(w.title)}</h1>
{about}<section id="instructions">
{content}
</section>
<div id="status" role="status" aria-live="polite"></div>
<section id="result" hidden>
<h2 id="result-title"></h2>
<div id="result-messages"></div>
</section>
{_facts(view)}</main>
</body>
</html>
"""


def _form(view: PageView) -> str:
    """The instructions and the form. On the export page the certificate's password comes
    first (it proves the right to the key), then the PFX's new one, typed twice."""
    w = view.words
    fields = ""
    if view.asks_files:
        fields += f"""<label for="files">{_e(w.files_label)}</label>
<input id="files" name="files" type="file" multiple accept=".der,.key,.zip,.pfx,.p12">
"""
    if view.needs_password:
        # Not required to register: a certificate alone, with no password, registers for
        # reminders only. Required to export: the server refuses an empty one anyway.
        required = " required" if view.password_required else ""
        fields += f"""<label for="password">{_e(w.password_label)}</label>
<input id="password" name="password" type="password" autocomplete="off"{required}>
"""
    else:
        fields += f'<p class="no-password">{_e(w.no_password_needed)}</p>\n'
    if view.needs_new_password:
        minimum = view.new_password_minimum
        fields += f"""<label for="new-password">{_e(w.new_password_label)}</label>
<input id="new-password" name="new-password" type="password" autocomplete="new-password"
 minlength="{minimum}" required>
<label for="new-password-again">{_e(w.new_password_again_label)}</label>
<input id="new-password-again" name="new-password-again" type="password"
 autocomplete="new-password" minlength="{minimum}" required>
"""
    return f"""<p class="lead">{_e(w.lead)}</p>
<form id="page-form" autocomplete="off">
{fields}<button id="submit" class="primary" type="submit">{_e(w.submit)}</button>
</form>"""


def _facts(view: PageView) -> str:
    """What happens to the files and the password, in a few plain sentences."""
    w = view.words
    if not w.facts:
        return ""
    items = "".join(f"<li>{_e(fact)}</li>" for fact in w.facts)
    return f"""<section class="facts">
<h2>{_e(w.facts_title)}</h2>
<ul>{items}</ul>
</section>
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)
