"""Spans and metrics of a consumer pipeline, whatever the broker.

Each record settled is a span `process <topic>` (kind consumer) whose
parent is the W3C context in the record's headers, so the handlers run in
the producer's trace; its `cqrs.consumer.outcome` says how it ended.

- `cqrs.consumer.records` counts records by `cqrs.consumer.outcome`:
  `handled`, `duplicate` (dropped by the inbox), `retried` (one per failed
  try that is tried again), `dead_lettered`;
- `cqrs.consumer.duration` times settling a record, in seconds;

both by `messaging.destination.name` and `messaging.consumer.group.name`;
`cqrs.consumer.lag` reports, per partition an `EventConsumer` holds, the
records after its last settled one (with a transport that knows its end
offsets, as cqrs-kafka's and the memory transport do).

>>> telemetry = ConsumerTelemetry("inventory")
"""

from __future__ import annotations

import contextlib
import time
import typing

from opentelemetry import metrics, trace

from cqrs.consumer.record import Partition, Record
from cqrs.telemetry._otel import (
    context_from_headers,
    duration_histogram,
    meter,
    observable_gauge,
    tracer,
)

__all__ = (
    "ConsumerTelemetry",
    "watch_lag",
    "CONSUMER_RECORDS",
    "CONSUMER_DURATION",
    "CONSUMER_LAG",
)

#: Records by `cqrs.consumer.outcome` (handled, duplicate, retried, dead_lettered).
CONSUMER_RECORDS: typing.Final = "cqrs.consumer.records"
#: Time to settle one record (every try, and its dead letter), in seconds.
CONSUMER_DURATION: typing.Final = "cqrs.consumer.duration"
#: Records of a partition not settled yet, by topic and `messaging.destination.partition.id`.
CONSUMER_LAG: typing.Final = "cqrs.consumer.lag"

#: Records whose try failed and is tried again.
RETRIED: typing.Final = "retried"
DEAD_LETTERED: typing.Final = "dead_lettered"
ABANDONED: typing.Final = "abandoned"


class _Outcome:
    """Told how the record ended, inside the span."""

    value: str = ABANDONED

    def __call__(self, value: str) -> None:
        self.value = value


class ConsumerTelemetry:
    """A consumer pipeline's spans and instruments (`EventPipeline` makes one when
    OpenTelemetry is installed)."""

    def __init__(self, consumer_name: str) -> None:
        self.consumer_name = consumer_name
        self._tracer = tracer()
        instruments = meter()
        self._records = instruments.create_counter(
            CONSUMER_RECORDS, unit="{record}", description="Consumed records by outcome"
        )
        self._duration = duration_histogram(
            instruments, CONSUMER_DURATION, "Time to settle a consumed record"
        )

    @contextlib.contextmanager
    def settling(
        self, record: Record, headers: typing.Mapping[str, str]
    ) -> typing.Generator[typing.Callable[[str], None], None, None]:
        """Run the block in `record`'s span, in the context of its `headers`; the block
        calls the yielded function with the record's outcome."""
        attributes = self._attributes(record)
        outcome = _Outcome()
        started = time.perf_counter()
        with self._tracer.start_as_current_span(
            f"process {record.topic}",
            context=context_from_headers(headers),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                **attributes,
                "messaging.operation.type": "process",
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.offset": record.offset,
            },
        ) as span:
            try:
                yield outcome
            finally:
                span.set_attribute("cqrs.consumer.outcome", outcome.value)
                if outcome.value == DEAD_LETTERED:
                    span.set_status(trace.StatusCode.ERROR, "dead-lettered")
                self._duration.record(time.perf_counter() - started, attributes)
                if outcome.value != ABANDONED:
                    self._records.add(1, {**attributes, "cqrs.consumer.outcome": outcome.value})

    def retried(self, topic: str, error: BaseException) -> None:
        """Count a failed try that is tried again, and note it on the current span."""
        trace.get_current_span().record_exception(error)
        self._records.add(
            1,
            {
                "messaging.destination.name": topic,
                "messaging.consumer.group.name": self.consumer_name,
                "cqrs.consumer.outcome": RETRIED,
            },
        )

    def _attributes(self, record: Record) -> dict[str, str]:
        return {
            "messaging.destination.name": record.topic,
            "messaging.consumer.group.name": self.consumer_name,
        }


def watch_lag(consumer_name: str, consumer: _Lagging) -> None:
    """Report `consumer.lag()` as `cqrs.consumer.lag`, for as long as `consumer` lives."""

    def observe(lagging: _Lagging) -> list[metrics.Observation]:
        return [
            metrics.Observation(
                count,
                {
                    "messaging.destination.name": partition.topic,
                    "messaging.destination.partition.id": str(partition.partition),
                    "messaging.consumer.group.name": consumer_name,
                },
            )
            for partition, count in lagging.lag().items()
        ]

    observable_gauge(
        CONSUMER_LAG,
        "{record}",
        "Records after the consumer's last settled one, per partition",
        consumer,
        observe,
    )


class _Lagging(typing.Protocol):
    def lag(self) -> typing.Mapping[Partition, int]: ...
