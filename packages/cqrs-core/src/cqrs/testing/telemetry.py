"""Capture cqrs's spans and metrics in memory, to assert on them in tests.

OpenTelemetry lets a process set its global tracer and meter providers once,
so `capture_telemetry()` installs an SDK with in-memory exporters the first
time it is called and returns the same `CapturedTelemetry` afterwards.
Spans can be cleared between tests; metrics are cumulative, so compare a
`metric_value` before and after what is measured. Needs
`cqrs-core[otel,testing]`.

>>> from opentelemetry import trace
>>> captured = capture_telemetry()
>>> captured.clear()
>>> with trace.get_tracer("doc").start_as_current_span("work"):
...     pass
>>> [span.name for span in captured.spans()]
['work']
"""

from __future__ import annotations

import typing

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from cqrs.exceptions import ConfigurationError

__all__ = ("CapturedTelemetry", "capture_telemetry", "span_id", "trace_id", "parent_id")


class CapturedTelemetry:
    """The spans finished and the metrics recorded since the SDK was installed."""

    def __init__(self) -> None:
        self.exporter: InMemorySpanExporter = InMemorySpanExporter()
        self.reader: InMemoryMetricReader = InMemoryMetricReader()
        self.tracer_provider: TracerProvider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.meter_provider: MeterProvider = MeterProvider(metric_readers=[self.reader])

    def spans(self, name_prefix: str = "") -> list[ReadableSpan]:
        """Finished spans, oldest first, those whose name starts with `name_prefix`."""
        return [
            span for span in self.exporter.get_finished_spans() if span.name.startswith(name_prefix)
        ]

    def clear(self) -> None:
        """Forget the spans finished so far."""
        self.exporter.clear()

    def metric_value(self, name: str, **attributes: str | int) -> float:
        """The sum of metric `name`'s points having `attributes` (a subset of theirs):
        counters and gauges add their values, histograms their counts; 0 when none."""
        return sum(self.metric_values(name, **attributes))

    def metric_values(self, name: str, **attributes: str | int) -> list[float]:
        """The value of each point of metric `name` having `attributes` (a histogram's
        count), as collected now; empty when there is none."""
        values: list[float] = []
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name != name:
                        continue
                    for point in typing.cast(
                        "typing.Iterable[NumberDataPoint | HistogramDataPoint]",
                        metric.data.data_points,
                    ):
                        if _matches(point.attributes, attributes):
                            values.append(
                                point.count
                                if isinstance(point, HistogramDataPoint)
                                else point.value
                            )
        return values


def _matches(
    attributes: typing.Mapping[str, typing.Any] | None, wanted: typing.Mapping[str, str | int]
) -> bool:
    have = attributes or {}
    return all(have.get(key) == value for key, value in wanted.items())


def span_id(span: ReadableSpan) -> int:
    """`span`'s id."""
    assert span.context is not None  # a finished SDK span has one
    return span.context.span_id


def trace_id(span: ReadableSpan) -> int:
    """The id of `span`'s trace."""
    assert span.context is not None
    return span.context.trace_id


def parent_id(span: ReadableSpan) -> int | None:
    """The id of `span`'s parent (local or remote), `None` for a root span."""
    return None if span.parent is None else span.parent.span_id


_installed: CapturedTelemetry | None = None


def capture_telemetry() -> CapturedTelemetry:
    """Install the in-memory SDK as the global providers (once) and return it.

    Raises `ConfigurationError` when another tracer provider was installed first.
    """
    global _installed
    if _installed is None:
        if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
            raise ConfigurationError(
                "a tracer provider is installed already; call capture_telemetry() before "
                "anything else sets one (e.g. in a conftest.py)"
            )
        captured = CapturedTelemetry()
        trace.set_tracer_provider(captured.tracer_provider)
        metrics.set_meter_provider(captured.meter_provider)
        _installed = captured
    return _installed
