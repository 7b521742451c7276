"""The reminder message: one per user per sweep, covering every certificate that is due.

It names the holder, issuer, expiry date and D-day and what can be done now,
never a secret, an account number or more of the subject than the holder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from handlers.dates import d_day, local_date, long_date
from handlers.flow import Context
from handlers.flows import register, remind, renewal
from handlers.messages import Reply
from handlers.npki_texts import ca_label
from handlers.present import Window, renewal_window
from storage.models import Certificate, Reminder, ReminderKind


@dataclass(frozen=True, slots=True)
class Due:
    reminder: Reminder
    certificate: Certificate


async def compose(ctx: Context, due: Sequence[Due]) -> Reply:
    """The message and its buttons: how to renew, register the renewed one, snooze, off."""
    blocks = [_block(ctx, item) for item in due]
    ids = tuple(_id(item.certificate) for item in due)
    choices = [
        await ctx.button(
            "reminder.how_to_renew",
            renewal.Pick(ids[0]) if len(due) == 1 else renewal.Open(),
        ),
        await ctx.button("renew.upload_button", register.Open()),
    ]
    for days in remind.SNOOZE_DAYS:
        label = ctx.texts("reminder.snooze", days=days)
        choices.append(await ctx.button(label, remind.Snooze(ids, days)))
    for item in due:
        label = ctx.texts("remind.turn_off_for", holder=item.certificate.holder)
        choices.append(
            await ctx.button(label, remind.CertificateReminders(_id(item.certificate), on=False))
        )
    header = ctx.texts("reminder.header", count=len(due))
    return Reply("\n\n".join([header, *blocks]), tuple(choices))


def _block(ctx: Context, item: Due) -> str:
    certificate = item.certificate
    expiry = local_date(certificate.not_after, ctx.zone)
    days = (expiry - local_date(ctx.now, ctx.zone)).days
    window, opens = renewal_window(certificate.not_after, ctx.now, ctx.zone)
    if item.reminder.kind is ReminderKind.EXPIRED or window is Window.EXPIRED:
        status = ctx.texts("reminder.expired")
    elif days == 0:
        status = ctx.texts("reminder.expiry_day")
    elif days == 1 and window is Window.OPEN:  # urgent: what to do today
        status = ctx.texts("reminder.last_day")
    elif window is Window.OPEN:
        status = ctx.texts("reminder.open")
    else:
        status = ctx.texts("cert.window.before", opens=long_date(opens, ctx.texts.locale))
    return ctx.texts(
        "reminder.block",
        holder=certificate.holder,
        ca=ca_label(ctx.texts, certificate.ca),
        expiry=expiry.isoformat(),
        expiry_long=long_date(expiry, ctx.texts.locale),
        dday=d_day(days),
        status=status,
    )


def _id(certificate: Certificate) -> int:
    assert certificate.id is not None  # noqa: S101  (rows come from the database)
    return certificate.id
