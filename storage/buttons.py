"""Button tokens: a button sends an opaque token; what it means is kept here, per user.

A token resolves only for the user it was issued to; a forged, foreign or
expired token resolves to nothing, and the caller answers "not found". Each
user keeps at most `per_user` tokens: writing new ones forgets the oldest, so
no one fills the table by pressing and typing for days.

A button's label is kept too, so that typing what a button says presses it (KakaoTalk
users type a quick reply's label as often as they press it): only the buttons of the
latest answer that showed any are matched.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.database import before_commit
from storage.models import ButtonToken, Channel
from storage.sql import affected

TOKEN_BYTES: Final = 16
"""128 bits, 22 characters in base64url: well inside Telegram's 64-byte callback data."""
PER_USER: Final = 200
LABEL_CHARS: Final = 128
"""Longer labels are not kept: no one types them."""
_PENDING: Final = "certmate_buttons_pending"
_CAPS: Final = "certmate_buttons_caps"


@dataclass(frozen=True, slots=True)
class Action:
    """What a pressed button asks for."""

    name: str
    payload: dict[str, Any]


async def issue(
    session: AsyncSession,
    channel: Channel,
    user_key: str,
    action: Action,
    expires_at: datetime,
    *,
    label: str | None = None,
    per_user: int = PER_USER,
) -> str:
    """A fresh token for `action`, valid for this user until `expires_at`; `label` is
    what typing it must match (see `typed`). The row is
    written with the transaction's other buttons, in one statement, before it commits
    (a reply often carries eight); then the user's tokens beyond the newest `per_user`
    are deleted."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        before_commit(session, write_pending)
    session.info.setdefault(_CAPS, {})[(channel, user_key)] = per_user
    pending.append(
        {
            "token": token,
            "channel": channel,
            "user_key": user_key,
            "action": action.name,
            "payload": action.payload,
            "expires_at": expires_at,
            "label": label if label and len(label) <= LABEL_CHARS else None,
        }
    )
    return token


async def write_pending(session: AsyncSession) -> None:
    """Write the tokens issued so far in this transaction."""
    rows = session.info.pop(_PENDING, None)
    caps: dict[tuple[Channel, str], int] = session.info.pop(_CAPS, {})
    if rows:
        await session.execute(sa.insert(ButtonToken), rows)
    for (channel, user_key), per_user in caps.items():
        await _keep_newest(session, channel, user_key, per_user)


async def _keep_newest(session: AsyncSession, channel: Channel, user_key: str, keep: int) -> None:
    """Delete the user's tokens beyond the `keep` that expire last (the newest)."""
    mine = (col(ButtonToken.channel) == channel, col(ButtonToken.user_key) == user_key)
    newest = (
        select(ButtonToken.token)
        .where(*mine)
        .order_by(col(ButtonToken.expires_at).desc())
        .limit(keep)
    )
    await session.execute(
        sa.delete(ButtonToken).where(*mine, col(ButtonToken.token).not_in(newest.scalar_subquery()))
    )


async def resolve(
    session: AsyncSession, channel: Channel, user_key: str, token: str, now: datetime
) -> Action | None:
    """The action behind `token` if it is this user's and still valid, else None."""
    if not token or len(token) > 2 * TOKEN_BYTES:
        return None
    await write_pending(session)
    row = await session.scalar(
        select(ButtonToken).where(
            col(ButtonToken.token) == token,
            col(ButtonToken.channel) == channel,
            col(ButtonToken.user_key) == user_key,
            col(ButtonToken.expires_at) > now,
        )
    )
    return Action(row.action, dict(row.payload)) if row is not None else None


async def typed(
    session: AsyncSession, channel: Channel, user_key: str, label: str, now: datetime
) -> Action | None:
    """The action of the button labelled `label` among the latest ones shown to this
    user (the buttons issued last, which share their expiry), if exactly one action is
    labelled so; None when none is, or when the label is ambiguous."""
    if not label or len(label) > LABEL_CHARS:
        return None
    await write_pending(session)
    mine = (
        col(ButtonToken.channel) == channel,
        col(ButtonToken.user_key) == user_key,
        col(ButtonToken.expires_at) > now,
    )
    latest = select(sa.func.max(ButtonToken.expires_at)).where(*mine).scalar_subquery()
    rows = (
        await session.execute(
            select(ButtonToken.action, ButtonToken.payload).where(
                *mine, col(ButtonToken.expires_at) == latest, col(ButtonToken.label) == label
            )
        )
    ).all()
    actions = {(name, json.dumps(payload, sort_keys=True)) for name, payload in rows}
    if len(actions) != 1:
        return None
    name, payload = rows[0]
    return Action(name, dict(payload))


async def prune(session: AsyncSession, now: datetime, limit: int = 5_000) -> int:
    """Forget up to `limit` expired tokens; returns how many (call again while it
    returns `limit`)."""
    expired = select(ButtonToken.token).where(col(ButtonToken.expires_at) <= now).limit(limit)
    result = await session.execute(
        sa.delete(ButtonToken).where(col(ButtonToken.token).in_(expired.scalar_subquery()))
    )
    return affected(result)
