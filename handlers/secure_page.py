"""Links to the secure page, for flows: where files and passwords go when the chat
cannot take them safely (KakaoTalk), or when the user prefers not to type a
password into a chat (Telegram's "enter the password on a secure page")."""

from __future__ import annotations

from typing import Any, Final

from handlers.flow import Context
from storage import links
from storage.links import Purpose

PAGE_PATH: Final = "/u/"


async def page_url(ctx: Context, purpose: Purpose, **details: Any) -> str:
    """A new one-time link for this user (valid `links.LIFETIME`); beyond the user's
    cap of open links, the oldest is revoked (its page says a newer link replaced it)."""
    issued = await links.issue(
        ctx.session,
        ctx.services.vault,
        ctx.user_id,
        purpose,
        ctx.now,
        details=details,
        open_per_user=ctx.services.settings.caps.open_links,
    )
    return f"{ctx.services.settings.public_url.rstrip('/')}{PAGE_PATH}{issued.token}"
