"""OpenTelemetry spans and metrics for cqrs (`pip install 'cqrs-core[otel]'`).

cqrs writes through the OpenTelemetry API only; an SDK configured by the
application (or `opentelemetry-instrument`) exports what it records.
Without the `otel` extra nothing here is imported; with it but no SDK
configured, every instrumented path checks that once and skips its spans.

What is instrumented once the extra is installed, with no code:

- each domain or notification event handler the dispatcher runs (`handle <event>`);
- each event added to an outbox (`outbox write <event>`), whose context the row keeps;
- each relay batch (`outbox relay`) and each row it publishes (`publish <topic>`,
  a child of its writer's context, which it passes on in the message headers);
- each record a consumer settles (`process <topic>`, a child of the context in
  its headers), with its outcome;
- each saga step's act and compensation (`saga <saga> <step> <action>`).

What needs wiring: `TracingMiddleware` (a span per `send`, `stream` or event
mediator message, and `cqrs.request.duration`), `OutboxGauges` (the outbox's
pending and dead rows, sampled from an `OutboxAdmin`) and `SagaGauges` (the
unfinished sagas by status, sampled from a `SagaAdminStore`).

Every duration is in seconds, bucketed by `DURATION_BUCKETS` (1 ms to 30 s).

>>> middleware = TracingMiddleware()
>>> DURATION_BUCKETS[0], DURATION_BUCKETS[-1]
(0.001, 30.0)
"""

from cqrs.telemetry._otel import DURATION_BUCKETS, INSTRUMENTATION_NAME
from cqrs.telemetry.consumer import CONSUMER_DURATION, CONSUMER_LAG, CONSUMER_RECORDS
from cqrs.telemetry.middleware import REQUEST_DURATION, TracingMiddleware
from cqrs.telemetry.outbox import (
    OUTBOX_DEAD,
    OUTBOX_FAILED,
    OUTBOX_OLDEST_PENDING_AGE,
    OUTBOX_PENDING,
    OUTBOX_PUBLISH_DURATION,
    OUTBOX_PUBLISHED,
    OutboxGauges,
)
from cqrs.telemetry.saga import (
    SAGA_ACTIVE,
    SAGA_FINISHED,
    SAGA_STEP_DURATION,
    SAGA_TRANSITIONS,
    SagaGauges,
)

__all__ = (
    "INSTRUMENTATION_NAME",
    "DURATION_BUCKETS",
    "TracingMiddleware",
    "OutboxGauges",
    "SagaGauges",
    "REQUEST_DURATION",
    "OUTBOX_PUBLISHED",
    "OUTBOX_FAILED",
    "OUTBOX_PUBLISH_DURATION",
    "OUTBOX_PENDING",
    "OUTBOX_DEAD",
    "OUTBOX_OLDEST_PENDING_AGE",
    "CONSUMER_RECORDS",
    "CONSUMER_DURATION",
    "CONSUMER_LAG",
    "SAGA_TRANSITIONS",
    "SAGA_STEP_DURATION",
    "SAGA_FINISHED",
    "SAGA_ACTIVE",
)
