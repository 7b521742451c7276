"""Notifiers: how a reminder message reaches a user, one implementation per channel.

A notifier sends (or records) one message and returns its id. It raises
`NotifierError` when delivery failed and may be retried, and
`UserUnreachable` when the user cannot be messaged at all (blocked the bot).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from handlers.messages import Reply
from storage import notices
from storage.database import Database
from storage.models import User


class NotifierError(Exception):
    """Delivery failed this time; the reminder is retried later."""


class UserUnreachable(NotifierError):
    """The user cannot be messaged (blocked the bot): they are skipped until they write."""


class Notifier(Protocol):
    async def send(
        self, user: User, message: Reply, certificates: Sequence[str], now: datetime
    ) -> str:
        """Deliver `message` to `user`; returns the message id."""
        ...


class NoticeNotifier:
    """For channels that cannot message first (console; Kakao without the Event API):
    the message is kept and shown at the user's next message."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def send(
        self, user: User, message: Reply, certificates: Sequence[str], now: datetime
    ) -> str:
        message_id = secrets.token_hex(8)
        async with self.database.write() as session:
            await notices.add(
                session,
                user.id or 0,
                message_id=message_id,
                text=message.text,
                choices=[[choice.label, choice.token] for choice in message.choices],
                certificates=list(certificates),
                now=now,
            )
        return message_id
