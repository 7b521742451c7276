"""How a certificate is described to its owner: holder, issuer, usage, expiry, renewal window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

import npki
from handlers.dates import d_day, local_date, long_date
from handlers.i18n import Texts
from handlers.npki_texts import ca_label, usage_label
from storage.models import Certificate

RENEWAL_OPENS_DAYS: Final = 30
"""Renewal is possible from 30 days before expiry until the expiry day (NPKI.md)."""


class Window(StrEnum):
    BEFORE = "before"
    """Renewal opens later."""
    OPEN = "open"
    EXPIRED = "expired"
    """Past the expiry day: a new issuance with an identity check is needed."""


@dataclass(frozen=True, slots=True)
class Facts:
    """What the summary needs, from a stored row or from a freshly read certificate."""

    holder: str
    ca: str
    usage: str
    policy_oid: str | None
    not_after: datetime


def renewal_window(not_after: datetime, now: datetime, zone: ZoneInfo) -> tuple[Window, date]:
    """Where `now` stands against the renewal window, and the day it opens."""
    expiry = local_date(not_after, zone)
    opens = expiry - timedelta(days=RENEWAL_OPENS_DAYS)
    today = local_date(now, zone)
    if today > expiry:
        return Window.EXPIRED, opens
    return (Window.OPEN if today >= opens else Window.BEFORE), opens


def summary(facts: Facts, texts: Texts, now: datetime, zone: ZoneInfo) -> str:
    """A few short lines: who, issuer, usage, expiry with D-day, and the renewal window."""
    locale = texts.locale
    expiry = local_date(facts.not_after, zone)
    window, opens = renewal_window(facts.not_after, now, zone)
    days = (expiry - local_date(now, zone)).days
    lines = [
        texts(
            "cert.summary",
            holder=facts.holder or "?",
            ca=ca_label(texts, facts.ca),
            usage=usage_label(texts, facts.policy_oid, facts.usage),
            expiry=expiry.isoformat(),
            expiry_long=long_date(expiry, locale),
            dday=d_day(days),
        ),
        texts(f"cert.window.{window.value}", opens=long_date(opens, locale)),
    ]
    return "\n".join(lines)


def facts_of(certificate: npki.Certificate) -> Facts:
    return Facts(
        certificate.holder,
        certificate.ca,
        certificate.usage,
        certificate.policy_oid,
        certificate.not_after,
    )


def row_facts(row: Certificate) -> Facts:
    return Facts(row.holder, row.ca, row.usage, row.policy_oid, row.not_after)
