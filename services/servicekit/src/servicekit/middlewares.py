"""What every mediator of a service runs around each message: tracing, logging, timing.

`mediator_middlewares(service, timings, expected=...)` is the list each
mediator of the service gets (`middlewares=`): cqrs-core's
`TracingMiddleware` (a span and a `cqrs.request.duration` metric per message,
when telemetry is on), cqrs-core's `LoggingMiddleware` on the logger
`SERVICE.mediator`, then a `Timing` adding each message's duration to
`timings`, which `GET /timings` serves (`add_timings_route`).

The logging middleware writes each message and its duration at DEBUG. A
failure of one of the `expected` types (the service's client errors, those
its HTTP layer answers with a 4xx: an unknown sku, a 404, a refused order) is
one INFO line without a traceback: a client's mistake is no error of the
service. Any other failure is an ERROR line naming the message, without the
traceback, which the entry point logs (the HTTP layer with its 5xx, the
consumer with its retry or dead letter).

>>> import asyncio
>>> timings = HandlerTimings()
>>> async def handle(message: object) -> str:
...     return "done"
>>> asyncio.run(Timing(timings)("a message", handle))
'done'
>>> timings.report()["str"].count
1
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import time
import typing

import fastapi
import pydantic

from cqrs.middlewares.base import HandleType, Middleware
from cqrs.middlewares.logging import LoggingMiddleware
from cqrs.telemetry.middleware import TracingMiddleware
from servicekit.openapi import problem_responses

__all__ = (
    "HandlerTimings",
    "Timing",
    "TimingReport",
    "add_timings_route",
    "mediator_middlewares",
)


class TimingReport(pydantic.BaseModel):
    """How long the messages of one type took to handle, in milliseconds."""

    count: int
    failed: int
    mean_ms: float
    max_ms: float


@dataclasses.dataclass
class _Stats:
    count: int = 0
    failed: int = 0
    total: float = 0.0
    longest: float = 0.0


class HandlerTimings:
    """Durations of the messages handled, per message type (a notification event's
    `event_name`), since the process started."""

    def __init__(self) -> None:
        self._stats: dict[str, _Stats] = collections.defaultdict(_Stats)

    def add(self, message_type: str, seconds: float, *, failed: bool) -> None:
        """Count one message of `message_type` that took `seconds`."""
        stats = self._stats[message_type]
        stats.count += 1
        stats.failed += failed
        stats.total += seconds
        stats.longest = max(stats.longest, seconds)

    def report(self) -> dict[str, TimingReport]:
        """Per message type: count, failures, mean and longest duration (ms)."""
        return {
            name: TimingReport(
                count=stats.count,
                failed=stats.failed,
                mean_ms=round(stats.total / stats.count * 1000, 3),
                max_ms=round(stats.longest * 1000, 3),
            )
            for name, stats in sorted(self._stats.items())
        }


class Timing:
    """A middleware adding each message's handling time to `timings` (a failed one
    counted as failed)."""

    def __init__(self, timings: HandlerTimings) -> None:
        self._timings = timings

    async def __call__(self, message: typing.Any, handle: HandleType) -> typing.Any:
        started = time.perf_counter()
        failed = True
        try:
            result = await handle(message)
            failed = False
            return result
        finally:
            self._timings.add(_kind(message), time.perf_counter() - started, failed=failed)


def _kind(message: object) -> str:
    # A notification event is one generic class: its name tells the kinds apart.
    name = getattr(message, "event_name", None)
    return name if isinstance(name, str) else type(message).__name__


def mediator_middlewares(
    service: str,
    timings: HandlerTimings,
    *,
    expected: typing.Iterable[type[BaseException]] = (),
) -> list[Middleware]:
    """The middlewares of every mediator of `service`, outermost first; `expected` are
    its client errors (logged at INFO, see the module's docstring)."""
    logs = LoggingMiddleware(
        logging.getLogger(f"{service}.mediator"), expected=tuple(expected), tracebacks=False
    )
    return [TracingMiddleware(), logs, Timing(timings)]


def add_timings_route(app: fastapi.FastAPI, timings: HandlerTimings) -> None:
    """`GET /timings`: how long each type of message took to handle, per type."""

    @app.get(
        "/timings", summary="Handling times per message type", responses=problem_responses(500)
    )
    async def handling_times() -> dict[str, TimingReport]:  # pyright: ignore[reportUnusedFunction]
        return timings.report()
