"""The wrong-password lockout as every flow uses it: register, export, the secure page.

Keys are named by `npki` from their ciphertext (`npki.key_ids`,
`BundleItem.key_ids`), so the count follows the key whatever file or
certificate it comes with; the limits come from `[limits]`.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from handlers.flow import Context
from storage import attempts


def key_policy(ctx: Context) -> attempts.Policy:
    tries = ctx.services.settings.password_tries
    return attempts.Policy(tries, attempts.KEY_POLICY.window, attempts.KEY_POLICY.lockout)


def owner_policy(ctx: Context) -> attempts.Policy:
    tries = ctx.services.settings.password_tries_per_user
    return attempts.Policy(tries, attempts.OWNER_POLICY.window, attempts.OWNER_POLICY.lockout)


def tries(ctx: Context) -> int:
    """The most tries one key gets (shown as `n/max`)."""
    return ctx.services.settings.password_tries


async def locked_until(ctx: Context, keys: Collection[str]) -> datetime | None:
    """When these keys, or the user, may be tried again; None when they may be now."""
    return await attempts.locked_until(ctx.session, ctx.user_id, keys, ctx.now)


async def failed(ctx: Context, keys: Collection[str]) -> attempts.Verdict:
    """Count one wrong password against the keys and the user."""
    return await attempts.record_failure(
        ctx.session,
        ctx.user_id,
        keys,
        ctx.now,
        key_policy=key_policy(ctx),
        owner_policy=owner_policy(ctx),
    )


async def opened(ctx: Context, keys: Collection[str]) -> None:
    """The right password opened these keys: their count starts again (not the user's)."""
    await attempts.clear(ctx.session, ctx.user_id, keys)


def hhmm(ctx: Context, moment: datetime) -> str:
    """When a lock lifts, as the user reads a clock (their time zone)."""
    return moment.astimezone(ctx.zone).strftime("%H:%M")
