"""python-cqrs `examples/saga.py` and the README's saga section: a saga run through the saga
mediator, its step log, and compensation in reverse when a step fails."""

from __future__ import annotations

import uuid

import di
import pytest
from di import dependent
from saga_shop import (
    InventoryReservedEvent,
    OrderContext,
    OrderSaga,
    PaymentProcessedEvent,
    ProcessPaymentStep,
    ReserveInventoryStep,
    Services,
    ShipOrderStep,
    order,
)

import cqrs
from cqrs.saga import bootstrap
from cqrs.saga.storage.enums import SagaStatus
from cqrs.saga.storage.memory import MemorySagaStorage


def container_with(services: Services) -> di.Container:
    container = di.Container()
    container.bind(
        di.bind_by_type(dependent.Dependent(lambda: services, scope="request"), Services)
    )
    return container


def saga_mapper(mapper: cqrs.SagaMap) -> None:
    mapper.bind(OrderContext, OrderSaga)


async def test_a_saga_runs_every_step_and_logs_each_one() -> None:
    services, storage, saga_id = Services(), MemorySagaStorage(), uuid.uuid4()
    mediator = bootstrap.bootstrap(
        di_container=container_with(services), sagas_mapper=saga_mapper, saga_storage=storage
    )
    context = order()

    steps = [r.step_type async for r in mediator.stream(context, saga_id=saga_id)]

    assert steps == [ReserveInventoryStep, ProcessPaymentStep, ShipOrderStep]
    assert context.shipment_id == "shipment_order_1"
    status, stored_context, version = await storage.load_saga_state(saga_id)
    assert status == SagaStatus.COMPLETED
    assert f"{status}" == "completed"
    assert stored_context["payment_id"] == "payment_order_1"
    assert version > 1
    history = await storage.get_step_history(saga_id)
    assert [f"{e.step_name}.{e.action}: {e.status.value}" for e in history] == [
        "ReserveInventoryStep.act: completed",
        "ProcessPaymentStep.act: completed",
        "ShipOrderStep.act: completed",
    ]


async def test_a_failing_step_compensates_the_completed_ones_in_reverse() -> None:
    services, storage, saga_id = Services(payment_limit=100.0), MemorySagaStorage(), uuid.uuid4()
    mediator = bootstrap.bootstrap(
        di_container=container_with(services), sagas_mapper=saga_mapper, saga_storage=storage
    )

    with pytest.raises(ValueError, match="exceeds the limit"):
        async for _ in mediator.stream(order(total_amount=15000.0), saga_id=saga_id):
            pass

    assert services.calls == ["reserve", "charge", "release"]
    assert services.reserved == set()
    status, _, _ = await storage.load_saga_state(saga_id)
    assert status == SagaStatus.FAILED


async def test_step_events_go_to_the_handlers_the_domain_events_mapper_binds() -> None:
    handled: list[str] = []

    class Track(cqrs.EventHandler[InventoryReservedEvent]):
        async def handle(self, event: InventoryReservedEvent) -> None:
            handled.append(event.reservation_id)

    class Bill(cqrs.EventHandler[PaymentProcessedEvent]):
        async def handle(self, event: PaymentProcessedEvent) -> None:
            handled.append(event.payment_id)

    def events_mapper(mapper: cqrs.EventMap) -> None:
        mapper.bind(InventoryReservedEvent, Track)
        mapper.bind(PaymentProcessedEvent, Bill)

    mediator = bootstrap.bootstrap(
        di_container=container_with(Services()),
        sagas_mapper=saga_mapper,
        domain_events_mapper=events_mapper,
        middlewares=None,
        on_startup=None,
    )

    async for _ in mediator.stream(order()):
        pass

    assert handled == ["reservation_order_1", "payment_order_1"]
