"""Saga spans and metrics: every act and compensation, the step log's transitions, and
the reply's trace continuing in the saga."""

from __future__ import annotations

import collections.abc
import dataclasses
import datetime
import typing
import uuid

import pydantic
import pytest
from opentelemetry import trace

import cqrs
from cqrs.container.di import DIContainer
from cqrs.saga.execution import CompensationPolicy, SagaRunner
from cqrs.saga.messaging import MessagingStep
from cqrs.saga.models import SagaContext, SagaStatus
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.telemetry.saga import SAGA_ACTIVE, SAGA_FINISHED, SAGA_TRANSITIONS, SagaGauges
from cqrs.testing import registered_outbox_events
from cqrs.testing.telemetry import CapturedTelemetry, parent_id, span_id
from cqrs.testing.telemetry import trace_id as trace_of

RESERVE, RESERVED = "telemetry.reserve_stock", "telemetry.stock_reserved"


class StockCommand(pydantic.BaseModel):
    saga_id: uuid.UUID


@dataclasses.dataclass
class Order(SagaContext):
    decline: bool = False
    charged: bool = False


class Charge(SagaStepHandler[Order, str]):
    async def act(self, context: Order) -> SagaStepResult[Order, str]:
        context.charged = True
        return self._generate_step_result("charged")

    async def compensate(self, context: Order) -> None:
        context.charged = False


class Ship(SagaStepHandler[Order, str]):
    async def act(self, context: Order) -> SagaStepResult[Order, str]:
        if context.decline:
            raise ValueError("no courier")
        return self._generate_step_result("shipped")

    async def compensate(self, context: Order) -> None:
        pass


class Reserve(MessagingStep[Order, str]):
    replies = (RESERVED,)
    timeout = datetime.timedelta(seconds=30)

    async def command(self, context: Order, saga_id: uuid.UUID) -> cqrs.NotificationEvent:
        return cqrs.NotificationEvent[StockCommand](
            event_name=RESERVE, topic="stock", payload=StockCommand(saga_id=saga_id)
        )

    async def on_reply(
        self, context: Order, reply: cqrs.NotificationEvent
    ) -> SagaStepResult[Order, str]:
        return self._generate_step_result("reserved")


class Delivery(Saga[Order]):
    steps = [Charge, Ship]


class Reservation(Saga[Order]):
    steps = [Reserve, Ship]


@pytest.fixture(autouse=True)
def registered_commands() -> collections.abc.Iterator[None]:
    with registered_outbox_events({RESERVE: cqrs.NotificationEvent[StockCommand]}):
        yield


def runner(saga: type[Saga[typing.Any]], storage: MemorySagaStorage) -> SagaRunner:
    return SagaRunner(
        saga,
        DIContainer(),
        storage,
        compensation=CompensationPolicy(attempts=1, initial_delay=0.0, max_delay=0.0),
    )


async def sent_in_a_trace(storage: MemorySagaStorage, saga_id: uuid.UUID) -> SagaRunner:
    """A `Reservation` saga started in a trace of its own: its command sent, it waits."""
    reservation = runner(Reservation, storage)
    with trace.get_tracer("test").start_as_current_span("place order"):
        async for _ in reservation.stream(Order(), saga_id):
            pass
    return reservation


async def test_each_act_and_compensation_is_a_span_with_its_saga_step_and_outcome(
    telemetry: CapturedTelemetry,
) -> None:
    saga_id = uuid.uuid4()
    transitions = {"cqrs.saga.name": Delivery.saga_name()}
    compensated_before = telemetry.metric_value(
        SAGA_TRANSITIONS, **transitions, **{"cqrs.saga.action": "compensate"}
    )
    failed_before = telemetry.metric_value(
        SAGA_FINISHED, **transitions, **{"cqrs.saga.status": "failed"}
    )

    with pytest.raises(ValueError, match="no courier"):
        async for _ in runner(Delivery, MemorySagaStorage()).stream(Order(decline=True), saga_id):
            pass

    spans = telemetry.spans("saga ")
    described = [
        (
            span.attributes["cqrs.saga.step"],
            span.attributes["cqrs.saga.action"],
            span.attributes["cqrs.saga.outcome"],
        )
        for span in spans
        if span.attributes is not None
    ]
    assert described == [
        ("Charge", "act", "completed"),
        ("Ship", "act", "failed"),
        ("Charge", "compensate", "completed"),
    ]
    assert all(
        span.attributes is not None and span.attributes["cqrs.saga.id"] == str(saga_id)
        for span in spans
    )
    assert spans[1].status.status_code is trace.StatusCode.ERROR
    compensated = telemetry.metric_value(
        SAGA_TRANSITIONS, **transitions, **{"cqrs.saga.action": "compensate"}
    )
    assert compensated == compensated_before + 1
    finished = telemetry.metric_value(
        SAGA_FINISHED, **transitions, **{"cqrs.saga.status": "failed"}
    )
    assert finished == failed_before + 1


async def test_a_sent_command_carries_the_steps_span_and_a_reply_runs_in_the_replys_trace(
    telemetry: CapturedTelemetry,
) -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    reservation = await sent_in_a_trace(storage, saga_id)
    (sent,) = telemetry.spans("saga ")
    (write,) = telemetry.spans("outbox write ")
    assert parent_id(write) == span_id(sent)
    assert sent.attributes is not None
    assert sent.attributes["cqrs.saga.outcome"] == "started"

    telemetry.clear()
    reply = cqrs.NotificationEvent[dict[str, str]](event_name=RESERVED, topic="replies", payload={})
    with trace.get_tracer("test").start_as_current_span("process replies") as consumer:
        state = await reservation.deliver(saga_id, reply)

    assert state.status is SagaStatus.COMPLETED
    on_reply, ship = telemetry.spans("saga ")
    assert parent_id(on_reply) == consumer.get_span_context().span_id
    assert parent_id(ship) == consumer.get_span_context().span_id
    assert {span.context.trace_id for span in (on_reply, ship) if span.context} == {
        consumer.get_span_context().trace_id
    }


async def test_saga_gauges_count_unfinished_sagas_by_status(telemetry: CapturedTelemetry) -> None:
    storage = MemorySagaStorage()
    reservation = runner(Reservation, storage)
    for _ in range(2):
        async for _ in reservation.stream(Order(), uuid.uuid4()):
            pass

    gauges = SagaGauges(storage)  # reported while it lives
    counts = await gauges.refresh()

    assert counts == {(Reservation.saga_name(), "running"): 2}
    active = telemetry.metric_value(
        SAGA_ACTIVE, **{"cqrs.saga.name": Reservation.saga_name(), "cqrs.saga.status": "running"}
    )
    assert active == 2


async def test_a_reply_from_another_trace_links_the_saga_to_the_trace_that_sent_the_command(
    telemetry: CapturedTelemetry,
) -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    reservation = await sent_in_a_trace(storage, saga_id)
    (sent,) = telemetry.spans("saga ")
    assert (await storage.load_saga_state(saga_id)).trace_context is not None
    telemetry.clear()

    reply = cqrs.NotificationEvent[dict[str, str]](event_name=RESERVED, topic="replies", payload={})
    with trace.get_tracer("test").start_as_current_span("a reply without its trace") as consumer:
        await reservation.deliver(saga_id, reply)

    on_reply = telemetry.spans("saga ")[0]
    assert parent_id(on_reply) == consumer.get_span_context().span_id
    assert [link.context.span_id for link in on_reply.links] == [span_id(sent)]


async def test_a_recovered_saga_links_to_its_last_trace(telemetry: CapturedTelemetry) -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    delivery = runner(Delivery, storage)
    with trace.get_tracer("test").start_as_current_span("place order"):
        steps = delivery.stream(Order(), saga_id)
        await anext(steps)  # Charge done; the worker stops here
        await steps.aclose()
    (charged,) = telemetry.spans("saga ")
    telemetry.clear()

    async for _ in delivery.resume(saga_id):  # the recovery worker: outside any trace
        pass

    (shipped,) = telemetry.spans("saga ")
    assert shipped.parent is None
    assert [link.context.trace_id for link in shipped.links] == [trace_of(charged)]
