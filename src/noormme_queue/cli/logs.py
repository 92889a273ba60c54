"""Logging of the long-running commands (``worker``, ``serve``).

``QUEUE_LOG_FORMAT`` (or ``--log-format``) picks the shape:

- ``auto`` (default): ``rich`` when stderr is a terminal, else ``text``;
- ``text``: one line per record, ``<UTC time> <LEVEL> <logger> <message>``; line breaks and
  control characters inside the message are escaped (``\\n``), so a record is one line and a
  traceback, when there is one, follows on its own lines;
- ``json``: one JSON object per line with ``time``, ``level``, ``logger``, ``message``,
  ``exc_info`` (the traceback as a string, when there is one) and the record's extra fields
  (the access log adds ``method``, ``path``, ``status``, ``duration_ms``, ``client``);
- ``rich``: colours and wrapping for a person at a terminal.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

LOG_FORMATS = ("auto", "text", "json", "rich")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")

# Whatever would break a line (str.splitlines' separators) or drive a terminal.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
_ESCAPES = {"\n": "\\n", "\r": "\\r"}
# Attributes every LogRecord has; anything else was passed in ``extra=``.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def one_line(text: str) -> str:
    return _UNPRINTABLE.sub(lambda m: _ESCAPES.get(m.group(0)) or f"\\u{ord(m.group(0)):04x}", text)


def utc_time(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """``2025-01-02T03:04:05.678Z INFO noormme_queue.worker message``, one line per message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return utc_time(record)

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = one_line(record.message)
        return super().formatMessage(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line (non-ASCII escaped, so nothing in it can break the line)."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": utc_time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exc_info"] = record.exc_text
        if record.stack_info:
            data["stack_info"] = self.formatStack(record.stack_info)
        extra = {k: v for k, v in vars(record).items() if k not in _STANDARD and k not in data}
        try:
            return json.dumps({**data, **extra}, default=str)
        except ValueError:  # e.g. a circular extra: keep the record itself
            return json.dumps(data, default=str)


def setup_logging(level: str, log_format: str = "auto") -> None:
    """Send every record at ``level`` or above to stderr in ``log_format`` (see above)."""
    if log_format == "auto":
        log_format = "rich" if sys.stderr.isatty() else "text"
    handler: logging.Handler
    if log_format == "rich":
        from rich.console import Console
        from rich.logging import RichHandler

        handler = RichHandler(console=Console(stderr=True), show_path=False)
        handler.setFormatter(logging.Formatter("%(message)s", datefmt="[%X]"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
