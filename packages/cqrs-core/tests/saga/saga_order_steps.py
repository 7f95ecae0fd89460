"""The order saga the engine tests share: recording steps, a fallback, and faults.

Three local steps (`ReserveStock`, `ChargeCard`, `ShipParcel`) each set one
field of `OrderContext` and clear it when compensated; `ChargeWallet` is the
fallback for `ChargeCard`. Every call is recorded in `WORLD.calls`.

A step that only has to fail is failed with `SagaTestHarness.fail`. `WORLD`
covers what the harness cannot express:

* a worker killed inside a step (`WORLD.fail("act:ChargeCard", Crash(...))`):
  the call is recorded first, so a re-run after recovery shows in `calls`;
* a step held at a `Gate` while the test acts on the saga meanwhile;
* failures under a runner the test builds itself, with a storage or container
  of its own (`recover_saga`, the recovery worker, spying storages);
* counting the attempts at a failing step.

Loaded by this directory's conftest.py as the module `saga_order_steps`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import typing
import uuid

import di

from cqrs.container.di import DIContainer
from cqrs.saga.execution import CompensationPolicy, SagaRunner
from cqrs.saga.fallback import Fallback
from cqrs.saga.models import SagaContext, SagaStatus
from cqrs.saga.recovery import recover_saga
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.saga.storage.protocol import ISagaStorage
from cqrs.testing import SagaTestHarness

# Compensations are retried; the `sleeps` fixture records the pauses instead of waiting.
QUICK = CompensationPolicy(attempts=3, initial_delay=0.001, multiplier=2.0, max_delay=0.004)


class Crash(BaseException):
    """Stands in for the process dying mid-saga: no `except Exception` may handle it."""


class StepFailed(Exception):
    pass


class Gate:
    """Holds a step's next `act` until `release` is set; `entered` tells it is waiting."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()


@dataclasses.dataclass
class World:
    """What the steps did, and what they are told to do next."""

    calls: list[str] = dataclasses.field(default_factory=list[str])
    contexts_seen: dict[str, dict[str, object]] = dataclasses.field(
        default_factory=dict[str, dict[str, object]]
    )
    # "act:ChargeCard" / "compensate:ChargeCard" -> the errors its next calls raise, in turn.
    faults: dict[str, list[BaseException]] = dataclasses.field(
        default_factory=dict[str, list[BaseException]]
    )
    gates: dict[str, Gate] = dataclasses.field(default_factory=dict[str, Gate])

    def gate(self, step_name: str) -> Gate:
        """Hold the next `act` of `step_name` (after it is recorded in `calls`)."""
        self.gates[step_name] = Gate()
        return self.gates[step_name]

    def fail(self, call: str, error: BaseException, times: int = 1) -> None:
        """Make the next `times` calls of `call` ("act:Name" or "compensate:Name") raise."""
        self.faults.setdefault(call, []).extend([error] * times)

    def raise_fault(self, call: str) -> None:
        errors = self.faults.get(call)
        if errors:
            raise errors.pop(0)

    def compensations(self) -> list[str]:
        """The steps compensate was called on, in order (failed attempts included)."""
        prefix = "compensate:"
        return [call.removeprefix(prefix) for call in self.calls if call.startswith(prefix)]


WORLD = World()


def reset_world() -> World:
    WORLD.__init__()  # type: ignore[misc]
    return WORLD


@dataclasses.dataclass
class OrderContext(SagaContext):
    order_id: str = "order-1"
    reservation_id: str | None = None
    payment_id: str | None = None
    parcel_id: str | None = None


class RecordingStep(SagaStepHandler[OrderContext, str]):
    """Sets `field` to `value`, and back to None when compensated; obeys WORLD."""

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
        WORLD.raise_fault(f"act:{name}")
        setattr(context, self.field, self.value)
        return self._generate_step_result(self.value)

    async def compensate(self, context: OrderContext) -> None:
        name = type(self).__name__
        WORLD.calls.append(f"compensate:{name}")
        WORLD.raise_fault(f"compensate:{name}")
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


def harness(
    saga: type[Saga[OrderContext]] = OrderSaga, **options: typing.Any
) -> SagaTestHarness[OrderContext]:
    """A `SagaTestHarness` over the order steps (no compensation retries unless given)."""
    return SagaTestHarness(saga, **options)


def runner_for(
    storage: MemorySagaStorage | None = None,
    *,
    saga: type[Saga[OrderContext]] = OrderSaga,
    **options: typing.Any,
) -> SagaRunner:
    """A runner with a plain container, for tests that bring their own storage."""
    options.setdefault("compensation", QUICK)
    return SagaRunner(saga, DIContainer(), storage or MemorySagaStorage(), **options)


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


async def recover(
    storage: MemorySagaStorage, saga_id: uuid.UUID, saga: type[Saga[OrderContext]] = OrderSaga
) -> SagaStatus:
    """`recover_saga` as a worker in another process would call it: a raw di.Container."""
    return await recover_saga(
        saga=saga(),
        saga_id=saga_id,
        context_builder=OrderContext,
        container=di.Container(),
        storage=storage,
        compensation=QUICK,
    )


async def log_of(storage: ISagaStorage, saga_id: uuid.UUID) -> list[tuple[str, str, str]]:
    """The step log as (step, action, status) triples."""
    history = await storage.get_step_history(saga_id)
    return [(e.step_name, e.action.value, e.status.value) for e in history]


async def status_of(storage: ISagaStorage, saga_id: uuid.UUID) -> SagaStatus:
    return (await storage.load_saga_state(saga_id)).status
