"""Spans and metrics of the outbox: the writes, the relay's batches, and the rows waiting.

- Adding an event to an outbox opens and closes a span `outbox write
  <event name>`, whose context is what the row stores: the relay's publish
  span of that row is its child.
- Each relay batch is a span `outbox relay`; each row in it that kept a
  writer's context a `publish <topic>` span (kind producer), the child of
  that context, linked to the batch. The broker gets the row's message with
  that span's context in its headers, so the consumer's span is its child.
  A row without a trace context goes out as stored.
- `cqrs.outbox.published` and `cqrs.outbox.failed` count rows, and
  `cqrs.outbox.publish.duration` times batches, by `messaging.destination.name`.
- `OutboxGauges` reports `cqrs.outbox.pending`, `cqrs.outbox.dead` and
  `cqrs.outbox.oldest_pending_age` per topic from an `OutboxAdmin`'s
  `stats()`, sampled by its `run` (observable gauges are read synchronously,
  and the stats are a database query).

>>> import asyncio
>>> from cqrs.outbox.memory import MemoryOutbox
>>> gauges = OutboxGauges(MemoryOutbox())
>>> asyncio.run(gauges.refresh())
[]
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import typing

from opentelemetry import metrics, trace

from cqrs.admin.outbox import OutboxAdmin, TopicStats
from cqrs.message_brokers.protocol import Message
from cqrs.outbox.models import OutboxedEvent
from cqrs.telemetry._otel import (
    context_from_headers,
    duration_histogram,
    headers_of,
    meter,
    observable_gauge,
    recording,
    refresh_until,
    span_context_of,
    tracer,
)

__all__ = (
    "OutboxGauges",
    "RelayTelemetry",
    "TracedBatch",
    "traced_write",
    "OUTBOX_PUBLISHED",
    "OUTBOX_FAILED",
    "OUTBOX_PUBLISH_DURATION",
    "OUTBOX_PENDING",
    "OUTBOX_DEAD",
    "OUTBOX_OLDEST_PENDING_AGE",
)

#: Rows the relay published, by `messaging.destination.name`.
OUTBOX_PUBLISHED: typing.Final = "cqrs.outbox.published"
#: Rows the broker did not take (each try), by `messaging.destination.name`.
OUTBOX_FAILED: typing.Final = "cqrs.outbox.failed"
#: Time to publish one claimed batch, in seconds.
OUTBOX_PUBLISH_DURATION: typing.Final = "cqrs.outbox.publish.duration"
#: Rows waiting to be published, by `messaging.destination.name`.
OUTBOX_PENDING: typing.Final = "cqrs.outbox.pending"
#: Rows given up on (`dead`), by `messaging.destination.name`.
OUTBOX_DEAD: typing.Final = "cqrs.outbox.dead"
#: How long the oldest pending row has waited, in seconds, by `messaging.destination.name`.
OUTBOX_OLDEST_PENDING_AGE: typing.Final = "cqrs.outbox.oldest_pending_age"

_TOPIC: typing.Final = "messaging.destination.name"


def traced_write(message: Message) -> Message:
    """`message` carrying the context of a new `outbox write` span, a child of the current one.

    Unchanged outside a span (there is no trace to continue) and when no SDK records.
    """
    if not recording() or not trace.get_current_span().get_span_context().is_valid:
        return message
    span = tracer().start_span(
        f"outbox write {message.message_name}",
        attributes={
            _TOPIC: message.topic,
            "messaging.message.id": str(message.message_id),
            "cqrs.event.name": message.message_name,
        },
    )
    span.end()
    headers = headers_of(span)
    return _with_headers(message, headers) if headers else message


class TracedBatch:
    """One relay batch being published: a `publish` span per row, ended with its outcome.

    Forwards each outcome to the claim it wraps.
    """

    def __init__(self, telemetry: RelayTelemetry, claim: _Claim, batch: trace.Span) -> None:
        self._telemetry = telemetry
        self._claim = claim
        self._spans: dict[int, trace.Span] = {}
        self._messages: dict[int, Message] = {}
        link = [trace.Link(batch.get_span_context())]
        start_span = telemetry.tracer.start_span
        for row in claim.rows:
            message = row.message
            if span_context_of(message.headers) is None:
                continue  # no writer's trace to continue: sent as stored
            span = start_span(
                f"publish {message.topic}",
                context=context_from_headers(message.headers),
                kind=trace.SpanKind.PRODUCER,
                links=link,
                attributes={
                    _TOPIC: message.topic,
                    "messaging.operation.type": "send",
                    "messaging.message.id": str(message.message_id),
                    "cqrs.outbox.row_id": row.id,
                },
            )
            self._spans[row.id] = span
            self._messages[row.id] = _with_headers(message, headers_of(span))

    @property
    def rows(self) -> typing.Sequence[OutboxedEvent]:
        return self._claim.rows

    def message(self, row: OutboxedEvent) -> Message:
        """The message to send for `row`: with its publish span's context, if it has one."""
        return self._messages.get(row.id, row.message)

    def published(self, row: OutboxedEvent) -> None:
        self._claim.published(row)
        self._telemetry.published.add(1, {_TOPIC: row.message.topic})
        span = self._spans.pop(row.id, None)
        if span is not None:
            span.end()

    def failed(self, row: OutboxedEvent, error: str) -> None:
        self._claim.failed(row, error)
        self._telemetry.failed.add(1, {_TOPIC: row.message.topic})
        span = self._spans.pop(row.id, None)
        if span is not None:
            span.set_status(trace.StatusCode.ERROR, error)
            span.end()

    def close(self) -> None:
        """End the spans of rows recorded neither way (held back behind a failure)."""
        for span in self._spans.values():
            span.set_attribute("cqrs.outbox.outcome", "held back")
            span.end()
        self._spans.clear()


class _Claim(typing.Protocol):
    @property
    def rows(self) -> typing.Sequence[OutboxedEvent]: ...
    def published(self, row: OutboxedEvent) -> None: ...
    def failed(self, row: OutboxedEvent, error: str) -> None: ...


class RelayTelemetry:
    """The relay's spans and counters (`OutboxRelay` makes one when OpenTelemetry is installed)."""

    def __init__(self) -> None:
        self.tracer: trace.Tracer = tracer()
        instruments = meter()
        self.published: metrics.Counter = instruments.create_counter(
            OUTBOX_PUBLISHED, unit="{message}", description="Outbox rows published"
        )
        self.failed: metrics.Counter = instruments.create_counter(
            OUTBOX_FAILED, unit="{message}", description="Outbox rows the broker did not take"
        )
        self.duration: metrics.Histogram = duration_histogram(
            instruments, OUTBOX_PUBLISH_DURATION, "Time to publish one relay batch"
        )

    @contextlib.contextmanager
    def batch(self, claim: _Claim) -> typing.Generator[TracedBatch, None, None]:
        """Trace and time the publication of `claim`'s rows (see `TracedBatch`)."""
        started = time.perf_counter()
        with self.tracer.start_as_current_span(
            "outbox relay", attributes={"cqrs.outbox.batch_size": len(claim.rows)}
        ) as span:
            traced = TracedBatch(self, claim, span)
            try:
                yield traced
            finally:
                traced.close()
                self.duration.record(time.perf_counter() - started)


def _with_headers(message: Message, headers: typing.Mapping[str, str]) -> Message:
    """`message` with `headers` over its own, not decoding a stored message's payload."""
    merged = {**message.headers, **headers}
    if message.body is not None:
        return Message.from_json(
            message.message_name,
            message.topic,
            message.body,
            message.message_id,
            message.key,
            merged,
        )
    return Message(
        message.message_name,
        message.topic,
        message.payload,
        message.message_id,
        message.key,
        merged,
    )


class OutboxGauges:
    """`cqrs.outbox.pending`, `cqrs.outbox.dead` and `cqrs.outbox.oldest_pending_age`
    per topic, as of the last `refresh` of `admin.stats()`."""

    def __init__(self, admin: OutboxAdmin) -> None:
        self._admin = admin
        self._stats: list[TopicStats] = []
        observable_gauge(
            OUTBOX_PENDING,
            "{message}",
            "Outbox rows waiting to be published",
            self,
            OutboxGauges._pending,
        )
        observable_gauge(
            OUTBOX_DEAD, "{message}", "Outbox rows given up on", self, OutboxGauges._dead
        )
        observable_gauge(
            OUTBOX_OLDEST_PENDING_AGE,
            "s",
            "How long the oldest pending outbox row has waited",
            self,
            OutboxGauges._oldest_age,
        )

    async def refresh(self) -> list[TopicStats]:
        """Read the stats now; the gauges report them until the next refresh."""
        self._stats = await self._admin.stats()
        return self._stats

    async def run(self, stop: asyncio.Event, interval: float = 15.0) -> None:
        """Refresh every `interval` seconds until `stop` is set; a failed read is logged,
        and the gauges keep the last stats."""
        await refresh_until(stop, interval, self.refresh)

    def _pending(self) -> list[metrics.Observation]:
        return [metrics.Observation(stats.pending, {_TOPIC: stats.topic}) for stats in self._stats]

    def _dead(self) -> list[metrics.Observation]:
        return [metrics.Observation(stats.dead, {_TOPIC: stats.topic}) for stats in self._stats]

    def _oldest_age(self) -> list[metrics.Observation]:
        return [
            metrics.Observation(
                0.0
                if stats.oldest_pending_age is None
                else stats.oldest_pending_age.total_seconds(),
                {_TOPIC: stats.topic},
            )
            for stats in self._stats
        ]
