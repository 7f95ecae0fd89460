"""`recover_saga`, `SagaRunner.resume` and `SagaRecoveryWorker`: finishing sagas a crash left."""

from __future__ import annotations

import asyncio
import datetime
import logging
import typing
import uuid

import di
import pytest
from saga_order_steps import (
    QUICK,
    ChargeCard,
    Crash,
    OrderContext,
    OrderSaga,
    ReserveStock,
    ShipParcel,
    StepFailed,
    WalletFallbackSaga,
    World,
    harness,
    log_of,
    recover,
    run,
    runner_for,
    status_of,
)

from cqrs.container.di import DIContainer
from cqrs.saga.errors import (
    SagaConcurrencyError,
    SagaNotFoundError,
    SagaNotRetriableError,
    SagaTypeMismatchError,
)
from cqrs.saga.execution import SagaRunner
from cqrs.saga.models import SagaStatus, SagaStepAction, SagaStepStatus
from cqrs.saga.recovery import SagaRecoveryWorker, recover_saga
from cqrs.saga.saga import Saga, SagaDefinitionError
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.testing import FakeClock

pytestmark = pytest.mark.usefixtures("world")

ACT, COMPENSATE = SagaStepAction.ACT, SagaStepAction.COMPENSATE
COMPLETED, FAILED = SagaStepStatus.COMPLETED, SagaStepStatus.FAILED
STALE = datetime.timedelta(seconds=60)


async def crashed_in_charge_card(world: World, storage: MemorySagaStorage) -> uuid.UUID:
    """A saga whose worker was killed inside ChargeCard's act, after ReserveStock completed."""
    saga_id = uuid.uuid4()
    world.fail("act:ChargeCard", Crash("killed during ChargeCard"))
    with pytest.raises(Crash):
        await run(runner_for(storage), saga_id)
    return saga_id


# --- crashes while running -----------------------------------------------------------


async def test_a_crash_leaves_the_saga_running_and_uncompensated(world: World) -> None:
    storage = MemorySagaStorage()

    saga_id = await crashed_in_charge_card(world, storage)

    assert world.calls == ["act:ReserveStock", "act:ChargeCard"]
    assert await status_of(storage, saga_id) is SagaStatus.RUNNING
    assert await log_of(storage, saga_id) == [("ReserveStock", "act", "completed")]


async def test_recovery_resumes_after_the_last_completed_step(world: World) -> None:
    storage = MemorySagaStorage()
    saga_id = await crashed_in_charge_card(world, storage)

    assert await recover(storage, saga_id) is SagaStatus.COMPLETED

    # The interrupted act was never recorded as done, so it runs again.
    assert world.calls == ["act:ReserveStock", "act:ChargeCard", "act:ChargeCard", "act:ShipParcel"]


async def test_recovery_continues_from_the_persisted_context(world: World) -> None:
    storage = MemorySagaStorage()
    saga_id = await crashed_in_charge_card(world, storage)
    state = await storage.load_saga_state(saga_id)
    await storage.update_context(saga_id, {**state.context, "order_id": "order-9"}, state.version)

    await recover(storage, saga_id)

    assert world.contexts_seen["ChargeCard"]["reservation_id"] == "res-1"
    assert world.contexts_seen["ShipParcel"]["order_id"] == "order-9"
    final = (await storage.load_saga_state(saga_id)).context
    assert (final["order_id"], final["payment_id"], final["parcel_id"]) == (
        "order-9",
        "pay-1",
        "parcel-1",
    )


async def test_runner_resume_carries_on_a_crashed_running_saga(world: World) -> None:
    storage = MemorySagaStorage()
    saga_id = await crashed_in_charge_card(world, storage)
    world.calls.clear()

    results = [r async for r in runner_for(storage).resume(saga_id)]

    assert [(r.step_type, r.response) for r in results] == [
        (ChargeCard, "pay-1"),
        (ShipParcel, "parcel-1"),
    ]
    assert world.calls == ["act:ChargeCard", "act:ShipParcel"]  # ReserveStock is not rerun
    assert world.contexts_seen["ChargeCard"]["reservation_id"] == "res-1"
    assert await status_of(storage, saga_id) is SagaStatus.COMPLETED
    assert [r async for r in runner_for(storage).resume(saga_id)] == []  # finished: no-op


async def test_resume_rebuilds_the_context_with_the_context_type_given(world: World) -> None:
    class UntypedOrderSaga(Saga):  # type: ignore[type-arg]  # no Saga[OrderContext]
        steps = [ReserveStock, ChargeCard, ShipParcel]

    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    await storage.create_saga(
        saga_id, UntypedOrderSaga.saga_name(), OrderContext("order-4").to_dict()
    )

    with pytest.raises(SagaDefinitionError, match="context_type"):
        await run_resume(SagaRunner(UntypedOrderSaga, DIContainer(), storage), saga_id)
    typed = SagaRunner(UntypedOrderSaga, DIContainer(), storage, context_type=OrderContext)
    await run_resume(typed, saga_id)

    assert world.contexts_seen["ReserveStock"]["order_id"] == "order-4"
    assert await status_of(storage, saga_id) is SagaStatus.COMPLETED


async def run_resume(runner: SagaRunner, saga_id: uuid.UUID) -> None:
    async for _ in runner.resume(saga_id):
        pass


async def test_a_position_completed_by_its_fallback_is_not_rerun_on_recovery(
    world: World,
) -> None:
    saga, saga_id = harness(WalletFallbackSaga).fail(ChargeCard), uuid.uuid4()
    world.fail("act:ShipParcel", Crash("killed during ShipParcel"))
    with pytest.raises(Crash):
        await saga.start(OrderContext(), saga_id)

    status = await recover_saga(WalletFallbackSaga, saga_id, OrderContext, None, saga.storage)

    assert status is SagaStatus.COMPLETED
    assert world.calls == [
        "act:ReserveStock",
        "act:ChargeWallet",
        "act:ShipParcel",
        "act:ShipParcel",
    ]
    assert (await saga.storage.load_saga_state(saga_id)).context["payment_id"] == "wallet-1"


async def test_a_crashed_pending_saga_is_recovered_from_its_first_step(world: World) -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    await storage.create_saga(saga_id, OrderSaga.saga_name(), OrderContext("order-5").to_dict())

    assert await recover(storage, saga_id) is SagaStatus.COMPLETED

    assert world.calls == ["act:ReserveStock", "act:ChargeCard", "act:ShipParcel"]
    assert world.contexts_seen["ReserveStock"]["order_id"] == "order-5"


async def test_recover_saga_takes_the_saga_class_and_no_container() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    await storage.create_saga(saga_id, OrderSaga.saga_name(), OrderContext().to_dict())

    status = await recover_saga(OrderSaga, saga_id, OrderContext, None, storage)

    assert status is SagaStatus.COMPLETED


async def test_recovering_a_completed_saga_runs_nothing(world: World) -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    await run(runner_for(storage), saga_id)
    world.calls.clear()

    assert await recover(storage, saga_id) is SagaStatus.COMPLETED
    assert world.calls == []


async def test_recovering_an_unknown_saga_raises_not_found() -> None:
    with pytest.raises(SagaNotFoundError):
        await recover(MemorySagaStorage(), uuid.uuid4())


async def test_recovering_with_another_saga_class_raises_and_changes_nothing(
    world: World,
) -> None:
    storage = MemorySagaStorage()
    saga_id = await crashed_in_charge_card(world, storage)
    before = await storage.load_saga_state(saga_id)
    history_before = await storage.get_step_history(saga_id)
    world.calls.clear()

    with pytest.raises(SagaTypeMismatchError, match="OrderSaga") as raised:
        await recover(storage, saga_id, saga=WalletFallbackSaga)

    assert raised.value.saga_id == saga_id
    assert world.calls == []
    assert await storage.load_saga_state(saga_id) == before
    assert await storage.get_step_history(saga_id) == history_before
    assert await storage.claim(saga_id, "a-worker", STALE)  # the failed pass let go of it
    await storage.release(saga_id, "a-worker")
    assert await recover(storage, saga_id) is SagaStatus.COMPLETED  # the right class still can


async def test_a_step_failing_during_recovery_compensates_and_raises(world: World) -> None:
    storage = MemorySagaStorage()
    saga_id = await crashed_in_charge_card(world, storage)
    world.fail("act:ChargeCard", StepFailed("card declined"))

    with pytest.raises(StepFailed):
        await recover(storage, saga_id)

    assert world.calls[-2:] == ["act:ChargeCard", "compensate:ReserveStock"]
    assert await status_of(storage, saga_id) is SagaStatus.FAILED


async def test_a_failed_recovery_counts_a_recovery_attempt(world: World) -> None:
    storage = MemorySagaStorage()
    saga_id = await crashed_in_charge_card(world, storage)
    world.fail("act:ChargeCard", StepFailed("card declined"))

    with pytest.raises(StepFailed):
        await recover(storage, saga_id)

    assert (await storage.load_saga_state(saga_id)).recovery_attempts == 1


async def test_the_context_may_be_rebuilt_by_a_function(world: World) -> None:
    storage = MemorySagaStorage()
    saga_id = await crashed_in_charge_card(world, storage)
    seen: list[dict[str, object]] = []

    def build(data: typing.Mapping[str, object]) -> OrderContext:
        seen.append(dict(data))
        return OrderContext.from_dict(data)

    status = await recover_saga(OrderSaga(), saga_id, build, None, storage, compensation=QUICK)

    assert status is SagaStatus.COMPLETED
    assert [entry["order_id"] for entry in seen] == [OrderContext().order_id]


# --- crashes while compensating ------------------------------------------------------


class CrashRightAfterCompensating(MemorySagaStorage):
    """Dies just after the write that moved the saga to `compensating` went through."""

    async def record_step(
        self,
        saga_id: uuid.UUID,
        step_name: str,
        action: SagaStepAction,
        status: SagaStepStatus,
        **fields: typing.Any,
    ) -> int:
        version = await super().record_step(saga_id, step_name, action, status, **fields)
        if fields.get("saga_status") is SagaStatus.COMPENSATING:
            raise Crash(f"killed right after recording that {step_name} failed")
        return version


async def test_a_crash_right_after_the_failure_is_recorded_recovers_backwards(
    world: World,
) -> None:
    storage, saga_id = CrashRightAfterCompensating(), uuid.uuid4()
    world.fail("act:ChargeCard", StepFailed("card declined"))
    with pytest.raises(Crash):
        await run(runner_for(storage), saga_id)
    assert world.calls == ["act:ReserveStock", "act:ChargeCard"]
    assert await status_of(storage, saga_id) is SagaStatus.COMPENSATING

    assert await recover(storage, saga_id) is SagaStatus.FAILED

    # Backwards only: ChargeCard is neither retried nor compensated, ShipParcel never runs.
    assert world.calls == ["act:ReserveStock", "act:ChargeCard", "compensate:ReserveStock"]


async def test_a_crash_inside_a_compensation_is_finished_by_recovery(world: World) -> None:
    saga, saga_id = harness().fail(ShipParcel), uuid.uuid4()
    world.fail("compensate:ChargeCard", Crash("killed while undoing ChargeCard"))
    with pytest.raises(Crash):
        await saga.start(OrderContext(), saga_id)
    assert await status_of(saga.storage, saga_id) is SagaStatus.COMPENSATING
    world.calls.clear()

    assert await recover(saga.storage, saga_id) is SagaStatus.FAILED

    assert world.calls == ["compensate:ChargeCard", "compensate:ReserveStock"]


async def test_recovery_retries_only_the_steps_not_yet_compensated(world: World) -> None:
    saga = harness().fail(ShipParcel).fail(ReserveStock, on="compensate")
    outcome = await saga.start(OrderContext())
    assert (outcome.status, outcome.compensated) == (SagaStatus.COMPENSATION_FAILED, ["ChargeCard"])
    world.calls.clear()  # the warehouse is reachable again

    assert await recover(saga.storage, outcome.saga_id) is SagaStatus.FAILED

    assert world.calls == ["compensate:ReserveStock"]
    history = await saga.storage.get_step_history(outcome.saga_id)
    assert (history[-1].step_name, history[-1].action, history[-1].status) == (
        "ReserveStock",
        COMPENSATE,
        COMPLETED,
    )


async def test_recovery_finishes_the_compensations_a_failing_one_held_back(
    world: World,
) -> None:
    saga = harness().fail(ShipParcel).fail(ChargeCard, on="compensate")
    outcome = await saga.start(OrderContext())
    assert outcome.status is SagaStatus.COMPENSATION_FAILED
    assert world.compensations() == []  # ReserveStock waits behind ChargeCard

    assert await recover(saga.storage, outcome.saga_id) is SagaStatus.FAILED

    assert world.compensations() == ["ChargeCard", "ReserveStock"]  # still strictly reverse
    final = (await saga.storage.load_saga_state(outcome.saga_id)).context
    assert (final["reservation_id"], final["payment_id"]) == (None, None)


async def test_a_compensation_still_failing_on_recovery_stays_compensation_failed(
    world: World, sleeps: list[float]
) -> None:
    saga = harness().fail(ShipParcel).fail(ChargeCard, on="compensate")
    saga_id = (await saga.start(OrderContext())).saga_id
    world.calls.clear()
    world.fail("compensate:ChargeCard", StepFailed("refunds are down"), times=99)

    assert await recover(saga.storage, saga_id) is SagaStatus.COMPENSATION_FAILED

    assert world.calls == ["compensate:ChargeCard"] * QUICK.attempts
    assert len(sleeps) == QUICK.attempts - 1


# --- one worker at a time ------------------------------------------------------------


async def test_two_concurrent_recoveries_run_each_act_once(world: World) -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    await storage.create_saga(saga_id, OrderSaga.saga_name(), OrderContext().to_dict())
    gate = world.gate("ReserveStock")

    async def recover_and_let_go() -> SagaStatus | SagaConcurrencyError:
        try:
            return await recover(storage, saga_id)
        except SagaConcurrencyError as exc:
            return exc
        finally:
            gate.release.set()

    outcomes = await asyncio.gather(recover_and_let_go(), recover_and_let_go())

    assert world.calls == ["act:ReserveStock", "act:ChargeCard", "act:ShipParcel"]
    assert SagaStatus.COMPLETED in outcomes
    assert sum(isinstance(outcome, SagaConcurrencyError) for outcome in outcomes) == 1


async def test_a_live_lease_keeps_recovery_away(world: World) -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    gate = world.gate("ChargeCard")
    running = asyncio.create_task(run(runner_for(storage), saga_id))
    await gate.entered.wait()

    with pytest.raises(SagaConcurrencyError):
        await recover(storage, saga_id)

    gate.release.set()
    assert await running == ["ReserveStock", "ChargeCard", "ShipParcel"]
    assert world.calls == ["act:ReserveStock", "act:ChargeCard", "act:ShipParcel"]


async def test_an_expired_lease_lets_another_worker_take_over(world: World) -> None:
    clock = FakeClock()
    storage, saga_id = MemorySagaStorage(clock=clock), uuid.uuid4()
    gate = world.gate("ChargeCard")
    stuck = asyncio.create_task(
        run(runner_for(storage, lease=datetime.timedelta(seconds=30)), saga_id)
    )
    await gate.entered.wait()  # the first worker hangs inside ChargeCard

    clock.advance(seconds=31)
    assert await recover(storage, saga_id) is SagaStatus.COMPLETED

    gate.release.set()
    with pytest.raises(SagaConcurrencyError):
        await stuck  # its late write is refused: the saga moved on without it
    assert world.calls == ["act:ReserveStock", "act:ChargeCard", "act:ChargeCard", "act:ShipParcel"]
    assert await status_of(storage, saga_id) is SagaStatus.COMPLETED


async def test_a_stale_worker_whose_act_fails_late_cannot_undo_the_completed_saga(
    world: World,
) -> None:
    clock = FakeClock()
    storage, saga_id = MemorySagaStorage(clock=clock), uuid.uuid4()
    gate = world.gate("ChargeCard")
    stuck = asyncio.create_task(
        run(runner_for(storage, lease=datetime.timedelta(seconds=30)), saga_id)
    )
    await gate.entered.wait()
    clock.advance(seconds=31)
    assert await recover(storage, saga_id) is SagaStatus.COMPLETED

    world.fail("act:ChargeCard", StepFailed("late decline"))  # the stale worker's call fails
    gate.release.set()
    with pytest.raises((SagaConcurrencyError, StepFailed)):
        await stuck

    assert world.compensations() == []
    assert await status_of(storage, saga_id) is SagaStatus.COMPLETED


# --- the recovery worker -------------------------------------------------------------


def worker_for(storage: MemorySagaStorage, **options: object) -> SagaRecoveryWorker:
    return SagaRecoveryWorker(
        storage=storage,
        sagas={OrderSaga.saga_name(): (OrderSaga, OrderContext)},
        container=di.Container(),
        stale_after=STALE,
        compensation=QUICK,
        **options,  # type: ignore[arg-type]
    )


async def pending_saga(storage: MemorySagaStorage, name: str = "OrderSaga") -> uuid.UUID:
    saga_id = uuid.uuid4()
    await storage.create_saga(saga_id, name, OrderContext().to_dict())
    return saga_id


async def running_saga(storage: MemorySagaStorage) -> uuid.UUID:
    """As left by a worker that died after ReserveStock completed."""
    saga_id = await pending_saga(storage)
    await storage.record_step(
        saga_id,
        "ReserveStock",
        ACT,
        COMPLETED,
        context=OrderContext(reservation_id="res-1").to_dict(),
        current_version=1,
        saga_status=SagaStatus.RUNNING,
    )
    return saga_id


async def compensating_saga(storage: MemorySagaStorage) -> uuid.UUID:
    """As left by a worker that died right after ChargeCard failed."""
    saga_id = await running_saga(storage)
    await storage.record_step(
        saga_id,
        "ChargeCard",
        ACT,
        FAILED,
        context=OrderContext(reservation_id="res-1").to_dict(),
        current_version=2,
        details="StepFailed: declined",
        saga_status=SagaStatus.COMPENSATING,
        error="StepFailed: declined",
    )
    return saga_id


async def test_the_worker_recovers_stale_pending_running_and_compensating_sagas(
    world: World,
) -> None:
    clock = FakeClock()
    storage = MemorySagaStorage(clock=clock)
    pending = await pending_saga(storage)
    running = await running_saga(storage)
    compensating = await compensating_saga(storage)
    clock.advance(STALE)

    assert await worker_for(storage).run_once() == 3

    assert await status_of(storage, pending) is SagaStatus.COMPLETED
    assert await status_of(storage, running) is SagaStatus.COMPLETED
    assert await status_of(storage, compensating) is SagaStatus.FAILED
    assert world.calls == [
        "act:ReserveStock",  # pending: from the first step
        "act:ChargeCard",
        "act:ShipParcel",
        "act:ChargeCard",  # running: after ReserveStock
        "act:ShipParcel",
        "compensate:ReserveStock",  # compensating: backwards only
    ]
    assert (await storage.load_saga_state(pending)).recovery_attempts == 1
    assert (await storage.load_saga_state(compensating)).error == "StepFailed: declined"


async def test_the_worker_leaves_sagas_that_moved_recently(world: World) -> None:
    clock = FakeClock()
    storage = MemorySagaStorage(clock=clock)
    saga_id = await running_saga(storage)
    clock.advance(STALE, seconds=-1)

    assert await worker_for(storage).run_once() == 0

    assert world.calls == []
    assert await status_of(storage, saga_id) is SagaStatus.RUNNING


async def test_the_worker_skips_a_saga_with_a_live_lease(world: World) -> None:
    clock = FakeClock()
    storage = MemorySagaStorage(clock=clock)
    saga_id = await running_saga(storage)
    clock.advance(STALE)
    await storage.claim(saga_id, "another-worker", datetime.timedelta(seconds=30))

    assert await worker_for(storage).run_once() == 0

    assert world.calls == []
    assert (await storage.load_saga_state(saga_id)).recovery_attempts == 0


async def test_the_worker_gives_up_after_max_recovery_attempts(
    world: World, sleeps: list[float]
) -> None:
    clock = FakeClock()
    storage = MemorySagaStorage(clock=clock)
    saga_id = await compensating_saga(storage)
    await storage.update_status(saga_id, SagaStatus.COMPENSATION_FAILED)
    world.fail("compensate:ReserveStock", StepFailed("warehouse unreachable"), times=99)
    worker = worker_for(storage, max_recovery_attempts=2)

    attempted: list[int] = []
    for _ in range(3):
        clock.advance(STALE)
        attempted.append(await worker.run_once())

    assert attempted == [1, 1, 0]
    assert world.calls == ["compensate:ReserveStock"] * (2 * QUICK.attempts)
    state = await storage.load_saga_state(saga_id)
    assert (state.status, state.recovery_attempts) == (SagaStatus.COMPENSATION_FAILED, 2)


async def test_the_worker_logs_and_survives_a_saga_it_does_not_know(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    storage = MemorySagaStorage(clock=clock)
    unknown = await pending_saga(storage, name="RetiredSaga")
    known = await pending_saga(storage)
    clock.advance(STALE)

    with caplog.at_level(logging.ERROR, logger="cqrs.saga.recovery"):
        assert await worker_for(storage).run_once() == 2

    assert await status_of(storage, known) is SagaStatus.COMPLETED
    unknown_state = await storage.load_saga_state(unknown)
    assert (unknown_state.status, unknown_state.recovery_attempts) == (SagaStatus.PENDING, 1)
    assert any(
        "RetiredSaga" in record.getMessage() and str(unknown) in record.getMessage()
        for record in caplog.records
        if record.levelno == logging.ERROR
    )


async def test_the_worker_logs_a_failing_recovery_and_carries_on(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    storage = MemorySagaStorage(clock=clock)
    doomed = await running_saga(storage)
    healthy = await pending_saga(storage)
    clock.advance(STALE)
    world.fail("act:ChargeCard", StepFailed("declined"))  # once: the first saga recovered

    with caplog.at_level(logging.ERROR, logger="cqrs.saga.recovery"):
        assert await worker_for(storage).run_once() == 2

    assert await status_of(storage, doomed) is SagaStatus.FAILED
    assert await status_of(storage, healthy) is SagaStatus.COMPLETED
    assert any(record.exc_info and str(doomed) in record.getMessage() for record in caplog.records)


class RacedStorage(MemorySagaStorage):
    """Another worker claims each candidate between the query and the recovery."""

    async def get_sagas_for_recovery(
        self, limit: int, *args: typing.Any, **options: typing.Any
    ) -> list[uuid.UUID]:
        saga_ids = await super().get_sagas_for_recovery(limit, *args, **options)
        for saga_id in saga_ids:
            await self.claim(saga_id, "faster-worker", datetime.timedelta(seconds=30))
        return saga_ids


async def test_the_worker_skips_a_saga_another_worker_took_meanwhile(world: World) -> None:
    clock = FakeClock()
    storage = RacedStorage(clock=clock)
    saga_id = await pending_saga(storage)
    clock.advance(STALE)

    assert await worker_for(storage).run_once() == 1

    assert world.calls == []
    assert await status_of(storage, saga_id) is SagaStatus.PENDING


class StopAfterOneBatch(MemorySagaStorage):
    def __init__(self, stop: asyncio.Event, **options: typing.Any) -> None:
        super().__init__(**options)
        self.stop = stop
        self.batches = 0

    async def get_sagas_for_recovery(
        self, limit: int, *args: typing.Any, **options: typing.Any
    ) -> list[uuid.UUID]:
        self.batches += 1
        self.stop.set()
        return await super().get_sagas_for_recovery(limit, *args, **options)


async def test_run_forever_recovers_until_stopped() -> None:
    clock, stop = FakeClock(), asyncio.Event()
    storage = StopAfterOneBatch(stop, clock=clock)
    saga_id = await pending_saga(storage)
    clock.advance(STALE)

    await worker_for(storage, interval=60.0).run_forever(stop)

    assert storage.batches == 1
    assert await status_of(storage, saga_id) is SagaStatus.COMPLETED


async def test_run_forever_with_stop_already_set_does_nothing() -> None:
    stop = asyncio.Event()
    stop.set()
    storage = StopAfterOneBatch(asyncio.Event())

    await worker_for(storage).run_forever(stop)

    assert storage.batches == 0


# --- an operator's retry -------------------------------------------------------------


async def test_retry_compensates_again_a_saga_left_compensation_failed(
    world: World, sleeps: list[float]
) -> None:
    clock = FakeClock()
    storage = MemorySagaStorage(clock=clock)
    saga_id = await compensating_saga(storage)
    world.fail("compensate:ReserveStock", StepFailed("warehouse unreachable"), times=99)
    worker = worker_for(storage, max_recovery_attempts=1)
    clock.advance(STALE)
    await worker.run_once()
    assert (await storage.load_saga_state(saga_id)).recovery_attempts == 1  # used up
    world.faults.clear()  # the warehouse is back
    world.calls.clear()

    state = await worker.retry(saga_id)

    assert (state.status, state.recovery_attempts) == (SagaStatus.FAILED, 1)
    assert world.calls == ["compensate:ReserveStock"]
    assert (await log_of(storage, saga_id))[-1] == ("ReserveStock", "compensate", "completed")


async def test_retry_runs_a_stuck_saga_forward_whatever_its_age(world: World) -> None:
    storage = MemorySagaStorage(clock=FakeClock())
    saga_id = await running_saga(storage)  # changed just now: recovery would not pick it

    state = await worker_for(storage).retry(saga_id)

    assert state.status is SagaStatus.COMPLETED
    assert world.calls == ["act:ChargeCard", "act:ShipParcel"]


async def test_retry_records_a_step_failing_again_and_does_not_raise_it(world: World) -> None:
    storage = MemorySagaStorage(clock=FakeClock())
    saga_id = await running_saga(storage)
    world.fail("act:ChargeCard", StepFailed("card declined"))

    state = await worker_for(storage).retry(saga_id)

    assert (state.status, state.error) == (SagaStatus.FAILED, "StepFailed: card declined")
    assert world.calls == ["act:ChargeCard", "compensate:ReserveStock"]


@pytest.mark.parametrize(
    "status", [SagaStatus.COMPLETED, SagaStatus.FAILED, SagaStatus.RESOLVED], ids=str
)
async def test_retry_refuses_a_finished_saga_and_runs_nothing(
    world: World, status: SagaStatus
) -> None:
    storage = MemorySagaStorage(clock=FakeClock())
    saga_id = await running_saga(storage)
    await storage.update_status(saga_id, status)
    before = await storage.load_saga_state(saga_id)

    with pytest.raises(SagaNotRetriableError, match=status.value):
        await worker_for(storage).retry(saga_id)

    assert world.calls == []
    assert await storage.load_saga_state(saga_id) == before
    assert await storage.claim(saga_id, "someone", STALE)  # the retry let go of it


async def test_retry_refuses_a_saga_another_worker_holds(world: World) -> None:
    storage = MemorySagaStorage(clock=FakeClock())
    saga_id = await running_saga(storage)
    assert await storage.claim(saga_id, "another-worker", STALE)

    with pytest.raises(SagaConcurrencyError):
        await worker_for(storage).retry(saga_id)

    assert world.calls == []
    assert await status_of(storage, saga_id) is SagaStatus.RUNNING


async def test_retry_refuses_a_saga_the_worker_does_not_know(world: World) -> None:
    storage = MemorySagaStorage(clock=FakeClock())
    saga_id = await pending_saga(storage, name="RetiredSaga")

    with pytest.raises(SagaNotRetriableError, match="RetiredSaga"):
        await worker_for(storage).retry(saga_id)

    assert await status_of(storage, saga_id) is SagaStatus.PENDING


async def test_retry_of_an_unknown_id_raises_not_found() -> None:
    with pytest.raises(SagaNotFoundError):
        await worker_for(MemorySagaStorage()).retry(uuid.uuid4())
