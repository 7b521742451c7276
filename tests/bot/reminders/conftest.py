"""Reminder sweeps on both engines, with a recording notifier at the edge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from bot.app import channel_traits
from bot.config import Settings
from bot.reminders.notifiers import NoticeNotifier, NotifierError
from bot.reminders.sweep import Sweeper
from handlers.i18n import load_catalog
from handlers.institutions import load_directory
from handlers.messages import Reply
from handlers.services import AssistantSettings, Services
from storage.database import Database
from storage.keyring import new_keyring
from storage.models import Channel, User
from storage.vault import Vault

EXPIRY = datetime(2026, 7, 1, 14, 59, 59, tzinfo=UTC)  # 2026-07-01 23:59:59 KST
REGISTERED = datetime(2026, 5, 1, 1, 0, tzinfo=UTC)


@dataclass
class Recorder:
    """A notifier standing in for a chat platform: records what it was asked to send."""

    sent: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    fail_with: NotifierError | None = None

    async def send(
        self,
        user: User,
        message: Reply,
        certificates: Sequence[str],
        now: datetime,  # noqa: ARG002  (the Notifier interface)
    ) -> str:
        if self.fail_with is not None:
            raise self.fail_with
        message_id = f"m{len(self.sent) + 1}"
        self.sent.append((user.user_key, message.text, tuple(certificates)))
        return message_id


def services_for(database: Database) -> Services:
    return Services(
        database=database,
        vault=Vault(new_keyring()),
        catalog=load_catalog(),
        directory=load_directory(),
        settings=AssistantSettings(),
        clock=lambda: REGISTERED,
        channels=channel_traits(Settings()),
    )


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def sweeper(database: Database, recorder: Recorder) -> Sweeper:
    services = services_for(database)
    return Sweeper(
        services,
        {Channel.TELEGRAM: recorder, Channel.CONSOLE: NoticeNotifier(database)},
        "test-sweeper",
    )


async def seed(
    database: Database,
    users: int,
    per_user: int = 1,
    *,
    channel: Channel = Channel.TELEGRAM,
    expiry: datetime = EXPIRY,
    first_id: int = 1,
    key_prefix: str = "u",
) -> None:
    """`users` users with `per_user` certificates each, all expiring at `expiry`, unplanned."""
    now = REGISTERED
    async with database.write() as session:
        await session.execute(
            sa.insert(SQLModel.metadata.tables["users"]),
            [{"id": first_id + i, "channel": channel, "user_key": f"{key_prefix}{first_id + i}",
              "locale": "ko", "timezone": "Asia/Seoul", "reminders_enabled": True,
              "reachable": True, "created_at": now, "updated_at": now}
             for i in range(users)],
        )  # fmt: skip
        rows = []
        for i in range(users):
            for j in range(per_user):
                number = (first_id + i) * 100 + j
                rows.append(
                    {"id": number, "owner_id": first_id + i, "fingerprint": f"{number:064x}",
                     "subject": f"cn=holder{number}", "holder": f"홀더{number}", "ca": "yessign",
                     "usage": "bank", "holder_type": "personal", "serial": "1",
                     "not_before": now - timedelta(days=300), "not_after": expiry,
                     "status": "active", "has_private_key": False, "reminders_enabled": True,
                     "next_reminder_at": now, "created_at": now, "updated_at": now}
                )  # fmt: skip
        await session.execute(sa.insert(SQLModel.metadata.tables["certificates"]), rows)
