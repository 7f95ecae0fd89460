"""Every metric cqrs records, in the Prometheus text a service serves at GET /metrics.

It runs the library's own parts once each on the in-memory adapters (a traced
`send`, a relay publishing and failing, the outbox gauges, a consumer, a saga
that fails and compensates, one left running and the saga gauges) with the
telemetry a service sets up from its `OTEL_*` variables
(`servicekit.telemetry`), and prints what `GET /metrics` would answer. The
series names the Grafana dashboard may query are the ones in that output, so a
metric renamed in the library fails the compose test instead of leaving a panel
empty.

OpenTelemetry takes one global meter provider per process, so
`tests/infra/test_compose.py` runs this file in a process of its own:
`python tests/infra/exported_metrics.py`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import typing
import uuid

import pydantic

import cqrs
from cqrs.consumer import EventConsumer, EventPipeline
from cqrs.consumer.memory import MemoryBroker
from cqrs.container.di import DIContainer
from cqrs.events import EventMap, EventMediator
from cqrs.message_brokers.memory import InMemoryMessageBroker
from cqrs.message_brokers.protocol import MESSAGE_ID_HEADER, Message, payload_json
from cqrs.outbox.memory import MemoryOutbox
from cqrs.outbox.relay import OutboxRelay, RetryPolicy
from cqrs.requests import bootstrap
from cqrs.saga.execution import CompensationPolicy, SagaRunner
from cqrs.saga.models import SagaContext
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.telemetry import OutboxGauges, SagaGauges, TracingMiddleware
from cqrs.testing import FailingBroker, registered_outbox_events
from servicekit.telemetry import telemetry_from_env

TOPIC = "infra.shipments"
GROUP = "infra-couriers"


class Shipped(pydantic.BaseModel):
    order_id: str


ShippedEvent = cqrs.NotificationEvent[Shipped]


class Ship(cqrs.Request[str]):
    order_id: str


class ShipHandler(cqrs.RequestHandler[Ship, str]):
    async def handle(self, request: Ship) -> str:
        return request.order_id


class BookCourier(cqrs.EventHandler[ShippedEvent]):
    async def handle(self, event: ShippedEvent) -> None:
        pass


@dataclasses.dataclass
class Delivery(SagaContext):
    courier_found: bool = True


class Charge(SagaStepHandler[Delivery, str]):
    async def act(self, context: Delivery) -> SagaStepResult[Delivery, str]:
        return self._generate_step_result("charged")

    async def compensate(self, context: Delivery) -> None:
        pass


class Dispatch(SagaStepHandler[Delivery, str]):
    async def act(self, context: Delivery) -> SagaStepResult[Delivery, str]:
        if not context.courier_found:
            raise LookupError("no courier")
        return self._generate_step_result("dispatched")

    async def compensate(self, context: Delivery) -> None:
        pass


class DeliverySaga(Saga[Delivery]):
    steps = [Charge, Dispatch]


async def write(outbox: MemoryOutbox, order_id: str) -> None:
    async with outbox as session:
        event = ShippedEvent(
            event_name="infra.shipped", topic=TOPIC, payload=Shipped(order_id=order_id)
        )
        outbox.add(session, event, key=order_id)
        await outbox.commit(session)


async def send_a_request() -> None:
    """`cqrs.request.duration`."""
    mediator = bootstrap.bootstrap(
        commands_mapper=lambda requests: requests.bind(Ship, ShipHandler),
        middlewares=[TracingMiddleware()],
    )
    await mediator.send(Ship(order_id="o-1"))


async def relay_the_outbox(outbox: MemoryOutbox) -> list[Message]:
    """`cqrs.outbox.published`, `.failed`, `.publish.duration`; leaves a dead and a pending row."""
    await write(outbox, "o-dead")
    given_up_at_once = RetryPolicy(max_attempts=1)
    await OutboxRelay(outbox, FailingBroker(failure_rate=1.0), retry=given_up_at_once).run_once()
    await write(outbox, "o-1")
    published = InMemoryMessageBroker()
    await OutboxRelay(outbox, published).run_once()
    await write(outbox, "o-pending")
    return published.messages


def consumer_of(messages: typing.Sequence[Message]) -> tuple[EventConsumer, MemoryBroker]:
    """A consumer of `messages`, which records `cqrs.consumer.records` and `.duration`,
    and reports `cqrs.consumer.lag` while it runs."""
    broker = MemoryBroker()
    for message in messages:
        headers = [(MESSAGE_ID_HEADER, str(message.message_id).encode())]
        headers += [(name, value.encode()) for name, value in message.headers.items()]
        broker.append(message.topic, payload_json(message.payload), key=None, headers=headers)
    events = EventMap()
    events.bind(ShippedEvent, BookCourier)
    pipeline = EventPipeline(
        mediator=EventMediator(events, DIContainer()),
        dead_letters=broker,
        consumer_name=GROUP,
    )
    return EventConsumer(broker.transport([TOPIC], GROUP), pipeline), broker


async def run_sagas(storage: MemorySagaStorage) -> None:
    """`cqrs.saga.transitions`, `.step.duration`, `.finished`; leaves one saga running."""
    runner = SagaRunner(
        DeliverySaga,
        DIContainer(),
        storage,
        compensation=CompensationPolicy(attempts=1, initial_delay=0.0, max_delay=0.0),
    )
    try:
        async for _ in runner.stream(Delivery(courier_found=False), uuid.uuid4()):
            pass
    except LookupError:
        pass  # the saga failed and compensated Charge, as meant
    steps = runner.stream(Delivery(), uuid.uuid4())
    await anext(steps)  # Charge done; stopped before Dispatch, as a crashed worker would
    await steps.aclose()


async def metrics_text() -> str:
    """Record every metric once, and return `GET /metrics`'s text while the gauges' sources live."""
    telemetry = telemetry_from_env({"OTEL_SERVICE_NAME": "infra-test"})
    telemetry.install()
    await send_a_request()
    storage = MemorySagaStorage()
    await run_sagas(storage)
    saga_gauges = SagaGauges(storage)
    await saga_gauges.refresh()
    # The relay and the consumer find the event's class by its name.
    with registered_outbox_events({"infra.shipped": ShippedEvent}):
        outbox = MemoryOutbox()
        messages = await relay_the_outbox(outbox)
        outbox_gauges = OutboxGauges(outbox)
        await outbox_gauges.refresh()
        consumer, broker = consumer_of(messages)
        async with consumer:  # a consumer reports its lag while it holds its partitions
            await broker.wait_for_position(GROUP, TOPIC, 0, len(messages))
            return telemetry.metrics_text().decode()


if __name__ == "__main__":
    print(asyncio.run(metrics_text()), end="")
