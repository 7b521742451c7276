"""Expiry reminders: pure planning, the sweep over the outbox, notifiers, the scheduler."""
