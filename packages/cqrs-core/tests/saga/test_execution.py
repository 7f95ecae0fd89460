"""`SagaRunner`: steps in order, strictly reverse compensation with retries, leases, fallbacks."""

from __future__ import annotations

import asyncio
import datetime
import typing
import uuid

import pytest
from saga_order_steps import (
    QUICK,
    ChargeCard,
    ChargeWallet,
    OrderContext,
    ReserveStock,
    ShipParcel,
    StepFailed,
    WalletFallbackSaga,
    World,
    harness,
    log_of,
    run,
    runner_for,
    status_of,
)

from cqrs.adapters.circuit_breaker import AioBreakerAdapter
from cqrs.container.di import DIContainer
from cqrs.saga import execution
from cqrs.saga.errors import SagaConcurrencyError
from cqrs.saga.execution import CompensationPolicy, SagaRunner
from cqrs.saga.fallback import Fallback
from cqrs.saga.models import SagaContext, SagaStatus, SagaStepAction, SagaStepStatus
from cqrs.saga.saga import Saga, SagaDefinitionError
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.testing import FakeClock

pytestmark = pytest.mark.usefixtures("world")

LEASE = datetime.timedelta(seconds=60)


# --- the happy path ------------------------------------------------------------------


async def test_steps_run_in_order_and_each_result_is_yielded(world: World) -> None:
    runner, saga_id = runner_for(), uuid.uuid4()

    results = [result async for result in runner.stream(OrderContext(), saga_id)]

    assert [(r.step_type, r.response) for r in results] == [
        (ReserveStock, "res-1"),
        (ChargeCard, "pay-1"),
        (ShipParcel, "parcel-1"),
    ]
    assert world.calls == ["act:ReserveStock", "act:ChargeCard", "act:ShipParcel"]
    assert await status_of(runner.storage, saga_id) is SagaStatus.COMPLETED


async def test_results_are_yielded_as_each_step_completes(world: World) -> None:
    runner = runner_for()

    async for result in runner.stream(OrderContext(), uuid.uuid4()):
        world.calls.append(f"yielded:{result.step_type.__name__}")

    assert world.calls == [
        "act:ReserveStock",
        "yielded:ReserveStock",
        "act:ChargeCard",
        "yielded:ChargeCard",
        "act:ShipParcel",
        "yielded:ShipParcel",
    ]


async def test_the_log_reads_back_in_the_order_the_steps_ran() -> None:
    runner, saga_id = runner_for(), uuid.uuid4()

    await run(runner, saga_id)

    # A local step logs its outcome only: no `started` entry before the act.
    assert await log_of(runner.storage, saga_id) == [
        ("ReserveStock", "act", "completed"),
        ("ChargeCard", "act", "completed"),
        ("ShipParcel", "act", "completed"),
    ]


async def test_context_changes_are_persisted_as_a_snake_case_dict() -> None:
    runner, saga_id = runner_for(), uuid.uuid4()

    await run(runner, saga_id, OrderContext(order_id="order-7"))

    state = await runner.storage.load_saga_state(saga_id)
    assert state.context == {
        "order_id": "order-7",
        "reservation_id": "res-1",
        "payment_id": "pay-1",
        "parcel_id": "parcel-1",
    }
    assert state.name == "OrderSaga"
    assert state.version == 4  # created at 1, one record per step


async def test_each_step_persists_the_context_before_the_next_one_runs() -> None:
    storage = MemorySagaStorage()
    runner, saga_id = runner_for(storage), uuid.uuid4()
    seen: list[dict[str, object]] = []

    async for _ in runner.stream(OrderContext(), saga_id):
        seen.append(dict((await storage.load_saga_state(saga_id)).context))

    assert [(c["reservation_id"], c["payment_id"], c["parcel_id"]) for c in seen] == [
        ("res-1", None, None),
        ("res-1", "pay-1", None),
        ("res-1", "pay-1", "parcel-1"),
    ]


async def test_a_new_saga_runs_on_the_callers_context_object(world: World) -> None:
    runner, context = runner_for(), OrderContext(order_id="order-3")

    async for _ in runner.stream(context, uuid.uuid4()):
        pass

    assert (context.reservation_id, context.payment_id, context.parcel_id) == (
        "res-1",
        "pay-1",
        "parcel-1",
    )
    assert world.contexts_seen["ShipParcel"]["payment_id"] == "pay-1"


async def test_rerunning_a_completed_saga_yields_nothing_and_runs_no_act(world: World) -> None:
    runner, saga_id = runner_for(), uuid.uuid4()
    await run(runner, saga_id)
    world.calls.clear()

    assert await run(runner, saga_id) == []
    assert world.calls == []
    assert await status_of(runner.storage, saga_id) is SagaStatus.COMPLETED


async def test_rerunning_a_failed_saga_yields_nothing_and_runs_nothing(world: World) -> None:
    saga = harness().fail(ShipParcel, StepFailed("no courier"))
    saga_id = (await saga.start(OrderContext())).saga_id
    world.calls.clear()

    assert await run(saga.runner, saga_id) == []
    assert world.calls == []
    assert await status_of(saga.storage, saga_id) is SagaStatus.FAILED


class WriteSpy(MemorySagaStorage):
    """Records every write the engine makes, one line per storage call."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[object, ...]] = []

    async def record_step(
        self,
        saga_id: uuid.UUID,
        step_name: str,
        action: SagaStepAction,
        status: SagaStepStatus,
        **fields: typing.Any,
    ) -> int:
        saga_status = fields.get("saga_status")
        self.writes.append(
            (
                "record_step",
                step_name,
                action.value,
                status.value,
                saga_status and saga_status.value,
                fields.get("error"),
            )
        )
        return await super().record_step(saga_id, step_name, action, status, **fields)

    async def update_status(
        self, saga_id: uuid.UUID, status: SagaStatus, error: str | None = None
    ) -> None:
        self.writes.append(("update_status", status.value, error))
        await super().update_status(saga_id, status, error)

    async def update_context(
        self,
        saga_id: uuid.UUID,
        context: typing.Mapping[str, typing.Any],
        current_version: int | None = None,
    ) -> int:
        self.writes.append(("update_context",))
        return await super().update_context(saga_id, context, current_version)

    async def log_step(
        self,
        saga_id: uuid.UUID,
        step_name: str,
        action: SagaStepAction | typing.Literal["act", "compensate"],
        status: SagaStepStatus,
        details: str | None = None,
    ) -> None:
        self.writes.append(("log_step", step_name, SagaStepAction(action).value, status.value))
        await super().log_step(saga_id, step_name, action, status, details)


async def test_each_step_is_one_write_with_the_status_changes_folded_in() -> None:
    storage = WriteSpy()

    await run(runner_for(storage), uuid.uuid4())

    assert storage.writes == [
        ("record_step", "ReserveStock", "act", "completed", "running", None),
        ("record_step", "ChargeCard", "act", "completed", None, None),
        ("record_step", "ShipParcel", "act", "completed", "completed", None),
    ]


# --- failure and compensation --------------------------------------------------------


async def test_a_failing_step_is_not_compensated_and_completed_ones_are_in_reverse(
    world: World,
) -> None:
    saga, saga_id = harness().fail(ShipParcel, StepFailed("no courier today")), uuid.uuid4()
    yielded: list[str] = []

    with pytest.raises(StepFailed, match="no courier today"):
        await run(saga.runner, saga_id, into=yielded)

    assert yielded == ["ReserveStock", "ChargeCard"]
    assert world.calls == [
        "act:ReserveStock",
        "act:ChargeCard",
        "compensate:ChargeCard",
        "compensate:ReserveStock",
    ]
    assert await status_of(saga.storage, saga_id) is SagaStatus.FAILED


async def test_the_caller_gets_the_very_exception_the_step_raised() -> None:
    error = StepFailed("card declined")
    saga = harness().fail(ChargeCard, error)

    with pytest.raises(StepFailed) as raised:
        await run(saga.runner, uuid.uuid4())

    assert raised.value is error


async def test_a_failure_is_logged_then_compensations_in_reverse() -> None:
    saga = harness().fail(ShipParcel, StepFailed("no courier"))

    outcome = await saga.start(OrderContext())

    assert await log_of(saga.storage, outcome.saga_id) == [
        ("ReserveStock", "act", "completed"),
        ("ChargeCard", "act", "completed"),
        ("ShipParcel", "act", "failed"),
        ("ChargeCard", "compensate", "completed"),
        ("ReserveStock", "compensate", "completed"),
    ]
    assert outcome.history[2].details == "StepFailed: no courier"


async def test_a_failing_first_step_compensates_nothing(world: World) -> None:
    outcome = await harness().fail(ReserveStock).start(OrderContext())

    assert world.calls == []  # the injected failure came before the act's own code
    assert outcome.compensated == []
    assert outcome.status is SagaStatus.FAILED


async def test_compensation_changes_to_the_context_are_persisted() -> None:
    saga = harness().fail(ShipParcel)

    outcome = await saga.start(OrderContext())

    stored = (await saga.storage.load_saga_state(outcome.saga_id)).context
    assert (stored["reservation_id"], stored["payment_id"]) == (None, None)


async def test_a_failed_saga_keeps_the_error_that_failed_it() -> None:
    outcome = await harness().fail(ShipParcel, StepFailed("no courier")).start(OrderContext())

    assert outcome.status is SagaStatus.FAILED
    assert outcome.error == "StepFailed: no courier"
    assert isinstance(outcome.raised, StepFailed)


async def test_the_failure_the_move_to_compensating_and_the_end_are_atomic_writes(
    world: World,
) -> None:
    storage = WriteSpy()
    world.fail("act:ChargeCard", StepFailed("card declined"))

    with pytest.raises(StepFailed):
        await run(runner_for(storage), uuid.uuid4())

    assert storage.writes == [
        ("record_step", "ReserveStock", "act", "completed", "running", None),
        # The failure, the move to compensating and the error: one atomic write.
        (
            "record_step",
            "ChargeCard",
            "act",
            "failed",
            "compensating",
            "StepFailed: card declined",
        ),
        # The last compensation and the end of the saga: one write too.
        ("record_step", "ReserveStock", "compensate", "completed", "failed", None),
    ]


# --- compensation retries ------------------------------------------------------------


def test_compensation_delays_grow_by_the_multiplier_up_to_the_cap() -> None:
    policy = CompensationPolicy(attempts=5, initial_delay=0.001, multiplier=3.0, max_delay=0.02)

    assert list(policy.delays()) == pytest.approx([0.001, 0.003, 0.009, 0.02])
    assert list(CompensationPolicy(attempts=1).delays()) == []
    assert CompensationPolicy() == CompensationPolicy(3, 0.1, 2.0, 5.0)


async def test_a_failing_compensation_is_retried_with_backoff(sleeps: list[float]) -> None:
    saga = (
        harness(compensation=QUICK)
        .fail(ShipParcel, StepFailed("no courier"))
        .fail(ChargeCard, StepFailed("refund service down"), on="compensate", times=2)
    )

    outcome = await saga.start(OrderContext())

    assert sleeps == pytest.approx([0.001, 0.002])
    charge_card = [entry for entry in outcome.history if entry.step_name == "ChargeCard"]
    # One `failed` per failed attempt, then `completed` once.
    assert [(e.action.value, e.status.value, e.details) for e in charge_card] == [
        ("act", "completed", None),
        ("compensate", "failed", "StepFailed: refund service down"),
        ("compensate", "failed", "StepFailed: refund service down"),
        ("compensate", "completed", None),
    ]
    assert outcome.compensated == ["ChargeCard", "ReserveStock"]
    assert outcome.status is SagaStatus.FAILED


async def test_a_compensation_that_keeps_failing_ends_compensation_failed(
    sleeps: list[float],
) -> None:
    saga = (
        harness(compensation=QUICK)
        .fail(ShipParcel, StepFailed("no courier"))
        .fail(ChargeCard, on="compensate", times=QUICK.attempts)
    )

    outcome = await saga.start(OrderContext())

    compensations = [e for e in outcome.history if e.action.value == "compensate"]
    assert [(e.step_name, e.status.value) for e in compensations] == [
        ("ChargeCard", "failed")
    ] * QUICK.attempts
    assert len(sleeps) == QUICK.attempts - 1
    assert outcome.status is SagaStatus.COMPENSATION_FAILED
    assert outcome.error == "StepFailed: no courier"  # still the error that failed the saga
    assert isinstance(outcome.raised, StepFailed)  # and the caller still gets it


async def test_compensation_stops_at_a_compensation_that_keeps_failing(world: World) -> None:
    saga = harness().fail(ShipParcel).fail(ChargeCard, on="compensate")

    outcome = await saga.start(OrderContext())

    assert outcome.status is SagaStatus.COMPENSATION_FAILED
    # Strictly reverse: ReserveStock, before ChargeCard, is left alone until ChargeCard is undone.
    assert world.compensations() == []
    assert await log_of(saga.storage, outcome.saga_id) == [
        ("ReserveStock", "act", "completed"),
        ("ChargeCard", "act", "completed"),
        ("ShipParcel", "act", "failed"),
        ("ChargeCard", "compensate", "failed"),
    ]
    assert (outcome.context.reservation_id, outcome.context.payment_id) == ("res-1", "pay-1")


async def test_the_compensation_policy_sets_the_number_of_attempts(sleeps: list[float]) -> None:
    once = CompensationPolicy(attempts=1, initial_delay=0.001)
    saga = harness(compensation=once).fail(ShipParcel).fail(ChargeCard, on="compensate", times=9)

    outcome = await saga.start(OrderContext())

    compensations = [e for e in outcome.history if e.action.value == "compensate"]
    assert [(e.step_name, e.status.value) for e in compensations] == [("ChargeCard", "failed")]
    assert sleeps == []


# --- one worker at a time ------------------------------------------------------------


async def test_two_concurrent_starts_of_one_saga_run_each_act_once(world: World) -> None:
    runner, saga_id = runner_for(), uuid.uuid4()
    gate = world.gate("ReserveStock")
    outcomes: list[object] = []

    async def start() -> None:
        try:
            outcomes.append(await run(runner, saga_id))
        except SagaConcurrencyError as exc:
            outcomes.append(exc)
        finally:
            gate.release.set()

    await asyncio.gather(start(), start())

    assert world.calls == ["act:ReserveStock", "act:ChargeCard", "act:ShipParcel"]
    assert sum(isinstance(outcome, SagaConcurrencyError) for outcome in outcomes) == 1
    assert ["ReserveStock", "ChargeCard", "ShipParcel"] in outcomes
    assert await status_of(runner.storage, saga_id) is SagaStatus.COMPLETED


async def test_two_runners_sharing_a_storage_do_not_both_run_a_saga(world: World) -> None:
    storage = MemorySagaStorage()
    first, second = runner_for(storage), runner_for(storage)
    saga_id = uuid.uuid4()
    gate = world.gate("ChargeCard")

    async def start_second_once_first_is_inside() -> None:
        await gate.entered.wait()
        try:
            with pytest.raises(SagaConcurrencyError):
                await run(second, saga_id)
        finally:
            gate.release.set()

    done, _ = await asyncio.gather(run(first, saga_id), start_second_once_first_is_inside())

    assert done == ["ReserveStock", "ChargeCard", "ShipParcel"]
    assert world.calls == ["act:ReserveStock", "act:ChargeCard", "act:ShipParcel"]


async def test_the_lease_is_released_after_a_run() -> None:
    runner, saga_id = runner_for(), uuid.uuid4()

    await run(runner, saga_id)

    assert await runner.storage.claim(saga_id, "someone-else", runner.lease)


class ClaimSpy(MemorySagaStorage):
    """Records each time a worker takes or renews a saga's lease: who, for how long.

    A saga may be created already claimed (`create_saga(owner=..., lease=...)`);
    that counts as taking the lease too.
    """

    def __init__(self, **options: typing.Any) -> None:
        super().__init__(**options)
        self.takes: list[tuple[str, datetime.timedelta]] = []

    async def create_saga(
        self,
        saga_id: uuid.UUID,
        name: str,
        context: typing.Mapping[str, typing.Any],
        *,
        owner: str | None = None,
        lease: datetime.timedelta | None = None,
        trace_context: str | None = None,
    ) -> None:
        await super().create_saga(
            saga_id, name, context, owner=owner, lease=lease, trace_context=trace_context
        )
        if owner is not None and lease is not None:
            self.takes.append((owner, lease))

    async def claim(self, saga_id: uuid.UUID, owner: str, lease: datetime.timedelta) -> bool:
        self.takes.append((owner, lease))
        return await super().claim(saga_id, owner, lease)


class FakeMonotonic:
    """Stands in for the `time` module in the engine, whose lease timer is time.monotonic."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> FakeMonotonic:
    """The engine's lease timer, moved by hand (the runner's `clock` does not drive it)."""
    fake = FakeMonotonic()
    monkeypatch.setattr(execution, "time", fake)
    return fake


async def test_the_lease_is_claimed_once_per_pass_not_before_every_step(
    world: World, monotonic: FakeMonotonic
) -> None:
    storage = ClaimSpy()
    world.fail("act:ShipParcel", StepFailed("no courier"))

    with pytest.raises(StepFailed):
        await run(runner_for(storage, lease=LEASE), uuid.uuid4())

    # Three acts and two compensations, all under the claim taken at the start.
    assert world.calls == [
        "act:ReserveStock",
        "act:ChargeCard",
        "act:ShipParcel",
        "compensate:ChargeCard",
        "compensate:ReserveStock",
    ]
    assert len(storage.takes) == 1


async def test_the_lease_is_renewed_once_half_of_it_has_passed(
    world: World, monotonic: FakeMonotonic
) -> None:
    storage, saga_id = ClaimSpy(), uuid.uuid4()
    reserving, charging = world.gate("ReserveStock"), world.gate("ChargeCard")
    running = asyncio.create_task(run(runner_for(storage, lease=LEASE), saga_id))

    await reserving.entered.wait()
    monotonic.advance(29)  # under half of the 60s lease
    reserving.release.set()
    await charging.entered.wait()
    takes_before_charging_ended = len(storage.takes)
    monotonic.advance(2)  # 31s since the claim: past half
    charging.release.set()

    assert await running == ["ReserveStock", "ChargeCard", "ShipParcel"]
    assert takes_before_charging_ended == 1  # not renewed before ChargeCard
    owner = storage.takes[0][0]
    assert storage.takes == [(owner, LEASE), (owner, LEASE)]  # renewed before ShipParcel


async def test_a_lease_lost_during_a_step_stops_the_saga_before_the_next_one(
    world: World, monotonic: FakeMonotonic
) -> None:
    clock = FakeClock()
    storage, saga_id = MemorySagaStorage(clock=clock), uuid.uuid4()
    gate = world.gate("ReserveStock")
    running = asyncio.create_task(run(runner_for(storage, lease=LEASE), saga_id))
    await gate.entered.wait()

    clock.advance(LEASE, seconds=1)  # the lease ran out while ReserveStock hung ...
    assert await storage.claim(saga_id, "another-worker", LEASE)  # ... and was taken
    monotonic.advance(31)
    gate.release.set()

    with pytest.raises(SagaConcurrencyError):
        await running
    assert world.calls == ["act:ReserveStock"]  # ChargeCard is left to the new holder
    assert await log_of(storage, saga_id) == [("ReserveStock", "act", "completed")]
    assert not await storage.claim(saga_id, "a-third-worker", LEASE)


# --- fallbacks -----------------------------------------------------------------------


async def test_a_failing_primary_runs_the_fallback_act(world: World) -> None:
    saga = harness(WalletFallbackSaga).fail(ChargeCard, StepFailed("card declined"))
    saga_id = uuid.uuid4()

    assert await run(saga.runner, saga_id) == ["ReserveStock", "ChargeWallet", "ShipParcel"]
    assert world.calls == ["act:ReserveStock", "act:ChargeWallet", "act:ShipParcel"]
    state = await saga.storage.load_saga_state(saga_id)
    assert (state.status, state.context["payment_id"]) == (SagaStatus.COMPLETED, "wallet-1")
    assert ("ChargeCard", "act", "failed") not in await log_of(saga.storage, saga_id)


async def test_a_healthy_primary_never_runs_the_fallback(world: World) -> None:
    runner = runner_for(saga=WalletFallbackSaga)

    assert await run(runner, uuid.uuid4()) == ["ReserveStock", "ChargeCard", "ShipParcel"]
    assert "act:ChargeWallet" not in world.calls


async def test_the_fallback_that_acted_is_the_one_compensated(world: World) -> None:
    saga = harness(WalletFallbackSaga).fail(ChargeCard).fail(ShipParcel, StepFailed("no courier"))

    outcome = await saga.start(OrderContext())

    assert outcome.acted == ["ReserveStock", "ChargeWallet"]
    assert outcome.compensated == ["ChargeWallet", "ReserveStock"]
    assert world.compensations() == ["ChargeWallet", "ReserveStock"]
    assert outcome.status is SagaStatus.FAILED


async def test_the_primary_that_acted_is_the_one_compensated(world: World) -> None:
    outcome = await harness(WalletFallbackSaga).fail(ShipParcel).start(OrderContext())

    assert outcome.compensated == ["ChargeCard", "ReserveStock"]
    assert world.compensations() == ["ChargeCard", "ReserveStock"]


async def test_an_unlisted_primary_error_fails_the_saga_without_fallback(world: World) -> None:
    class TimeoutsOnlySaga(Saga[OrderContext]):
        steps = [
            ReserveStock,
            Fallback(step=ChargeCard, fallback=ChargeWallet, failure_exceptions=(TimeoutError,)),
        ]

    saga = harness(TimeoutsOnlySaga).fail(ChargeCard, StepFailed("card declined"))

    outcome = await saga.start(OrderContext())

    assert isinstance(outcome.raised, StepFailed)
    assert "act:ChargeWallet" not in world.calls
    assert world.compensations() == ["ReserveStock"]
    assert outcome.status is SagaStatus.FAILED


async def test_the_circuit_breaker_opens_after_fail_max_and_skips_the_primary(
    world: World,
) -> None:
    class BreakerSaga(Saga[OrderContext]):
        steps = [
            Fallback(
                step=ChargeCard,
                fallback=ChargeWallet,
                circuit_breaker=AioBreakerAdapter(fail_max=2, timeout_duration=60),
            )
        ]

    runner = runner_for(saga=BreakerSaga)
    # World counts the attempts at the primary; it would fail every one of them.
    world.fail("act:ChargeCard", StepFailed("gateway down"), times=4)

    outcomes = [await run(runner, uuid.uuid4()) for _ in range(4)]

    assert outcomes == [["ChargeWallet"]] * 4
    assert world.calls.count("act:ChargeCard") == 2
    assert world.calls.count("act:ChargeWallet") == 4


class _NoStepsSaga(Saga[SagaContext]):
    pass


def test_a_saga_without_steps_is_rejected_when_its_runner_is_built() -> None:
    with pytest.raises(SagaDefinitionError, match="declares no steps"):
        SagaRunner(_NoStepsSaga, DIContainer(), MemorySagaStorage())


def test_a_class_that_is_not_a_saga_is_rejected_when_its_runner_is_built() -> None:
    with pytest.raises(SagaDefinitionError, match="not a Saga subclass"):
        SagaRunner(dict, DIContainer(), MemorySagaStorage())  # type: ignore[arg-type]
