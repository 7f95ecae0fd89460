"""`recover_saga` and `SagaRecoveryWorker`: finishing sagas a crash left behind."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import uuid

import di
import pytest

from cqrs.container.di import DIContainer
from cqrs.saga.errors import SagaConcurrencyError, SagaNotFoundError
from cqrs.saga.execution import CompensationPolicy, SagaRunner
from cqrs.saga.fallback import Fallback
from cqrs.saga.models import SagaContext, SagaStatus, SagaStepAction, SagaStepStatus
from cqrs.saga.recovery import SagaRecoveryWorker, recover_saga
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage

ACT, COMPENSATE = SagaStepAction.ACT, SagaStepAction.COMPENSATE
STARTED, COMPLETED = SagaStepStatus.STARTED, SagaStepStatus.COMPLETED
QUICK = CompensationPolicy(attempts=2, initial_delay=0.001, multiplier=2.0, max_delay=0.002)
STALE = datetime.timedelta(seconds=60)


class Crash(BaseException):
    """Stands in for the process dying mid-saga: no `except Exception` may handle it."""


class StepFailed(Exception):
    pass


class Gate:
    """Holds a step's first `act` until `release` is set; `entered` tells it is waiting."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()


@dataclasses.dataclass
class World:
    calls: list[str] = dataclasses.field(default_factory=list)
    contexts_seen: dict[str, dict[str, object]] = dataclasses.field(default_factory=dict)
    crashing_acts: set[str] = dataclasses.field(default_factory=set)  # crash once
    failing_acts: set[str] = dataclasses.field(default_factory=set)  # fail once
    crashing_compensations: set[str] = dataclasses.field(default_factory=set)  # crash once
    compensation_failures: dict[str, int] = dataclasses.field(default_factory=dict)
    gates: dict[str, Gate] = dataclasses.field(default_factory=dict)

    def gate(self, step_name: str) -> Gate:
        self.gates[step_name] = Gate()
        return self.gates[step_name]


WORLD = World()


@pytest.fixture(autouse=True)
def fresh_world() -> None:
    WORLD.__init__()  # type: ignore[misc]


@dataclasses.dataclass
class OrderContext(SagaContext):
    order_id: str = "order-1"
    reservation_id: str | None = None
    payment_id: str | None = None
    parcel_id: str | None = None


class RecordingStep(SagaStepHandler[OrderContext, str]):
    field = ""
    value = ""

    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, str]:
        name = type(self).__name__
        WORLD.calls.append(f"act:{name}")
        WORLD.contexts_seen[name] = context.to_dict()
        gate = WORLD.gates.pop(name, None)
        if gate is not None:
            gate.entered.set()
            await gate.release.wait()
        if name in WORLD.crashing_acts:
            WORLD.crashing_acts.discard(name)
            raise Crash(f"killed during {name}")
        if name in WORLD.failing_acts:
            WORLD.failing_acts.discard(name)
            raise StepFailed(f"{name} failed")
        setattr(context, self.field, self.value)
        return self._generate_step_result(self.value)

    async def compensate(self, context: OrderContext) -> None:
        name = type(self).__name__
        WORLD.calls.append(f"compensate:{name}")
        if name in WORLD.crashing_compensations:
            WORLD.crashing_compensations.discard(name)
            raise Crash(f"killed while undoing {name}")
        if WORLD.compensation_failures.get(name, 0) > 0:
            WORLD.compensation_failures[name] -= 1
            raise StepFailed(f"{name} could not be undone")
        setattr(context, self.field, None)


class ReserveStock(RecordingStep):
    field, value = "reservation_id", "res-1"


class ChargeCard(RecordingStep):
    field, value = "payment_id", "pay-1"


class ShipParcel(RecordingStep):
    field, value = "parcel_id", "parcel-1"


class ChargeWallet(RecordingStep):
    field, value = "payment_id", "wallet-1"


class OrderSaga(Saga[OrderContext]):
    steps = [ReserveStock, ChargeCard, ShipParcel]


class WalletFallbackSaga(Saga[OrderContext]):
    steps = [ReserveStock, Fallback(step=ChargeCard, fallback=ChargeWallet), ShipParcel]


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


def runner_for(storage: MemorySagaStorage, **options: object) -> SagaRunner:
    return SagaRunner(OrderSaga, DIContainer(), storage, compensation=QUICK, **options)  # type: ignore[arg-type]


async def run(runner: SagaRunner, saga_id: uuid.UUID) -> list[str]:
    return [r.step_type.__name__ async for r in runner.stream(OrderContext(), saga_id)]


async def recover(storage: MemorySagaStorage, saga_id: uuid.UUID) -> SagaStatus:
    return await recover_saga(
        saga=OrderSaga(),
        saga_id=saga_id,
        context_builder=OrderContext,
        container=di.Container(),
        storage=storage,
        compensation=QUICK,
    )


async def status_of(storage: MemorySagaStorage, saga_id: uuid.UUID) -> SagaStatus:
    return (await storage.load_saga_state(saga_id)).status


# --- crashes while running -----------------------------------------------------------


async def test_a_crash_leaves_the_saga_running_and_uncompensated() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    WORLD.crashing_acts.add("ChargeCard")

    with pytest.raises(Crash):
        await run(runner_for(storage), saga_id)

    assert WORLD.calls == ["act:ReserveStock", "act:ChargeCard"]
    assert await status_of(storage, saga_id) is SagaStatus.RUNNING


async def test_recovery_resumes_after_the_last_completed_step() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    WORLD.crashing_acts.add("ChargeCard")
    with pytest.raises(Crash):
        await run(runner_for(storage), saga_id)

    assert await recover(storage, saga_id) is SagaStatus.COMPLETED

    assert WORLD.calls.count("act:ReserveStock") == 1
    # The interrupted act was never recorded as done, so it runs again.
    assert WORLD.calls == ["act:ReserveStock", "act:ChargeCard", "act:ChargeCard", "act:ShipParcel"]


async def test_recovery_continues_from_the_persisted_context() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    WORLD.crashing_acts.add("ChargeCard")
    with pytest.raises(Crash):
        await run(runner_for(storage), saga_id)
    await storage.update_context(
        saga_id, {**(await storage.load_saga_state(saga_id)).context, "order_id": "order-9"}, 2
    )

    await recover(storage, saga_id)

    assert WORLD.contexts_seen["ChargeCard"]["reservation_id"] == "res-1"
    assert WORLD.contexts_seen["ShipParcel"]["order_id"] == "order-9"
    final = (await storage.load_saga_state(saga_id)).context
    assert (final["order_id"], final["payment_id"], final["parcel_id"]) == (
        "order-9",
        "pay-1",
        "parcel-1",
    )


async def test_a_position_completed_by_its_fallback_is_not_rerun_on_recovery() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    WORLD.failing_acts.add("ChargeCard")
    WORLD.crashing_acts.add("ShipParcel")
    runner = SagaRunner(WalletFallbackSaga, DIContainer(), storage, compensation=QUICK)
    with pytest.raises(Crash):
        await run(runner, saga_id)

    status = await recover_saga(WalletFallbackSaga, saga_id, OrderContext, None, storage)

    assert status is SagaStatus.COMPLETED
    assert WORLD.calls == [
        "act:ReserveStock",
        "act:ChargeCard",
        "act:ChargeWallet",
        "act:ShipParcel",
        "act:ShipParcel",
    ]
    assert (await storage.load_saga_state(saga_id)).context["payment_id"] == "wallet-1"


async def test_a_crashed_pending_saga_is_recovered_from_its_first_step() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    await storage.create_saga(saga_id, OrderSaga.saga_name(), OrderContext("order-5").to_dict())

    assert await recover(storage, saga_id) is SagaStatus.COMPLETED

    assert WORLD.calls == ["act:ReserveStock", "act:ChargeCard", "act:ShipParcel"]
    assert WORLD.contexts_seen["ReserveStock"]["order_id"] == "order-5"


async def test_recover_saga_takes_the_saga_class_and_no_container() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    await storage.create_saga(saga_id, OrderSaga.saga_name(), OrderContext().to_dict())

    status = await recover_saga(OrderSaga, saga_id, OrderContext, None, storage)

    assert status is SagaStatus.COMPLETED


async def test_recovering_a_completed_saga_runs_nothing() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    await run(runner_for(storage), saga_id)
    WORLD.calls.clear()

    assert await recover(storage, saga_id) is SagaStatus.COMPLETED
    assert WORLD.calls == []


async def test_recovering_an_unknown_saga_raises_not_found() -> None:
    with pytest.raises(SagaNotFoundError):
        await recover(MemorySagaStorage(), uuid.uuid4())


async def test_a_step_failing_during_recovery_compensates_and_raises() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    WORLD.crashing_acts.add("ChargeCard")
    with pytest.raises(Crash):
        await run(runner_for(storage), saga_id)
    WORLD.failing_acts.add("ChargeCard")

    with pytest.raises(StepFailed):
        await recover(storage, saga_id)

    assert WORLD.calls[-2:] == ["act:ChargeCard", "compensate:ReserveStock"]
    assert await status_of(storage, saga_id) is SagaStatus.FAILED


# --- crashes while compensating ------------------------------------------------------


class CrashAfterStartCompensation(MemorySagaStorage):
    """Dies on its first call after `start_compensation` succeeded."""

    armed = False

    async def start_compensation(self, saga_id, step_name, error, current_version) -> None:
        await super().start_compensation(saga_id, step_name, error, current_version)
        self.armed = True

    def crash_if_armed(self) -> None:
        if self.armed:
            self.armed = False
            raise Crash("killed right after recording the failure")

    async def get_step_history(self, saga_id):
        self.crash_if_armed()
        return await super().get_step_history(saga_id)

    async def update_status(self, saga_id, status, error=None) -> None:
        self.crash_if_armed()
        await super().update_status(saga_id, status, error)

    async def log_step(self, saga_id, step_name, action, status, details=None) -> None:
        self.crash_if_armed()
        await super().log_step(saga_id, step_name, action, status, details)


async def test_a_crash_right_after_the_failure_is_recorded_recovers_backwards() -> None:
    storage, saga_id = CrashAfterStartCompensation(), uuid.uuid4()
    WORLD.failing_acts.add("ChargeCard")
    with pytest.raises(Crash):
        await run(runner_for(storage), saga_id)
    assert WORLD.calls == ["act:ReserveStock", "act:ChargeCard"]
    assert await status_of(storage, saga_id) is SagaStatus.COMPENSATING

    assert await recover(storage, saga_id) is SagaStatus.FAILED

    assert WORLD.calls == ["act:ReserveStock", "act:ChargeCard", "compensate:ReserveStock"]


async def test_a_crash_inside_a_compensation_is_finished_by_recovery() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    WORLD.failing_acts.add("ShipParcel")
    WORLD.crashing_compensations.add("ChargeCard")
    with pytest.raises(Crash):
        await run(runner_for(storage), saga_id)
    assert await status_of(storage, saga_id) is SagaStatus.COMPENSATING
    WORLD.calls.clear()

    assert await recover(storage, saga_id) is SagaStatus.FAILED

    assert WORLD.calls == ["compensate:ChargeCard", "compensate:ReserveStock"]


async def test_recovery_retries_only_the_steps_not_yet_compensated() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    WORLD.failing_acts.add("ShipParcel")
    WORLD.compensation_failures["ReserveStock"] = 99
    with pytest.raises(StepFailed):
        await run(runner_for(storage), saga_id)
    assert await status_of(storage, saga_id) is SagaStatus.COMPENSATION_FAILED
    WORLD.compensation_failures.clear()  # the warehouse is reachable again
    WORLD.calls.clear()

    assert await recover(storage, saga_id) is SagaStatus.FAILED

    assert WORLD.calls == ["compensate:ReserveStock"]
    history = await storage.get_step_history(saga_id)
    assert (history[-1].step_name, history[-1].action, history[-1].status) == (
        "ReserveStock",
        COMPENSATE,
        COMPLETED,
    )


async def test_a_compensation_still_failing_on_recovery_stays_compensation_failed() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    WORLD.failing_acts.add("ShipParcel")
    WORLD.compensation_failures["ChargeCard"] = 99
    with pytest.raises(StepFailed):
        await run(runner_for(storage), saga_id)
    WORLD.calls.clear()

    assert await recover(storage, saga_id) is SagaStatus.COMPENSATION_FAILED
    assert WORLD.calls == ["compensate:ChargeCard"] * QUICK.attempts


# --- one worker at a time ------------------------------------------------------------


async def test_two_concurrent_recoveries_run_each_act_once() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    await storage.create_saga(saga_id, OrderSaga.saga_name(), OrderContext().to_dict())
    gate = WORLD.gate("ReserveStock")

    async def recover_and_let_go() -> SagaStatus | SagaConcurrencyError:
        try:
            return await recover(storage, saga_id)
        except SagaConcurrencyError as exc:
            return exc
        finally:
            gate.release.set()

    outcomes = await asyncio.gather(recover_and_let_go(), recover_and_let_go())

    assert WORLD.calls == ["act:ReserveStock", "act:ChargeCard", "act:ShipParcel"]
    assert SagaStatus.COMPLETED in outcomes
    assert sum(isinstance(outcome, SagaConcurrencyError) for outcome in outcomes) == 1


async def test_a_live_lease_keeps_recovery_away() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    gate = WORLD.gate("ChargeCard")
    running = asyncio.create_task(run(runner_for(storage), saga_id))
    await gate.entered.wait()

    with pytest.raises(SagaConcurrencyError):
        await recover(storage, saga_id)

    gate.release.set()
    assert await running == ["ReserveStock", "ChargeCard", "ShipParcel"]
    assert WORLD.calls == ["act:ReserveStock", "act:ChargeCard", "act:ShipParcel"]


async def test_an_expired_lease_lets_another_worker_take_over() -> None:
    clock = FakeClock()
    storage, saga_id = MemorySagaStorage(clock=clock), uuid.uuid4()
    gate = WORLD.gate("ChargeCard")
    stuck = asyncio.create_task(
        run(runner_for(storage, lease=datetime.timedelta(seconds=30)), saga_id)
    )
    await gate.entered.wait()  # the first worker hangs inside ChargeCard

    clock.advance(31)
    assert await recover(storage, saga_id) is SagaStatus.COMPLETED

    gate.release.set()
    with pytest.raises(SagaConcurrencyError):
        await stuck  # its late write is refused: the saga moved on without it
    assert WORLD.calls == ["act:ReserveStock", "act:ChargeCard", "act:ChargeCard", "act:ShipParcel"]
    assert await status_of(storage, saga_id) is SagaStatus.COMPLETED


async def test_a_stale_worker_whose_act_fails_late_cannot_undo_the_completed_saga() -> None:
    clock = FakeClock()
    storage, saga_id = MemorySagaStorage(clock=clock), uuid.uuid4()
    gate = WORLD.gate("ChargeCard")
    stuck = asyncio.create_task(
        run(runner_for(storage, lease=datetime.timedelta(seconds=30)), saga_id)
    )
    await gate.entered.wait()
    clock.advance(31)
    assert await recover(storage, saga_id) is SagaStatus.COMPLETED

    WORLD.failing_acts.add("ChargeCard")  # the stale worker's call now fails
    gate.release.set()
    with pytest.raises((SagaConcurrencyError, StepFailed)):
        await stuck

    assert [call for call in WORLD.calls if call.startswith("compensate:")] == []
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
    await storage.update_status(saga_id, SagaStatus.RUNNING)
    await storage.log_step(saga_id, "ReserveStock", ACT, STARTED)
    context = OrderContext(reservation_id="res-1").to_dict()
    await storage.update_context(saga_id, context, 1)
    await storage.log_step(saga_id, "ReserveStock", ACT, COMPLETED)
    return saga_id


async def compensating_saga(storage: MemorySagaStorage) -> uuid.UUID:
    """As left by a worker that died right after ChargeCard failed."""
    saga_id = await running_saga(storage)
    await storage.log_step(saga_id, "ChargeCard", ACT, STARTED)
    await storage.start_compensation(saga_id, "ChargeCard", "StepFailed: declined", 2)
    return saga_id


async def test_the_worker_recovers_stale_pending_running_and_compensating_sagas() -> None:
    clock = FakeClock()
    storage = MemorySagaStorage(clock=clock)
    pending = await pending_saga(storage)
    running = await running_saga(storage)
    compensating = await compensating_saga(storage)
    clock.advance(STALE.total_seconds())

    assert await worker_for(storage).run_once() == 3

    assert await status_of(storage, pending) is SagaStatus.COMPLETED
    assert await status_of(storage, running) is SagaStatus.COMPLETED
    assert await status_of(storage, compensating) is SagaStatus.FAILED
    assert WORLD.calls == [
        "act:ReserveStock",  # pending: from the first step
        "act:ChargeCard",
        "act:ShipParcel",
        "act:ChargeCard",  # running: after ReserveStock
        "act:ShipParcel",
        "compensate:ReserveStock",  # compensating: backwards only
    ]
    assert (await storage.load_saga_state(pending)).recovery_attempts == 1


async def test_the_worker_leaves_sagas_that_moved_recently() -> None:
    clock = FakeClock()
    storage = MemorySagaStorage(clock=clock)
    saga_id = await running_saga(storage)
    clock.advance(STALE.total_seconds() - 1)

    assert await worker_for(storage).run_once() == 0

    assert WORLD.calls == []
    assert await status_of(storage, saga_id) is SagaStatus.RUNNING


async def test_the_worker_skips_a_saga_with_a_live_lease() -> None:
    clock = FakeClock()
    storage = MemorySagaStorage(clock=clock)
    saga_id = await running_saga(storage)
    clock.advance(STALE.total_seconds())
    await storage.claim(saga_id, "another-worker", datetime.timedelta(seconds=30))

    assert await worker_for(storage).run_once() == 0

    assert WORLD.calls == []
    assert (await storage.load_saga_state(saga_id)).recovery_attempts == 0


async def test_the_worker_gives_up_after_max_recovery_attempts() -> None:
    clock = FakeClock()
    storage = MemorySagaStorage(clock=clock)
    saga_id = await compensating_saga(storage)
    await storage.update_status(saga_id, SagaStatus.COMPENSATION_FAILED)
    WORLD.compensation_failures["ReserveStock"] = 99
    worker = worker_for(storage, max_recovery_attempts=2)

    attempted = []
    for _ in range(3):
        clock.advance(STALE.total_seconds())
        attempted.append(await worker.run_once())

    assert attempted == [1, 1, 0]
    assert WORLD.calls == ["compensate:ReserveStock"] * (2 * QUICK.attempts)
    state = await storage.load_saga_state(saga_id)
    assert (state.status, state.recovery_attempts) == (SagaStatus.COMPENSATION_FAILED, 2)


async def test_the_worker_logs_and_survives_a_saga_it_does_not_know(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    storage = MemorySagaStorage(clock=clock)
    unknown = await pending_saga(storage, name="RetiredSaga")
    known = await pending_saga(storage)
    clock.advance(STALE.total_seconds())

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
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    storage = MemorySagaStorage(clock=clock)
    doomed = await running_saga(storage)
    healthy = await pending_saga(storage)
    clock.advance(STALE.total_seconds())
    WORLD.failing_acts.add("ChargeCard")  # fails once: for the first saga recovered

    with caplog.at_level(logging.ERROR, logger="cqrs.saga.recovery"):
        assert await worker_for(storage).run_once() == 2

    assert await status_of(storage, doomed) is SagaStatus.FAILED
    assert await status_of(storage, healthy) is SagaStatus.COMPLETED
    assert any(record.exc_info and str(doomed) in record.getMessage() for record in caplog.records)


class RacedStorage(MemorySagaStorage):
    """Another worker claims each candidate between the query and the recovery."""

    async def get_sagas_for_recovery(self, limit, **options):
        saga_ids = await super().get_sagas_for_recovery(limit, **options)
        for saga_id in saga_ids:
            await self.claim(saga_id, "faster-worker", datetime.timedelta(seconds=30))
        return saga_ids


async def test_the_worker_skips_a_saga_another_worker_took_meanwhile() -> None:
    clock = FakeClock()
    storage = RacedStorage(clock=clock)
    saga_id = await pending_saga(storage)
    clock.advance(STALE.total_seconds())

    assert await worker_for(storage).run_once() == 1

    assert WORLD.calls == []
    assert await status_of(storage, saga_id) is SagaStatus.PENDING


class StopAfterOneBatch(MemorySagaStorage):
    def __init__(self, stop: asyncio.Event, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.stop = stop
        self.batches = 0

    async def get_sagas_for_recovery(self, limit, **options):
        self.batches += 1
        self.stop.set()
        return await super().get_sagas_for_recovery(limit, **options)


async def test_run_forever_recovers_until_stopped() -> None:
    clock, stop = FakeClock(), asyncio.Event()
    storage = StopAfterOneBatch(stop, clock=clock)
    saga_id = await pending_saga(storage)
    clock.advance(STALE.total_seconds())

    await worker_for(storage, interval=60.0).run_forever(stop)

    assert storage.batches == 1
    assert await status_of(storage, saga_id) is SagaStatus.COMPLETED


async def test_run_forever_with_stop_already_set_does_nothing() -> None:
    stop = asyncio.Event()
    stop.set()
    storage = StopAfterOneBatch(asyncio.Event())

    await worker_for(storage).run_forever(stop)

    assert storage.batches == 0
