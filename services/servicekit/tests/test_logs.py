"""Logging set up once: one handler, text or JSON, trace ids when a span is current."""

from __future__ import annotations

import collections.abc
import io
import json
import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider

from servicekit.logs import configure_logging


@pytest.fixture(autouse=True)
def restore_root_logger() -> collections.abc.Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_configuring_twice_leaves_one_handler_and_text_has_no_colours() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("INFO", "text", stream=first)
    configure_logging("WARNING", "text", stream=second)

    logging.getLogger("orders").warning("payment declined")
    logging.getLogger("orders").info("not shown at WARNING")

    assert first.getvalue() == ""
    (line,) = second.getvalue().splitlines()
    assert line.endswith(" WARNING orders: payment declined")
    assert "\x1b[" not in line


def test_the_kafka_client_chatter_shows_only_at_debug() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "text", stream=stream)
    logging.getLogger("aiokafka.consumer.group_coordinator").info("joined group")
    assert stream.getvalue() == ""

    configure_logging("DEBUG", "text", stream=stream)
    logging.getLogger("aiokafka.consumer.group_coordinator").info("joined group")
    assert "joined group" in stream.getvalue()


def test_a_json_line_carries_the_current_span_and_the_traceback() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    tracer = TracerProvider().get_tracer("test")

    with tracer.start_as_current_span("place order") as span:
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("orders").exception("failed")

    entry = json.loads(stream.getvalue())
    context = span.get_span_context()
    assert (entry["level"], entry["logger"], entry["message"]) == ("ERROR", "orders", "failed")
    assert entry["trace_id"] == f"{context.trace_id:032x}"
    assert entry["span_id"] == f"{context.span_id:016x}"
    assert "ValueError: boom" in entry["exception"]
