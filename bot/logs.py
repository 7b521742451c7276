"""The log of `certmate run`: standard error, as text lines or JSON lines (`[log]`).

A JSON line has `time` (ISO 8601, UTC), `level`, `logger` and `message`, and for an
error with an exception its type and where it was raised (`exception`, `where`), never
the exception's own text nor a traceback: a library's message may quote what it was
given (a token, a statement's values), and certmate's own messages never name what
users sent. Python warnings go through the same log, so every line on standard error
is one JSON object.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Final

from bot.config import LogSettings

CHATTY: Final = ("alembic", "apscheduler", "aiohttp.access")
"""Libraries whose INFO lines say nothing an operator needs."""


class JsonLines(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__name__
            frames = traceback.extract_tb(record.exc_info[2])
            if frames:
                last = frames[-1]
                line["where"] = f"{last.filename}:{last.lineno} in {last.name}"
        return json.dumps(line, ensure_ascii=False)


def configure(settings: LogSettings) -> None:
    """Send every log record to standard error in the configured format and level."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.format == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level.upper())
    logging.captureWarnings(True)
    for chatty in CHATTY:
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
