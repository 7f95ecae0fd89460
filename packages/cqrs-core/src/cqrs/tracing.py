"""W3C trace context propagation, when OpenTelemetry is installed and in use.

Messages carry the trace context of the code that produced them
(`traceparent`, and `tracestate` when set), so a trace continues in the
consumer, also across the outbox gap. Without OpenTelemetry, or outside a
recording span, there is nothing to carry and `trace_headers` is empty.

>>> trace_headers()  # outside any span
{}
"""

from __future__ import annotations

import typing

try:
    from opentelemetry import propagate as _propagate  # pyright: ignore[reportMissingImports]
    from opentelemetry import trace as _trace  # pyright: ignore[reportMissingImports]
    from opentelemetry.metrics import (  # pyright: ignore[reportMissingImports]
        _internal as _metrics_state,  # pyright: ignore[reportPrivateUsage]
    )
except ImportError:  # pragma: no cover - depends on the environment
    _propagate: typing.Any = None
    _trace: typing.Any = None
    _metrics_state: typing.Any = None

__all__ = ("TRACE_HEADERS", "trace_headers", "opentelemetry_installed", "telemetry_recording")

#: The header names of the W3C trace context, in the order they are written.
TRACE_HEADERS = ("traceparent", "tracestate")


def opentelemetry_installed() -> bool:
    """Whether the OpenTelemetry API is importable."""
    return _propagate is not None


def telemetry_recording() -> bool:
    """Whether an OpenTelemetry SDK records traces or metrics in this process.

    False without OpenTelemetry, and with its API alone: cqrs's instrumented
    parts then skip their spans and measurements altogether.
    """
    # The API's own getters look up an environment variable on every call until a
    # provider is set (the cost of a whole `send`); the globals they fill are read instead.
    return _propagate is not None and (
        _trace._TRACER_PROVIDER is not None  # pyright: ignore[reportPrivateUsage]
        or _metrics_state._METER_PROVIDER is not None  # pyright: ignore[reportPrivateUsage]
    )


def trace_headers() -> dict[str, str]:
    """The current span's W3C trace context as headers; empty without OpenTelemetry."""
    if _propagate is None:
        return {}
    # Without a valid span the W3C propagator writes nothing; asking first costs a
    # fifth of an injection, and most messages are sent outside any span.
    if not _trace.get_current_span().get_span_context().is_valid:
        return {}
    carrier: dict[str, str] = {}
    _propagate.inject(carrier)
    return {name: carrier[name] for name in TRACE_HEADERS if carrier.get(name)}
