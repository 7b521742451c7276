"""Wiring: the services every command builds from settings (database, vault).

Nothing here runs at import time; each command calls what it needs.
"""

from __future__ import annotations

from bot.config import Settings
from storage.database import Database
from storage.keyring import KeyringFile, KeyringSource, parse_keyring
from storage.vault import Vault


def open_database(settings: Settings) -> Database:
    return Database.connect(settings.database_url)


def keyring_source(settings: Settings) -> KeyringSource:
    """The master keys: `[vault] key` when set, else the key file (created 0600 if missing).

    Raises `KeyFileError` when the file is readable by group or others.
    """
    if settings.vault.key:
        return parse_keyring(settings.vault.key, "CERTMATE_VAULT__KEY")
    source = KeyringFile(settings.key_file)
    source.get()  # create it now, or refuse a loose file before anything else starts
    return source


def open_vault(settings: Settings) -> Vault:
    return Vault(keyring_source(settings))
