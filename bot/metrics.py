"""What one `certmate run` process counts, for `/metrics` (Prometheus's text format).

Every metric lives on the `CollectorRegistry` of one `Metrics`, built when the process
starts and handed to what counts (the HTTP server, the sweeper, the Telegram rate
limiter, the inbox), never on prometheus-client's global registry: a test builds its
own and reads exactly what it caused. All figures are this process's own since it
started; Prometheus adds the processes of a cluster up (`certmate status` shows the
cluster's shared work from the database).

No label carries a user, a chat, a token or a raw path: routes are named by their
template (`/u/{token}`), so a scrape cannot reveal who uses the bot or a secure link.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.process_collector import ProcessCollector

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Seconds; up to 30 since a slow upload's body may take that long."""
UNMATCHED: Final = "unmatched"
"""The route label of a request that matched no route (a scan, a typo)."""


class Metrics:
    """One process's metrics, on its own registry.

    The inbox counters (`updates_*`) are the inbox's to move, labelled by channel
    (`telegram`, `kakao`): `updates_received` when an update is stored, once per update
    however often the channel delivers it; `updates_handled` when its handling commits;
    `updates_retried` when a handling failed and the update goes back for another try;
    `updates_dead` when it is given up for good (a poison update)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        on = self.registry
        ProcessCollector(registry=on)  # process_cpu_seconds_total, memory, open fds
        self.http_seconds = Histogram(
            "certmate_http_request_duration_seconds",
            "HTTP requests answered, by route template and status class, and how long each took",
            ["route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=on,
        )
        self.updates_received = Counter(
            "certmate_updates_received", "Updates stored in the inbox", ["channel"], registry=on
        )
        self.updates_handled = Counter(
            "certmate_updates_handled", "Updates handled to the end", ["channel"], registry=on
        )
        self.updates_retried = Counter(
            "certmate_updates_retried",
            "Update handlings that failed and were put back for another try",
            ["channel"],
            registry=on,
        )
        self.updates_dead = Counter(
            "certmate_updates_dead", "Updates given up for good", ["channel"], registry=on
        )
        self.reminders_planned = Counter(
            "certmate_reminders_planned", "Reminders planned to be sent", registry=on
        )
        self.reminders_sent = Counter(
            "certmate_reminders_sent", "Reminders sent and marked sent", ["channel"], registry=on
        )
        self.reminders_failed = Counter(
            "certmate_reminders_failed",
            "Reminder sends the channel refused (retried later, up to a limit)",
            ["channel"],
            registry=on,
        )
        self.telegram_sends = Counter(
            "certmate_telegram_sends",
            "Messages (sends and edits) Telegram accepted",
            registry=on,
        )
        self.telegram_retry_after = Counter(
            "certmate_telegram_retry_after",
            "429 answers from Telegram that were waited out",
            registry=on,
        )
        self.telegram_slots_missed = Counter(
            "certmate_telegram_slots_missed",
            "Sending slots this process woke too late for, so booked again",
            registry=on,
        )
        self.telegram_send_queue = Gauge(
            "certmate_telegram_send_queue",
            "Sends waiting for their pacing slot right now",
            registry=on,
        )

    def render(self) -> bytes:
        """The text exposition of every metric of this process."""
        return generate_latest(self.registry)
