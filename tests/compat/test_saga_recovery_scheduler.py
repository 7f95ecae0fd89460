"""python-cqrs `examples/saga_recovery_scheduler.py`: a loop that asks the storage for stale
sagas (`get_sagas_for_recovery`) and recovers each with `recover_saga`."""

from __future__ import annotations

import contextlib
import datetime
import uuid

from saga_shop import OrderContext, OrderSaga, Services, SimpleContainer, order

from cqrs.saga.recovery import recover_saga
from cqrs.saga.storage.enums import SagaStatus, SagaStepStatus
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.saga.storage.protocol import ISagaStorage
from cqrs.testing import FakeClock

RECOVERY_BATCH_LIMIT = 10
MAX_RECOVERY_ATTEMPTS = 5
STALE_AFTER_SECONDS = 60


async def create_interrupted_saga(storage: MemorySagaStorage) -> uuid.UUID:
    """A saga left RUNNING with one step done, written as python-cqrs's example writes it."""
    saga_id = uuid.uuid4()
    context = order("order_scheduler_demo")
    # The stored name must be the saga's: ours checks it on recovery (python-cqrs did not).
    await storage.create_saga(
        saga_id=saga_id, name=OrderSaga.saga_name(), context=context.to_dict()
    )
    await storage.update_status(saga_id, SagaStatus.RUNNING)
    await storage.log_step(saga_id, "ReserveInventoryStep", "act", SagaStepStatus.STARTED)
    await storage.log_step(saga_id, "ReserveInventoryStep", "act", SagaStepStatus.COMPLETED)
    context_data = context.to_dict()
    context_data["inventory_reservation_id"] = "reservation_order_scheduler_demo"
    await storage.update_context(saga_id, context_data)
    return saga_id


async def run_recovery_iteration(storage: ISagaStorage, services: Services) -> int:
    ids = await storage.get_sagas_for_recovery(
        limit=RECOVERY_BATCH_LIMIT,
        max_recovery_attempts=MAX_RECOVERY_ATTEMPTS,
        stale_after_seconds=STALE_AFTER_SECONDS,
    )
    for saga_id in ids:
        await recover_saga(OrderSaga(), saga_id, OrderContext, SimpleContainer(services), storage)
    return len(ids)


async def test_a_stale_saga_is_recovered_once_and_then_no_longer_offered() -> None:
    clock = FakeClock()
    storage = MemorySagaStorage(clock=clock)
    services = Services()
    saga_id = await create_interrupted_saga(storage)

    assert await run_recovery_iteration(storage, services) == 0  # not stale yet
    clock.advance(datetime.timedelta(seconds=STALE_AFTER_SECONDS + 10))
    assert await run_recovery_iteration(storage, services) == 1
    assert await run_recovery_iteration(storage, services) == 0

    status, context_data, _ = await storage.load_saga_state(saga_id)
    assert status == SagaStatus.COMPLETED
    assert services.calls == ["charge", "ship"]
    assert context_data["inventory_reservation_id"] == "reservation_order_scheduler_demo"


async def test_a_saga_that_keeps_failing_recovery_stops_being_offered() -> None:
    clock = FakeClock()
    storage = MemorySagaStorage(clock=clock)
    saga_id = uuid.uuid4()
    await storage.create_saga(saga_id, OrderSaga.saga_name(), order().to_dict())
    await storage.update_status(saga_id, SagaStatus.RUNNING)

    def outdated_builder(data: object) -> OrderContext:
        raise KeyError("the stored context no longer fits OrderContext")

    for attempt in range(1, MAX_RECOVERY_ATTEMPTS + 2):
        clock.advance(datetime.timedelta(seconds=STALE_AFTER_SECONDS + 1))
        ids = await storage.get_sagas_for_recovery(
            RECOVERY_BATCH_LIMIT, MAX_RECOVERY_ATTEMPTS, STALE_AFTER_SECONDS
        )
        if attempt > MAX_RECOVERY_ATTEMPTS:
            assert ids == []
            break
        assert ids == [saga_id]
        with contextlib.suppress(KeyError):
            await recover_saga(
                OrderSaga(), saga_id, outdated_builder, SimpleContainer(Services()), storage
            )

    assert (await storage.load_saga_state(saga_id)).recovery_attempts == MAX_RECOVERY_ATTEMPTS
