"""`cqrs.saga.bootstrap`: a SagaMediator from a mapper, a container and a storage."""

from __future__ import annotations

import dataclasses
import datetime
import typing
import uuid

import di
import pytest
from di.dependent import Dependent

import cqrs
from cqrs.saga import bootstrap
from cqrs.saga.execution import CompensationPolicy
from cqrs.saga.mediator import SagaMediator, SagaNotBoundError
from cqrs.saga.models import SagaContext, SagaStatus
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage

from .leases import LeaseRecordingStorage

UNDONE: list[str] = []


@pytest.fixture(autouse=True)
def fresh_state() -> None:
    UNDONE.clear()


class Bank(typing.Protocol):
    def transfer(self, account: str, amount: int) -> str: ...


class SandboxBank:
    def transfer(self, account: str, amount: int) -> str:
        return f"sandbox-transfer:{account}:{amount}"


class LiveBank:
    def transfer(self, account: str, amount: int) -> str:
        return f"live-transfer:{account}:{amount}"


@dataclasses.dataclass
class PayoutContext(SagaContext):
    account: str = "acc-1"
    amount: int = 100
    transfer_id: str | None = None
    approved: bool = False


class ApprovePayout(SagaStepHandler[PayoutContext, bool]):
    async def act(self, context: PayoutContext) -> SagaStepResult[PayoutContext, bool]:
        context.approved = True
        return self._generate_step_result(True)

    async def compensate(self, context: PayoutContext) -> None:
        UNDONE.append("ApprovePayout")
        if context.account == "frozen":
            raise RuntimeError("approval service down")


class TransferFunds(SagaStepHandler[PayoutContext, str]):
    def __init__(self, bank: Bank) -> None:
        self.bank = bank

    async def act(self, context: PayoutContext) -> SagaStepResult[PayoutContext, str]:
        if context.amount < 0:
            raise ValueError("negative payout")
        context.transfer_id = self.bank.transfer(context.account, context.amount)
        return self._generate_step_result(context.transfer_id)


class PayoutSaga(Saga[PayoutContext]):
    steps = [ApprovePayout, TransferFunds]


def payouts(mapper: cqrs.SagaMap) -> None:
    mapper.bind(PayoutContext, PayoutSaga)


def container_with(bank: type[Bank]) -> di.Container:
    container = di.Container()
    container.bind(di.bind_by_type(Dependent(bank, scope="request"), Bank))
    return container


async def run(mediator: SagaMediator, context: PayoutContext, saga_id: uuid.UUID) -> list[str]:
    return [step.step_type.__name__ async for step in mediator.stream(context, saga_id=saga_id)]


async def test_a_raw_di_container_and_the_default_storage_work() -> None:
    mediator = bootstrap.bootstrap(di_container=container_with(SandboxBank), sagas_mapper=payouts)
    saga_id = uuid.uuid4()

    assert await run(mediator, PayoutContext(), saga_id) == ["ApprovePayout", "TransferFunds"]

    assert isinstance(mediator.storage, MemorySagaStorage)
    state = await mediator.storage.load_saga_state(saga_id)
    assert state.status is SagaStatus.COMPLETED
    assert state.context["transfer_id"] == "sandbox-transfer:acc-1:100"
    history = await mediator.storage.get_step_history(saga_id)
    assert [(e.step_name, e.action.value, e.status.value) for e in history] == [
        ("ApprovePayout", "act", "completed"),
        ("TransferFunds", "act", "completed"),
    ]


async def test_steps_get_the_implementation_bound_in_the_container() -> None:
    mediator = bootstrap.bootstrap(di_container=container_with(LiveBank), sagas_mapper=payouts)
    saga_id = uuid.uuid4()

    await run(mediator, PayoutContext(account="acc-9", amount=5), saga_id)

    state = await mediator.storage.load_saga_state(saga_id)
    assert state.context["transfer_id"] == "live-transfer:acc-9:5"


async def test_the_given_storage_is_used() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    mediator = bootstrap.bootstrap(
        di_container=container_with(SandboxBank), sagas_mapper=payouts, saga_storage=storage
    )

    await run(mediator, PayoutContext(), saga_id)

    assert mediator.storage is storage
    assert (await storage.load_saga_state(saga_id)).status is SagaStatus.COMPLETED


async def test_without_a_container_steps_without_dependencies_still_run() -> None:
    class ApproveOnlySaga(Saga[PayoutContext]):
        steps = [ApprovePayout]

    mediator = bootstrap.bootstrap(sagas_mapper=lambda m: m.bind(PayoutContext, ApproveOnlySaga))

    assert await run(mediator, PayoutContext(), uuid.uuid4()) == ["ApprovePayout"]


def test_without_a_mapper_nothing_is_bound() -> None:
    mediator = bootstrap.bootstrap(di_container=di.Container())

    with pytest.raises(SagaNotBoundError):
        mediator.stream(PayoutContext())


def test_on_startup_hooks_run_once_each_before_the_mapper() -> None:
    order: list[str] = []

    def mapper(sagas: cqrs.SagaMap) -> None:
        order.append("mapper")
        payouts(sagas)

    bootstrap.bootstrap(
        sagas_mapper=mapper,
        on_startup=[lambda: order.append("first"), lambda: order.append("second")],
    )

    assert order == ["first", "second", "mapper"]


def test_an_unsupported_container_is_a_configuration_error() -> None:
    with pytest.raises(cqrs.ConfigurationError, match="di_container"):
        bootstrap.bootstrap(di_container=object(), sagas_mapper=payouts)


async def test_a_failure_is_compensated_through_the_bootstrapped_mediator() -> None:
    mediator = bootstrap.bootstrap(di_container=container_with(SandboxBank), sagas_mapper=payouts)
    saga_id = uuid.uuid4()

    with pytest.raises(ValueError, match="negative payout"):
        await run(mediator, PayoutContext(amount=-1), saga_id)

    assert UNDONE == ["ApprovePayout"]
    assert (await mediator.storage.load_saga_state(saga_id)).status is SagaStatus.FAILED


async def test_the_compensation_policy_is_passed_on() -> None:
    mediator = bootstrap.bootstrap(
        di_container=container_with(SandboxBank),
        sagas_mapper=payouts,
        compensation=CompensationPolicy(attempts=2, initial_delay=0.001),
    )
    saga_id = uuid.uuid4()

    with pytest.raises(ValueError, match="negative payout"):
        await run(mediator, PayoutContext(account="frozen", amount=-1), saga_id)

    assert UNDONE == ["ApprovePayout", "ApprovePayout"]
    state = await mediator.storage.load_saga_state(saga_id)
    assert state.status is SagaStatus.COMPENSATION_FAILED


async def test_the_lease_is_passed_on() -> None:
    storage = LeaseRecordingStorage()
    mediator = bootstrap.bootstrap(
        di_container=container_with(SandboxBank),
        sagas_mapper=payouts,
        saga_storage=storage,
        lease=datetime.timedelta(seconds=3),
    )

    await run(mediator, PayoutContext(), uuid.uuid4())

    assert storage.leases
    assert set(storage.leases) == {datetime.timedelta(seconds=3)}
