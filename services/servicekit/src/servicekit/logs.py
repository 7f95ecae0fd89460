"""Logging, set up once per process: one handler, one formatter, no colours.

`configure_logging(level, format)` gives the root logger a single handler on
standard error whose lines are text (`time LEVEL logger: message`) or one
JSON object each (`LOG_FORMAT=json`), for a log collector. Everything logs
through it: the service, uvicorn (run with `log_config=None`), FastStream and
aiokafka. The Kafka client's own lines (connections, group joins, and the
failures the service reports itself in one line, such as a broker that does
not answer) show only when the level is DEBUG.

When a span is current, each record carries its `trace_id` and `span_id`
(hex, `servicekit.telemetry.TraceContextFilter`), in the JSON object and at
the end of a text line, so a log line leads to its trace.

>>> import io
>>> stream = io.StringIO()
>>> configure_logging("INFO", "json", stream=stream)
>>> logging.getLogger("orders").info("order %s placed", "o-1")
>>> json.loads(stream.getvalue())["message"]
'order o-1 placed'
>>> logging.getLogger("aiokafka.consumer").isEnabledFor(logging.INFO)
False
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
import typing

from servicekit.settings import LogFormat, LogLevel
from servicekit.telemetry import TraceContextFilter

__all__ = ("CHATTY_LOGGERS", "JsonFormatter", "configure_logging")

CHATTY_LOGGERS: typing.Final = ("aiokafka", "kafka")
"""Loggers shown only at DEBUG: what they say, the service says once in its own words."""

_TEXT: typing.Final = "%(asctime)s %(levelname)s %(name)s: %(message)s%(trace)s"


class _TextTrace(logging.Filter):
    """The trace fields at the end of a text line (nothing outside a span)."""

    def filter(self, record: logging.LogRecord) -> bool:
        trace_id = getattr(record, "trace_id", "")
        span_id = getattr(record, "span_id", "")
        record.trace = f" trace_id={trace_id} span_id={span_id}" if trace_id else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, and
    `trace_id`/`span_id` and the traceback (`exception`) when there are any.

    >>> record = logging.LogRecord("orders", logging.WARNING, __file__, 1, "slow", None, None)
    >>> sorted(json.loads(JsonFormatter().format(record)))
    ['level', 'logger', 'message', 'time']
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in ("trace_id", "span_id"):
            value = getattr(record, field, "")
            if value:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(
    level: LogLevel, format: LogFormat, *, stream: typing.TextIO | None = None
) -> None:
    """Replace the root logger's handlers with one writing `format` lines at `level` to
    `stream` (standard error by default); calling it again reconfigures, never duplicates."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if format == "json" else logging.Formatter(_TEXT))
    handler.addFilter(TraceContextFilter())
    handler.addFilter(_TextTrace())
    root = logging.getLogger()
    for previous in list(root.handlers):
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(level)
    quiet = logging.DEBUG if level == "DEBUG" else logging.CRITICAL
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
