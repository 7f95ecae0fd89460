"""Spans and metrics of the saga engine.

Every act and compensation of a step runs in a span `saga <saga> <step>
<action>` with `cqrs.saga.id`, `cqrs.saga.name`, `cqrs.saga.step`,
`cqrs.saga.action` and, once it ends, `cqrs.saga.outcome` (the step status
it recorded: `completed`, `failed`, `started` for a command sent and
waiting for its reply). A saga moved on by a reply runs in the reply's
trace (the consumer's span), so the hops of one order line up. The saga
keeps the context of the span that last moved it on (`SagaState.trace_context`):
a pass in another trace (the recovery worker's, or a reply that did not
carry the saga's trace) links its spans to it.

- `cqrs.saga.transitions` counts the step log's entries by saga, step,
  action and outcome;
- `cqrs.saga.step.duration` times acts and compensations, in seconds;
- `cqrs.saga.finished` counts sagas reaching a final status, by saga and
  `cqrs.saga.status`;
- `SagaGauges` reports `cqrs.saga.active`: unfinished sagas by saga and
  status, sampled from a `cqrs.admin.SagaAdminStore`.

>>> telemetry = SagaTelemetry("order")
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
import typing
import uuid

from opentelemetry import metrics, trace

from cqrs.admin.paging import MAX_PAGE_SIZE
from cqrs.admin.sagas import SagaAdminStore, SagaQuery
from cqrs.saga.models import SagaStatus, SagaStepAction, SagaStepStatus
from cqrs.saga.storage.protocol import StoredTrace
from cqrs.telemetry._otel import (
    duration_histogram,
    error_type,
    meter,
    observable_gauge,
    refresh_until,
    span_context_of,
    tracer,
)
from cqrs.tracing import trace_headers

__all__ = (
    "SagaTelemetry",
    "SagaGauges",
    "SAGA_TRANSITIONS",
    "SAGA_STEP_DURATION",
    "SAGA_FINISHED",
    "SAGA_ACTIVE",
)

#: Step log entries by `cqrs.saga.name`, `cqrs.saga.step`, `cqrs.saga.action`, `cqrs.saga.outcome`.
SAGA_TRANSITIONS: typing.Final = "cqrs.saga.transitions"
#: Time of a step's act or compensation, in seconds.
SAGA_STEP_DURATION: typing.Final = "cqrs.saga.step.duration"
#: Sagas reaching a final status, by `cqrs.saga.name` and `cqrs.saga.status`.
SAGA_FINISHED: typing.Final = "cqrs.saga.finished"
#: Unfinished sagas, by `cqrs.saga.name` and `cqrs.saga.status`.
SAGA_ACTIVE: typing.Final = "cqrs.saga.active"

_UNFINISHED: typing.Final = tuple(status for status in SagaStatus if not status.is_final)


class StepOutcome:
    """Told the status the step recorded, inside its span."""

    value: str = SagaStepStatus.COMPLETED.value

    def __call__(self, status: SagaStepStatus) -> None:
        self.value = status.value


class SagaTelemetry:
    """One saga class's spans and instruments (`SagaRunner` makes one when
    OpenTelemetry is installed)."""

    def __init__(self, saga_name: str) -> None:
        self.saga_name = saga_name
        self._tracer = tracer()
        instruments = meter()
        self._transitions = instruments.create_counter(
            SAGA_TRANSITIONS, unit="{transition}", description="Saga step log entries"
        )
        self._duration = duration_histogram(
            instruments, SAGA_STEP_DURATION, "Time of a saga step's act or compensation"
        )
        self._finished = instruments.create_counter(
            SAGA_FINISHED, unit="{saga}", description="Sagas reaching a final status"
        )

    def stored_context(self) -> StoredTrace:
        """What the saga keeps of the current span (`trace_context`), empty outside one."""
        traceparent = trace_headers().get("traceparent")
        return {} if traceparent is None else {"trace_context": traceparent}

    def links_to(self, trace_context: str | None) -> tuple[trace.Link, ...]:
        """A link to the span stored as `trace_context`, when it is of another trace than
        the current one (a recovery, or a reply that did not carry the saga's trace)."""
        if trace_context is None:
            return ()
        stored = span_context_of({"traceparent": trace_context})
        current = trace.get_current_span().get_span_context()
        if stored is None or stored.trace_id == current.trace_id:
            return ()
        return (trace.Link(stored, {"cqrs.saga.link": "last pass"}),)

    @contextlib.contextmanager
    def step(
        self,
        saga_id: uuid.UUID,
        step_name: str,
        action: SagaStepAction,
        links: typing.Sequence[trace.Link] = (),
    ) -> typing.Generator[StepOutcome, None, None]:
        """Run the block in the step's span (linked to `links`); it raises for a failure,
        or tells the yielded `StepOutcome` another status than `completed`."""
        attributes = {
            "cqrs.saga.name": self.saga_name,
            "cqrs.saga.step": step_name,
            "cqrs.saga.action": action.value,
        }
        outcome = StepOutcome()
        started = time.perf_counter()
        with self._tracer.start_as_current_span(
            f"saga {self.saga_name} {step_name} {action.value}",
            attributes={**attributes, "cqrs.saga.id": str(saga_id)},
            links=links,
        ) as span:
            try:
                yield outcome
            except BaseException as error:
                outcome.value = SagaStepStatus.FAILED.value
                attributes["error.type"] = error_type(error)
                raise
            finally:
                span.set_attribute("cqrs.saga.outcome", outcome.value)
                self._duration.record(
                    time.perf_counter() - started,
                    {**attributes, "cqrs.saga.outcome": outcome.value},
                )

    def transition(
        self,
        step_name: str,
        action: SagaStepAction,
        status: SagaStepStatus,
        saga_status: SagaStatus | None,
    ) -> None:
        """Count a step log entry, and the saga's end when `saga_status` is final."""
        self._transitions.add(
            1,
            {
                "cqrs.saga.name": self.saga_name,
                "cqrs.saga.step": step_name,
                "cqrs.saga.action": action.value,
                "cqrs.saga.outcome": status.value,
            },
        )
        if saga_status is not None:
            self.status(saga_status)

    def status(self, saga_status: SagaStatus) -> None:
        """Count the saga's end when `saga_status` is final."""
        if saga_status.is_final:
            self._finished.add(
                1, {"cqrs.saga.name": self.saga_name, "cqrs.saga.status": saga_status.value}
            )


class SagaGauges:
    """`cqrs.saga.active`: unfinished sagas by name and status, as of the last `refresh`
    of a `SagaAdminStore` (which pages through the unfinished sagas only)."""

    def __init__(self, store: SagaAdminStore) -> None:
        self._store = store
        self._counts: dict[tuple[str, str], int] = {}
        observable_gauge(
            SAGA_ACTIVE, "{saga}", "Unfinished sagas by status", self, SagaGauges._observe
        )

    async def refresh(self) -> dict[tuple[str, str], int]:
        """Count the unfinished sagas now, by (name, status); the gauge reports them
        until the next refresh."""
        counts: collections.Counter[tuple[str, str]] = collections.Counter()
        for status in _UNFINISHED:
            cursor: str | None = None
            while True:
                page = await self._store.list_sagas(
                    SagaQuery(status=status), cursor=cursor, limit=MAX_PAGE_SIZE
                )
                counts.update((saga.name, saga.status.value) for saga in page.items)
                cursor = page.next_cursor
                if cursor is None:
                    break
        self._counts = dict(counts)
        return self._counts

    async def run(self, stop: asyncio.Event, interval: float = 15.0) -> None:
        """Refresh every `interval` seconds until `stop` is set (a failure is logged)."""
        await refresh_until(stop, interval, self.refresh)

    def _observe(self) -> list[metrics.Observation]:
        return [
            metrics.Observation(count, {"cqrs.saga.name": name, "cqrs.saga.status": status})
            for (name, status), count in self._counts.items()
        ]
