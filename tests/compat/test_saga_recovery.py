"""python-cqrs `examples/saga_recovery.py`: a saga run by `saga.transaction(...)` is
interrupted, then `recover_saga` finishes it; an interrupted compensation is finished too."""

from __future__ import annotations

import typing
import uuid

import pytest
from saga_shop import OrderContext, OrderSaga, Services, SimpleContainer, order

from cqrs.saga.recovery import recover_saga
from cqrs.saga.storage.enums import SagaStatus
from cqrs.saga.storage.memory import MemorySagaStorage


async def interrupted_after_first_step(storage: MemorySagaStorage, saga_id: uuid.UUID) -> None:
    saga = OrderSaga()
    async with saga.transaction(
        context=order(), container=SimpleContainer(Services()), storage=storage, saga_id=saga_id
    ) as transaction:
        async for step_result in transaction:
            if step_result.step_type.__name__ == "ReserveInventoryStep":
                break  # the simulated crash


async def test_recovery_resumes_after_the_last_completed_step() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    await interrupted_after_first_step(storage, saga_id)
    status, _, _ = await storage.load_saga_state(saga_id)
    assert status == SagaStatus.RUNNING

    services = Services()
    await recover_saga(OrderSaga(), saga_id, OrderContext, SimpleContainer(services), storage)

    status, context_data, _ = await storage.load_saga_state(saga_id)
    context = OrderContext.from_dict(context_data)
    assert status == SagaStatus.COMPLETED
    assert services.calls == ["charge", "ship"]  # the reservation is not made again
    assert context.inventory_reservation_id == "reservation_order_1"
    assert context.shipment_id == "shipment_order_1"
    history = await storage.get_step_history(saga_id)
    assert [f"{entry.step_name}.{entry.action}" for entry in history] == [
        "ReserveInventoryStep.act",
        "ProcessPaymentStep.act",
        "ShipOrderStep.act",
    ]


async def test_an_interrupted_compensation_is_finished_by_recovery() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    services = Services()
    services.failing_shipments = True
    container = SimpleContainer(services)
    original_resolve = container.resolve
    interrupted: list[str] = []

    async def resolve_crashing_on_refund(type_: type[typing.Any]) -> typing.Any:
        handler = await original_resolve(type_)
        if type(handler).__name__ == "ProcessPaymentStep" and not interrupted:

            async def crash(context: OrderContext) -> None:
                interrupted.append("refund")
                raise ConnectionError("crashed while refunding")

            handler.compensate = crash
        return handler

    container.resolve = resolve_crashing_on_refund  # type: ignore[method-assign]

    async def run() -> None:
        async with OrderSaga().transaction(
            context=order(),
            container=container,
            storage=storage,
            saga_id=saga_id,
            compensation_retry_count=1,
        ) as transaction:
            async for _ in transaction:
                pass

    with pytest.raises(ValueError, match="Shipping service unavailable"):
        await run()
    status, _, _ = await storage.load_saga_state(saga_id)
    assert status != SagaStatus.FAILED  # the refund is still owed

    await recover_saga(OrderSaga(), saga_id, OrderContext, SimpleContainer(services), storage)

    status, _, _ = await storage.load_saga_state(saga_id)
    assert status == SagaStatus.FAILED
    assert services.charged == set()
    assert services.reserved == set()
