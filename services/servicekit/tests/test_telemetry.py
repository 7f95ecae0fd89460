"""Telemetry from the OTEL_* variables: console spans as JSON lines, OTLP over HTTP,
Prometheus metrics at GET /metrics, and trace fields for log lines."""

from __future__ import annotations

import collections.abc
import http.server
import io
import json
import logging
import threading

import fastapi
import httpx
import pytest

from servicekit.telemetry import (
    TelemetrySettingError,
    TraceContextFilter,
    install_metrics_route,
    serve_metrics,
    telemetry_from_env,
    trace_fields,
)


def test_console_prints_each_finished_span_as_one_json_line() -> None:
    out = io.StringIO()
    telemetry = telemetry_from_env(
        {"OTEL_SERVICE_NAME": "orders", "OTEL_TRACES_EXPORTER": "console"}, stdout=out
    )
    assert telemetry.tracer_provider is not None
    tracer = telemetry.tracer_provider.get_tracer("test")

    with tracer.start_as_current_span("place order") as span, tracer.start_as_current_span("stage"):
        pass

    lines = out.getvalue().splitlines()
    spans = [json.loads(line) for line in lines]
    assert [s["name"] for s in spans] == ["stage", "place order"]
    trace_id = f"0x{span.get_span_context().trace_id:032x}"
    assert {s["context"]["trace_id"] for s in spans} == {trace_id}
    assert spans[0]["resource"]["attributes"]["service.name"] == "orders"


def test_unset_exports_no_spans_and_none_switches_metrics_off() -> None:
    default = telemetry_from_env({})
    assert default.tracer_provider is None
    assert default.registry is not None

    off = telemetry_from_env({"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"})
    assert (off.tracer_provider, off.meter_provider, off.metrics_text()) == (None, None, b"")


@pytest.mark.parametrize(
    ("name", "value"), [("OTEL_TRACES_EXPORTER", "jaeger"), ("OTEL_METRICS_EXPORTER", "otlp")]
)
def test_an_unsupported_exporter_is_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(TelemetrySettingError, match=f"{name}='{value}'"):
        telemetry_from_env({name: value})


class _Collector(http.server.BaseHTTPRequestHandler):
    received: collections.abc.MutableSequence[tuple[str, int]] = []

    def do_POST(self) -> None:
        length = int(self.headers["content-length"])
        self.rfile.read(length)
        self.received.append((self.path, length))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_otlp_sends_spans_to_the_endpoint_given() -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Collector.received = []
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        telemetry = telemetry_from_env(
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
        )
        assert telemetry.tracer_provider is not None
        with telemetry.tracer_provider.get_tracer("test").start_as_current_span("ship"):
            pass
        assert telemetry.tracer_provider.force_flush(10_000)
        telemetry.shutdown()
    finally:
        server.shutdown()
        server.server_close()
    assert [path for path, size in _Collector.received if size > 0] == ["/v1/traces"]


async def test_metrics_are_served_at_get_metrics_in_prometheus_format() -> None:
    telemetry = telemetry_from_env({"OTEL_SERVICE_NAME": "inventory"})
    assert telemetry.meter_provider is not None
    counter = telemetry.meter_provider.get_meter("cqrs").create_counter(
        "cqrs.outbox.published", unit="{message}"
    )
    counter.add(3, {"messaging.destination.name": "orders"})
    app = fastapi.FastAPI()
    install_metrics_route(app, telemetry)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert any(
        line.startswith("cqrs_outbox_published_total{")
        and 'messaging_destination_name="orders"' in line
        and line.endswith(" 3.0")
        for line in lines
    ), lines


def test_log_records_get_the_current_trace_and_span_ids() -> None:
    telemetry = telemetry_from_env({"OTEL_TRACES_EXPORTER": "console"}, stdout=io.StringIO())
    assert telemetry.tracer_provider is not None
    logger = logging.getLogger("servicekit.tests.telemetry")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(TraceContextFilter())
    handler.setFormatter(logging.Formatter("%(message)s trace=%(trace_id)s span=%(span_id)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("outside")
        with telemetry.tracer_provider.get_tracer("test").start_as_current_span("in") as span:
            fields = trace_fields()
            logger.info("inside")
    finally:
        logger.removeHandler(handler)

    context = span.get_span_context()
    assert fields == {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}
    assert stream.getvalue().splitlines() == [
        "outside trace= span=",
        f"inside trace={context.trace_id:032x} span={context.span_id:016x}",
    ]


async def test_a_process_without_an_app_serves_its_metrics_on_a_port_of_its_own() -> None:
    telemetry = telemetry_from_env({"OTEL_SERVICE_NAME": "orders-relay"})
    assert telemetry.meter_provider is not None
    telemetry.meter_provider.get_meter("cqrs").create_counter("cqrs.outbox.failed").add(2)
    assert serve_metrics(telemetry_from_env({"OTEL_METRICS_EXPORTER": "none"}), 0) is None
    server = serve_metrics(telemetry, 0, "127.0.0.1")
    assert server is not None
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        async with httpx.AsyncClient() as client:
            response = await client.get(url)
    finally:
        server.shutdown()
        server.server_close()

    assert response.status_code == 200
    assert "cqrs_outbox_failed_total" in response.text


def test_the_prometheus_port_of_a_relay_is_read_and_checked() -> None:
    unset = telemetry_from_env({})
    assert unset.prometheus_port is None

    relay = telemetry_from_env(
        {"OTEL_EXPORTER_PROMETHEUS_PORT": "9464", "OTEL_EXPORTER_PROMETHEUS_HOST": "127.0.0.1"}
    )
    assert (relay.prometheus_port, relay.prometheus_host) == (9464, "127.0.0.1")

    with pytest.raises(TelemetrySettingError, match="OTEL_EXPORTER_PROMETHEUS_PORT='http'"):
        telemetry_from_env({"OTEL_EXPORTER_PROMETHEUS_PORT": "http"})
