"""What a sweep counts for /metrics: reminders planned, sent and failed, by channel."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.metrics import Metrics
from bot.reminders.notifiers import NotifierError
from bot.reminders.sweep import Sweeper
from handlers.dates import SEOUL
from storage.database import Database
from storage.models import Channel
from tests.bot.reminders.conftest import Recorder, seed, services_for


def _value(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_a_sweep_counts_what_it_planned_sent_and_failed(database: Database) -> None:
    """Three users at D-30: three reminders planned; the channel refuses the first sweep's
    sends (three failed), takes the retry (three sent); sweeping again counts nothing more.
    A dry run counts nothing."""
    await seed(database, 3)
    metrics = Metrics()
    recorder = Recorder(fail_with=NotifierError("502 Bad Gateway"))
    sweeper = Sweeper(
        services_for(database), {Channel.TELEGRAM: recorder}, "metered", metrics=metrics
    )
    morning = datetime(2026, 6, 1, 9, 5, tzinfo=SEOUL)
    assert await sweeper.preview(morning)
    assert _value(metrics, "certmate_reminders_planned_total") == 0
    assert await sweeper.run(morning) == []
    assert _value(metrics, "certmate_reminders_planned_total") == 3
    assert _value(metrics, "certmate_reminders_failed_total", channel="telegram") == 3
    assert _value(metrics, "certmate_reminders_sent_total", channel="telegram") == 0
    recorder.fail_with = None
    later = morning + timedelta(hours=1)
    assert len(await sweeper.run(later)) == 3
    assert await sweeper.run(later) == []
    assert _value(metrics, "certmate_reminders_planned_total") == 3
    assert _value(metrics, "certmate_reminders_failed_total", channel="telegram") == 3
    assert _value(metrics, "certmate_reminders_sent_total", channel="telegram") == 3
