"""Errors the repositories raise; each means something a flow can act on."""

from __future__ import annotations


class StorageError(Exception):
    """Root of the storage errors."""


class NotFound(StorageError):
    """No such record for this owner (a foreign id is not found, never someone else's row)."""


class AlreadyRegistered(StorageError):
    """The owner already has this certificate."""


class StaleState(StorageError):
    """The conversation state changed since it was read (another message got there first)."""
