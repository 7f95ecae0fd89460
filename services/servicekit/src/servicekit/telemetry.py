"""Telemetry for the services, switched on by the standard `OTEL_*` environment variables.

`telemetry_from_env()` reads:

- `OTEL_SERVICE_NAME`: the `service.name` of every span and metric;
- `OTEL_TRACES_EXPORTER`: `console` (each finished span as one line of JSON on
  standard output), `otlp` (OTLP over HTTP to `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
  else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`, else the collector's default
  `http://localhost:4318/v1/traces`), or `none`. Unset is `none`: no tracer
  provider is installed, and the library's spans cost one check each;
- `OTEL_METRICS_EXPORTER`: `prometheus` (the default: served by
  `install_metrics_route` at `GET /metrics`, or by `serve_metrics` on a port
  of its own) or `none`;
- `OTEL_EXPORTER_PROMETHEUS_PORT` and `OTEL_EXPORTER_PROMETHEUS_HOST`: where
  a process without an HTTP app (a relay) serves its metrics
  (`Telemetry.prometheus_port`, `prometheus_host`); unset, it serves none.

An unknown value raises `TelemetrySettingError`, naming the variable.
`Telemetry.install()` makes the providers global (once per process), for
cqrs's instrumentation and the app's own spans alike.

FastAPI makes a server span per HTTP request (`METHOD route`, the child of
the request's `traceparent`) and HTTP metrics, once a provider is installed;
`fastapi.FastAPI(telemetry=HTTP_TELEMETRY)` leaves out the requests polled
all the time (`/health`, `/metrics`).

`sampling(*gauges)` runs the `run(stop)` of gauges that sample a store (cqrs's
`OutboxGauges`, `SagaGauges`) for as long as a block lasts.

`TraceContextFilter` (a logging filter) and `trace_fields()` give log lines
the current span's `trace_id` and `span_id`, for the process's formatter.

>>> telemetry = telemetry_from_env({"OTEL_SERVICE_NAME": "orders"})
>>> telemetry.tracer_provider is None, telemetry.registry is not None
(True, True)
>>> trace_fields()  # outside any span
{}
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import dataclasses
import logging
import os
import sys
import typing
import wsgiref.simple_server

import fastapi
import fastapi.telemetry
import prometheus_client
from opentelemetry import metrics, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)

__all__ = (
    "Telemetry",
    "TelemetrySettingError",
    "TraceContextFilter",
    "HTTP_TELEMETRY",
    "Sampled",
    "install_metrics_route",
    "sampling",
    "serve_metrics",
    "telemetry_from_env",
    "trace_fields",
)

#: Paths polled all the time, whose spans would drown the rest.
_POLLED: typing.Final = frozenset({"/health", "/metrics"})


def _polled(scope: collections.abc.MutableMapping[str, typing.Any]) -> bool:
    return scope.get("path") in _POLLED


#: FastAPI's own telemetry, without the health checks and scrapes.
HTTP_TELEMETRY: typing.Final[fastapi.telemetry.TelemetryConfig] = {"exclude": _polled}

_TRACES_EXPORTERS = ("console", "otlp", "none")
_METRICS_EXPORTERS = ("prometheus", "none")
_DEFAULT_OTLP_ENDPOINT = "http://localhost:4318"


class TelemetrySettingError(ValueError):
    """An `OTEL_*` variable holds a value servicekit does not support."""


@dataclasses.dataclass
class Telemetry:
    """The providers `telemetry_from_env` built; `None` where switched off."""

    service_name: str
    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    #: Where the Prometheus reader keeps the metrics `GET /metrics` serves.
    registry: prometheus_client.CollectorRegistry | None = None
    #: The port a process without an HTTP app serves its metrics on (`None`: it serves none).
    prometheus_port: int | None = None
    #: The address it listens on.
    prometheus_host: str = "0.0.0.0"

    def install(self) -> None:
        """Make the providers global, so cqrs's instrumentation records through them.

        OpenTelemetry takes the first global providers of a process only.
        """
        if self.tracer_provider is not None:
            trace.set_tracer_provider(self.tracer_provider)
        if self.meter_provider is not None:
            metrics.set_meter_provider(self.meter_provider)

    def metrics_text(self) -> bytes:
        """The metrics in Prometheus's text format (empty when metrics are off)."""
        if self.registry is None:
            return b""
        return prometheus_client.generate_latest(self.registry)

    def shutdown(self) -> None:
        """Flush what is buffered (spans for OTLP) and stop the exporters."""
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()
        if self.meter_provider is not None:
            self.meter_provider.shutdown()


def telemetry_from_env(
    environ: collections.abc.Mapping[str, str] | None = None,
    *,
    stdout: typing.TextIO | None = None,
) -> Telemetry:
    """The telemetry the `OTEL_*` variables of `environ` (the process's by default) ask for.

    `stdout` is where `console` spans go (the process's standard output by default).
    """
    env = os.environ if environ is None else environ
    service_name = env.get("OTEL_SERVICE_NAME") or "unknown_service"
    resource = Resource.create({SERVICE_NAME: service_name})
    telemetry = Telemetry(service_name)
    traces = _choice(env, "OTEL_TRACES_EXPORTER", _TRACES_EXPORTERS, "none")
    exporter = _span_exporter(env, traces, sys.stdout if stdout is None else stdout)
    if exporter is not None:
        telemetry.tracer_provider = TracerProvider(resource=resource)
        # Console spans are written as they end, so a process killed next loses none.
        telemetry.tracer_provider.add_span_processor(
            SimpleSpanProcessor(exporter) if traces == "console" else BatchSpanProcessor(exporter)
        )
    if _choice(env, "OTEL_METRICS_EXPORTER", _METRICS_EXPORTERS, "prometheus") == "prometheus":
        telemetry.registry = prometheus_client.CollectorRegistry()
        reader = PrometheusMetricReader(registry=telemetry.registry)
        telemetry.meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
        telemetry.prometheus_port = _port(env, "OTEL_EXPORTER_PROMETHEUS_PORT")
        telemetry.prometheus_host = env.get("OTEL_EXPORTER_PROMETHEUS_HOST") or "0.0.0.0"
    return telemetry


def _port(env: collections.abc.Mapping[str, str], name: str) -> int | None:
    value = (env.get(name) or "").strip()
    if not value:
        return None
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise TelemetrySettingError(f"{name}={value!r} is not a port; use a number from 1 to 65535")
    return int(value)


def _choice(
    env: collections.abc.Mapping[str, str], name: str, allowed: tuple[str, ...], default: str
) -> str:
    value = (env.get(name) or default).strip().lower()
    if value not in allowed:
        raise TelemetrySettingError(
            f"{name}={env.get(name)!r} is not supported; use one of {', '.join(allowed)}"
        )
    return value


def _span_exporter(
    env: collections.abc.Mapping[str, str], choice: str, stdout: typing.TextIO
) -> SpanExporter | None:
    if choice == "console":
        return ConsoleSpanExporter(out=stdout, formatter=_json_line)
    if choice == "otlp":
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or (
            (env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or _DEFAULT_OTLP_ENDPOINT).rstrip("/")
            + "/v1/traces"
        )
        return OTLPSpanExporter(endpoint=endpoint)
    return None


def _json_line(span: ReadableSpan) -> str:
    """One finished span as one line of JSON (the SDK's own JSON, without indentation)."""
    return span.to_json(indent=None) + "\n"


def install_metrics_route(app: fastapi.FastAPI, telemetry: Telemetry) -> None:
    """Serve `telemetry`'s metrics at `GET /metrics` in Prometheus's text format
    (nothing is added when metrics are off)."""
    if telemetry.registry is None:
        return

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> fastapi.Response:  # pyright: ignore[reportUnusedFunction]
        return fastapi.Response(
            telemetry.metrics_text(), media_type=prometheus_client.CONTENT_TYPE_LATEST
        )


def serve_metrics(
    telemetry: Telemetry, port: int, address: str = "0.0.0.0"
) -> wsgiref.simple_server.WSGIServer | None:
    """Serve `telemetry`'s metrics at `/metrics` on `port` of their own (for a process
    without an HTTP app, such as a relay), from a daemon thread; return the server
    (`shutdown()` and `server_close()` stop it), or `None` when metrics are off."""
    if telemetry.registry is None:
        return None
    server, _ = prometheus_client.start_http_server(port, addr=address, registry=telemetry.registry)
    return server


def trace_fields() -> dict[str, str]:
    """`trace_id` and `span_id` of the current span, as hex; empty outside a span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {
        "trace_id": trace.format_trace_id(context.trace_id),
        "span_id": trace.format_span_id(context.span_id),
    }


class TraceContextFilter(logging.Filter):
    """Sets `trace_id` and `span_id` on every record ("" outside a span), so a format
    string or a JSON formatter can name them."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = trace_fields()
        record.trace_id = fields.get("trace_id", "")
        record.span_id = fields.get("span_id", "")
        return True


class Sampled(typing.Protocol):
    """Gauges that sample a store until `stop` is set, as cqrs's `OutboxGauges` and `SagaGauges`."""

    def run(self, stop: asyncio.Event) -> collections.abc.Coroutine[typing.Any, typing.Any, None]:
        """Sample now and then until `stop` is set."""
        ...


@contextlib.asynccontextmanager
async def sampling(*gauges: Sampled) -> collections.abc.AsyncGenerator[None, None]:
    """Sample each of `gauges` in a task of its own while the block runs; stop them after it.

    >>> class Counted:
    ...     runs = 0
    ...     async def run(self, stop: asyncio.Event) -> None:
    ...         Counted.runs += 1
    ...         await stop.wait()
    >>> async def main() -> None:
    ...     async with sampling(Counted(), Counted()):
    ...         await asyncio.sleep(0)
    >>> asyncio.run(main()); Counted.runs
    2
    """
    stop = asyncio.Event()
    tasks = [asyncio.create_task(gauges_.run(stop)) for gauges_ in gauges]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)
