"""The conversation core's services over a benchmark's database: real catalog and
directory, a fresh in-memory master key (nothing written to disk), a given clock."""

from __future__ import annotations

from bot.app import channel_traits
from bot.config import Settings
from handlers.i18n import load_catalog
from handlers.institutions import load_directory
from handlers.services import AssistantSettings, Clock, Services
from storage.database import Database
from storage.keyring import new_keyring
from storage.vault import Vault


def services_over(
    database: Database, clock: Clock, settings: AssistantSettings | None = None
) -> Services:
    return Services(
        database=database,
        vault=Vault(new_keyring()),
        catalog=load_catalog(),
        directory=load_directory(),
        settings=settings or AssistantSettings(),
        clock=clock,
        channels=channel_traits(Settings()),
    )
