"""`SagaRunner`: steps in order, reverse compensation with retries, leases, fallbacks."""

from __future__ import annotations

import asyncio
import dataclasses
import types
import uuid

import pytest

from cqrs.adapters.circuit_breaker import AioBreakerAdapter
from cqrs.container.di import DIContainer
from cqrs.saga import execution
from cqrs.saga.errors import SagaConcurrencyError
from cqrs.saga.execution import CompensationPolicy, SagaRunner
from cqrs.saga.fallback import Fallback
from cqrs.saga.models import SagaContext, SagaStatus, SagaStepAction, SagaStepStatus
from cqrs.saga.saga import Saga, SagaDefinitionError
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage

ACT, COMPENSATE = SagaStepAction.ACT, SagaStepAction.COMPENSATE
STARTED, COMPLETED, FAILED = SagaStepStatus.STARTED, SagaStepStatus.COMPLETED, SagaStepStatus.FAILED
QUICK = CompensationPolicy(attempts=3, initial_delay=0.001, multiplier=2.0, max_delay=0.004)


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
    failing_acts: dict[str, Exception] = dataclasses.field(default_factory=dict)
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
    """Records its calls in WORLD; fails or blocks when WORLD says so."""

    field = ""
    value = ""

    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, str]:
        name = type(self).__name__
        WORLD.calls.append(f"act:{name}")
        gate = WORLD.gates.pop(name, None)
        if gate is not None:
            gate.entered.set()
            await gate.release.wait()
        if name in WORLD.failing_acts:
            raise WORLD.failing_acts[name]
        setattr(context, self.field, self.value)
        return self._generate_step_result(self.value)

    async def compensate(self, context: OrderContext) -> None:
        name = type(self).__name__
        WORLD.calls.append(f"compensate:{name}")
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


def runner_for(
    saga: type[Saga[OrderContext]] = OrderSaga, storage: MemorySagaStorage | None = None
) -> SagaRunner:
    return SagaRunner(saga, DIContainer(), storage or MemorySagaStorage(), compensation=QUICK)


async def run(
    runner: SagaRunner,
    saga_id: uuid.UUID,
    context: OrderContext | None = None,
    into: list[str] | None = None,
) -> list[str]:
    """Stream the saga; the names of the steps yielded, also appended to `into`."""
    yielded = [] if into is None else into
    async for result in runner.stream(context or OrderContext(), saga_id):
        yielded.append(result.step_type.__name__)
    return yielded


async def log_of(runner: SagaRunner, saga_id: uuid.UUID) -> list[tuple[str, str, str]]:
    history = await runner.storage.get_step_history(saga_id)
    return [(e.step_name, e.action.value, e.status.value) for e in history]


async def status_of(runner: SagaRunner, saga_id: uuid.UUID) -> SagaStatus:
    return (await runner.storage.load_saga_state(saga_id)).status


# --- the happy path ------------------------------------------------------------------


async def test_steps_run_in_order_and_each_result_is_yielded() -> None:
    runner, saga_id = runner_for(), uuid.uuid4()

    results = [result async for result in runner.stream(OrderContext(), saga_id)]

    assert [(r.step_type, r.response) for r in results] == [
        (ReserveStock, "res-1"),
        (ChargeCard, "pay-1"),
        (ShipParcel, "parcel-1"),
    ]
    assert WORLD.calls == ["act:ReserveStock", "act:ChargeCard", "act:ShipParcel"]
    assert await status_of(runner, saga_id) is SagaStatus.COMPLETED


async def test_results_are_yielded_as_each_step_completes() -> None:
    runner = runner_for()

    async for result in runner.stream(OrderContext(), uuid.uuid4()):
        WORLD.calls.append(f"yielded:{result.step_type.__name__}")

    assert WORLD.calls == [
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

    assert await log_of(runner, saga_id) == [
        ("ReserveStock", "act", "started"),
        ("ReserveStock", "act", "completed"),
        ("ChargeCard", "act", "started"),
        ("ChargeCard", "act", "completed"),
        ("ShipParcel", "act", "started"),
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
    assert state.version == 4  # created at 1, one update per step


async def test_each_step_persists_the_context_before_the_next_one_runs() -> None:
    storage = MemorySagaStorage()
    runner, saga_id = runner_for(storage=storage), uuid.uuid4()
    seen: list[dict[str, object]] = []

    async for _ in runner.stream(OrderContext(), saga_id):
        seen.append(dict((await storage.load_saga_state(saga_id)).context))

    assert [(c["reservation_id"], c["payment_id"], c["parcel_id"]) for c in seen] == [
        ("res-1", None, None),
        ("res-1", "pay-1", None),
        ("res-1", "pay-1", "parcel-1"),
    ]


async def test_rerunning_a_completed_saga_yields_nothing_and_runs_no_act() -> None:
    runner, saga_id = runner_for(), uuid.uuid4()
    await run(runner, saga_id)
    WORLD.calls.clear()

    assert await run(runner, saga_id) == []
    assert WORLD.calls == []
    assert await status_of(runner, saga_id) is SagaStatus.COMPLETED


async def test_rerunning_a_failed_saga_yields_nothing_and_runs_nothing() -> None:
    runner, saga_id = runner_for(), uuid.uuid4()
    WORLD.failing_acts["ShipParcel"] = StepFailed("no courier")
    with pytest.raises(StepFailed):
        await run(runner, saga_id)
    WORLD.calls.clear()

    assert await run(runner, saga_id) == []
    assert WORLD.calls == []


# --- failure and compensation --------------------------------------------------------


async def test_a_failing_step_is_not_compensated_and_completed_ones_are_in_reverse() -> None:
    runner, saga_id = runner_for(), uuid.uuid4()
    WORLD.failing_acts["ShipParcel"] = StepFailed("no courier today")
    yielded: list[str] = []

    with pytest.raises(StepFailed, match="no courier today"):
        await run(runner, saga_id, into=yielded)

    assert yielded == ["ReserveStock", "ChargeCard"]
    assert WORLD.calls == [
        "act:ReserveStock",
        "act:ChargeCard",
        "act:ShipParcel",
        "compensate:ChargeCard",
        "compensate:ReserveStock",
    ]
    assert await status_of(runner, saga_id) is SagaStatus.FAILED


async def test_the_caller_gets_the_very_exception_the_step_raised() -> None:
    runner = runner_for()
    error = StepFailed("card declined")
    WORLD.failing_acts["ChargeCard"] = error

    with pytest.raises(StepFailed) as raised:
        await run(runner, uuid.uuid4())

    assert raised.value is error


async def test_a_failure_is_logged_then_compensations_in_reverse() -> None:
    runner, saga_id = runner_for(), uuid.uuid4()
    WORLD.failing_acts["ShipParcel"] = StepFailed("no courier")

    with pytest.raises(StepFailed):
        await run(runner, saga_id)

    assert (await log_of(runner, saga_id))[4:] == [
        ("ShipParcel", "act", "started"),
        ("ShipParcel", "act", "failed"),
        ("ChargeCard", "compensate", "started"),
        ("ChargeCard", "compensate", "completed"),
        ("ReserveStock", "compensate", "started"),
        ("ReserveStock", "compensate", "completed"),
    ]
    failure = (await runner.storage.get_step_history(saga_id))[5]
    assert failure.details == "StepFailed: no courier"


async def test_a_failing_first_step_compensates_nothing() -> None:
    runner, saga_id = runner_for(), uuid.uuid4()
    WORLD.failing_acts["ReserveStock"] = StepFailed("out of stock")

    with pytest.raises(StepFailed):
        await run(runner, saga_id)

    assert WORLD.calls == ["act:ReserveStock"]
    assert await status_of(runner, saga_id) is SagaStatus.FAILED


async def test_compensation_changes_to_the_context_are_persisted() -> None:
    runner, saga_id = runner_for(), uuid.uuid4()
    WORLD.failing_acts["ShipParcel"] = StepFailed("no courier")

    with pytest.raises(StepFailed):
        await run(runner, saga_id)

    context = (await runner.storage.load_saga_state(saga_id)).context
    assert (context["reservation_id"], context["payment_id"]) == (None, None)


async def test_a_failed_saga_keeps_the_error_that_failed_it() -> None:
    runner, saga_id = runner_for(), uuid.uuid4()
    WORLD.failing_acts["ShipParcel"] = StepFailed("no courier")

    with pytest.raises(StepFailed):
        await run(runner, saga_id)

    state = await runner.storage.load_saga_state(saga_id)
    assert state.status is SagaStatus.FAILED
    assert state.error == "StepFailed: no courier"


class RecordingStorage(MemorySagaStorage):
    """Records which storage methods the engine calls, and the state after each."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.status_after_start_compensation: SagaStatus | None = None

    async def log_step(self, saga_id, step_name, action, status, details=None) -> None:
        self.calls.append(f"log_step:{step_name}:{action.value}:{status.value}")
        await super().log_step(saga_id, step_name, action, status, details)

    async def start_compensation(self, saga_id, step_name, error, current_version) -> None:
        self.calls.append(f"start_compensation:{step_name}")
        await super().start_compensation(saga_id, step_name, error, current_version)
        self.status_after_start_compensation = (await self.load_saga_state(saga_id)).status


async def test_the_failure_and_the_move_to_compensating_are_one_storage_call() -> None:
    storage = RecordingStorage()
    runner = runner_for(storage=storage)
    WORLD.failing_acts["ChargeCard"] = StepFailed("card declined")

    with pytest.raises(StepFailed):
        await run(runner, uuid.uuid4())

    assert "start_compensation:ChargeCard" in storage.calls
    assert "log_step:ChargeCard:act:failed" not in storage.calls
    assert storage.status_after_start_compensation is SagaStatus.COMPENSATING
    first_compensation = storage.calls.index("log_step:ReserveStock:compensate:started")
    assert storage.calls.index("start_compensation:ChargeCard") < first_compensation


# --- compensation retries ------------------------------------------------------------


def test_compensation_delays_grow_by_the_multiplier_up_to_the_cap() -> None:
    policy = CompensationPolicy(attempts=5, initial_delay=0.001, multiplier=3.0, max_delay=0.02)

    assert list(policy.delays()) == pytest.approx([0.001, 0.003, 0.009, 0.02])
    assert list(CompensationPolicy(attempts=1).delays()) == []
    assert CompensationPolicy() == CompensationPolicy(3, 0.1, 2.0, 5.0)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the engine's backoff pauses instead of waiting them out."""
    recorded: list[float] = []

    async def sleep(delay: float) -> None:
        recorded.append(delay)

    monkeypatch.setattr(execution, "asyncio", types.SimpleNamespace(sleep=sleep))
    return recorded


async def test_a_failing_compensation_is_retried_with_backoff(sleeps: list[float]) -> None:
    runner, saga_id = runner_for(), uuid.uuid4()
    WORLD.failing_acts["ShipParcel"] = StepFailed("no courier")
    WORLD.compensation_failures["ChargeCard"] = 2

    with pytest.raises(StepFailed):
        await run(runner, saga_id)

    assert sleeps == pytest.approx([0.001, 0.002])
    assert WORLD.calls.count("compensate:ChargeCard") == 3
    assert [entry for entry in await log_of(runner, saga_id) if entry[0] == "ChargeCard"][2:] == [
        ("ChargeCard", "compensate", "started"),
        ("ChargeCard", "compensate", "failed"),
        ("ChargeCard", "compensate", "started"),
        ("ChargeCard", "compensate", "failed"),
        ("ChargeCard", "compensate", "started"),
        ("ChargeCard", "compensate", "completed"),
    ]
    assert await status_of(runner, saga_id) is SagaStatus.FAILED


async def test_a_compensation_that_keeps_failing_ends_compensation_failed(
    sleeps: list[float],
) -> None:
    runner, saga_id = runner_for(), uuid.uuid4()
    WORLD.failing_acts["ShipParcel"] = StepFailed("no courier")
    WORLD.compensation_failures["ChargeCard"] = 99

    with pytest.raises(StepFailed, match="no courier"):
        await run(runner, saga_id)

    assert WORLD.calls.count("compensate:ChargeCard") == QUICK.attempts
    assert len(sleeps) == QUICK.attempts - 1
    assert "compensate:ReserveStock" in WORLD.calls  # the others are still undone
    assert await status_of(runner, saga_id) is SagaStatus.COMPENSATION_FAILED


async def test_the_compensation_policy_sets_the_number_of_attempts(sleeps: list[float]) -> None:
    once = CompensationPolicy(attempts=1, initial_delay=0.001)
    runner = SagaRunner(OrderSaga, DIContainer(), MemorySagaStorage(), compensation=once)
    WORLD.failing_acts["ShipParcel"] = StepFailed("no courier")
    WORLD.compensation_failures["ChargeCard"] = 99

    with pytest.raises(StepFailed):
        await run(runner, uuid.uuid4())

    assert WORLD.calls.count("compensate:ChargeCard") == 1
    assert sleeps == []


# --- one worker at a time ------------------------------------------------------------


async def test_two_concurrent_starts_of_one_saga_run_each_act_once() -> None:
    runner, saga_id = runner_for(), uuid.uuid4()
    gate = WORLD.gate("ReserveStock")
    outcomes: list[object] = []

    async def start() -> None:
        try:
            outcomes.append(await run(runner, saga_id))
        except SagaConcurrencyError as exc:
            outcomes.append(exc)
        finally:
            gate.release.set()

    await asyncio.gather(start(), start())

    assert WORLD.calls == ["act:ReserveStock", "act:ChargeCard", "act:ShipParcel"]
    assert sum(isinstance(outcome, SagaConcurrencyError) for outcome in outcomes) == 1
    assert ["ReserveStock", "ChargeCard", "ShipParcel"] in outcomes
    assert await status_of(runner, saga_id) is SagaStatus.COMPLETED


async def test_two_runners_sharing_a_storage_do_not_both_run_a_saga() -> None:
    storage = MemorySagaStorage()
    first, second = runner_for(storage=storage), runner_for(storage=storage)
    saga_id = uuid.uuid4()
    gate = WORLD.gate("ChargeCard")

    async def start_second_once_first_is_inside() -> None:
        await gate.entered.wait()
        try:
            with pytest.raises(SagaConcurrencyError):
                await run(second, saga_id)
        finally:
            gate.release.set()

    done, _ = await asyncio.gather(run(first, saga_id), start_second_once_first_is_inside())

    assert done == ["ReserveStock", "ChargeCard", "ShipParcel"]
    assert WORLD.calls == ["act:ReserveStock", "act:ChargeCard", "act:ShipParcel"]


async def test_the_lease_is_released_after_a_run() -> None:
    runner, saga_id = runner_for(), uuid.uuid4()

    await run(runner, saga_id)

    assert await runner.storage.claim(saga_id, "someone-else", runner.lease)


# --- fallbacks -----------------------------------------------------------------------


async def test_a_failing_primary_runs_the_fallback_act() -> None:
    runner, saga_id = runner_for(WalletFallbackSaga), uuid.uuid4()
    WORLD.failing_acts["ChargeCard"] = StepFailed("card declined")

    assert await run(runner, saga_id) == ["ReserveStock", "ChargeWallet", "ShipParcel"]
    assert WORLD.calls == [
        "act:ReserveStock",
        "act:ChargeCard",
        "act:ChargeWallet",
        "act:ShipParcel",
    ]
    assert (await runner.storage.load_saga_state(saga_id)).context["payment_id"] == "wallet-1"
    assert await status_of(runner, saga_id) is SagaStatus.COMPLETED


async def test_a_healthy_primary_never_runs_the_fallback() -> None:
    runner = runner_for(WalletFallbackSaga)

    assert await run(runner, uuid.uuid4()) == ["ReserveStock", "ChargeCard", "ShipParcel"]
    assert "act:ChargeWallet" not in WORLD.calls


async def test_the_fallback_that_acted_is_the_one_compensated() -> None:
    runner, saga_id = runner_for(WalletFallbackSaga), uuid.uuid4()
    WORLD.failing_acts["ChargeCard"] = StepFailed("card declined")
    WORLD.failing_acts["ShipParcel"] = StepFailed("no courier")

    with pytest.raises(StepFailed, match="no courier"):
        await run(runner, saga_id)

    compensations = [call for call in WORLD.calls if call.startswith("compensate:")]
    assert compensations == ["compensate:ChargeWallet", "compensate:ReserveStock"]
    assert await status_of(runner, saga_id) is SagaStatus.FAILED


async def test_the_primary_that_acted_is_the_one_compensated() -> None:
    runner = runner_for(WalletFallbackSaga)
    WORLD.failing_acts["ShipParcel"] = StepFailed("no courier")

    with pytest.raises(StepFailed):
        await run(runner, uuid.uuid4())

    compensations = [call for call in WORLD.calls if call.startswith("compensate:")]
    assert compensations == ["compensate:ChargeCard", "compensate:ReserveStock"]


async def test_an_unlisted_primary_error_fails_the_saga_without_fallback() -> None:
    class TimeoutsOnlySaga(Saga[OrderContext]):
        steps = [
            ReserveStock,
            Fallback(step=ChargeCard, fallback=ChargeWallet, failure_exceptions=(TimeoutError,)),
        ]

    runner, saga_id = runner_for(TimeoutsOnlySaga), uuid.uuid4()
    WORLD.failing_acts["ChargeCard"] = StepFailed("card declined")

    with pytest.raises(StepFailed):
        await run(runner, saga_id)

    assert "act:ChargeWallet" not in WORLD.calls
    assert WORLD.calls[-1] == "compensate:ReserveStock"
    assert await status_of(runner, saga_id) is SagaStatus.FAILED


async def test_the_circuit_breaker_opens_after_fail_max_and_skips_the_primary() -> None:
    class BreakerSaga(Saga[OrderContext]):
        steps = [
            Fallback(
                step=ChargeCard,
                fallback=ChargeWallet,
                circuit_breaker=AioBreakerAdapter(fail_max=2, timeout_duration=60),
            )
        ]

    runner = runner_for(BreakerSaga)
    WORLD.failing_acts["ChargeCard"] = StepFailed("gateway down")

    outcomes = [await run(runner, uuid.uuid4()) for _ in range(4)]

    assert outcomes == [["ChargeWallet"]] * 4
    assert WORLD.calls.count("act:ChargeCard") == 2
    assert WORLD.calls.count("act:ChargeWallet") == 4


class _NoStepsSaga(Saga[SagaContext]):
    pass


def test_a_saga_without_steps_is_rejected_when_its_runner_is_built() -> None:
    with pytest.raises(SagaDefinitionError, match="declares no steps"):
        SagaRunner(_NoStepsSaga, DIContainer(), MemorySagaStorage())


def test_a_class_that_is_not_a_saga_is_rejected_when_its_runner_is_built() -> None:
    with pytest.raises(SagaDefinitionError, match="not a Saga subclass"):
        SagaRunner(dict, DIContainer(), MemorySagaStorage())  # type: ignore[arg-type]
