"""What every instrumented part shares: the tracer, the meter, whether anything records,
and the W3C context carried in message headers.

Needs the OpenTelemetry API (`cqrs-core[otel]`); the parts of cqrs that use
this module import it only when that API is installed (`cqrs.tracing`).

>>> span_context_of({}) is None
True
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import typing
import weakref

from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace

from cqrs.tracing import telemetry_recording as recording

__all__ = (
    "INSTRUMENTATION_NAME",
    "tracer",
    "meter",
    "recording",
    "context_from_headers",
    "span_context_of",
    "headers_of",
    "error_type",
    "refresh_until",
    "observable_gauge",
    "DURATION_BUCKETS",
    "duration_histogram",
)

logger = logging.getLogger("cqrs.telemetry")

#: The instrumentation scope of every span and metric cqrs makes.
INSTRUMENTATION_NAME: typing.Final = "cqrs"


def tracer() -> trace.Tracer:
    """cqrs's tracer; it follows the global tracer provider, even one set later."""
    return trace.get_tracer(INSTRUMENTATION_NAME)


def meter() -> metrics.Meter:
    """cqrs's meter; its instruments follow the global meter provider, even one set later."""
    return metrics.get_meter(INSTRUMENTATION_NAME)


#: Bucket bounds, in seconds, of every duration cqrs measures: OpenTelemetry's
#: defaults (0 to 10,000) suit milliseconds, and would put every duration in
#: seconds into the first bucket, leaving no percentile to read.
DURATION_BUCKETS: typing.Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


def duration_histogram(
    instruments: metrics.Meter, name: str, description: str
) -> metrics.Histogram:
    """A histogram of durations in seconds, bucketed by `DURATION_BUCKETS`."""
    return instruments.create_histogram(
        name,
        unit="s",
        description=description,
        explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
    )


def context_from_headers(headers: typing.Mapping[str, str]) -> otel_context.Context:
    """The context whose parent is the span named by `headers`' W3C trace context
    (the empty context when there is none)."""
    return propagate.extract(headers)


def span_context_of(headers: typing.Mapping[str, str]) -> trace.SpanContext | None:
    """The remote span `headers` name, or `None` without a valid W3C trace context."""
    if "traceparent" not in headers:
        return None
    span_context = trace.get_current_span(context_from_headers(headers)).get_span_context()
    return span_context if span_context.is_valid else None


def headers_of(span: trace.Span) -> dict[str, str]:
    """`span`'s W3C trace context as message headers (empty for an invalid span)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier, trace.set_span_in_context(span))
    return carrier


def error_type(error: BaseException) -> str:
    """The `error.type` attribute of a failure: the exception's qualified class name."""
    return type(error).__qualname__


async def refresh_until(
    stop: asyncio.Event, interval: float, refresh: typing.Callable[[], typing.Awaitable[object]]
) -> None:
    """Call `refresh` every `interval` seconds until `stop` is set; log its failures."""
    while not stop.is_set():
        try:
            await refresh()
        except Exception as error:
            logger.warning("refreshing gauges failed, trying again in %ss: %s", interval, error)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


_Owner = typing.TypeVar("_Owner")
_Observe = typing.Callable[[typing.Any], typing.Iterable[metrics.Observation]]
# Per gauge name, its sources: an owner (weakly held) and what reads the gauge off it.
# The SDK keeps only the callbacks of an instrument's first registration, so each name
# is registered once and reads every source whose owner is alive.
_gauge_sources: dict[str, list[tuple[weakref.ref[typing.Any], _Observe]]] = {}


def observable_gauge(
    name: str,
    unit: str,
    description: str,
    owner: _Owner,
    observe: typing.Callable[[_Owner], typing.Iterable[metrics.Observation]],
) -> None:
    """Report gauge `name` as `observe(owner)`, for as long as `owner` lives.

    `observe` must not hold `owner` itself (a function of it, not its bound method).
    """
    sources = _gauge_sources.get(name)
    if sources is None:
        sources = _gauge_sources[name] = []

        def callback(_: metrics.CallbackOptions) -> typing.Iterable[metrics.Observation]:
            live = [(ref, read) for ref, read in sources if ref() is not None]
            sources[:] = live
            return [
                observation
                for ref, read in live
                if (alive := ref()) is not None
                for observation in read(alive)
            ]

        meter().create_observable_gauge(name, [callback], unit=unit, description=description)
    sources.append((weakref.ref(owner), typing.cast(_Observe, observe)))
