"""`Saga.transaction(...)`: python-cqrs's mediator-less run, on the engine; `create_run()`."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from cqrs.saga.models import SagaContext, SagaStatus, SagaStepAction, SagaStepStatus
from cqrs.saga.recovery import recover_saga
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage

CALLS: list[str] = []
FAILING: set[str] = set()


@pytest.fixture(autouse=True)
def fresh_state() -> None:
    CALLS.clear()
    FAILING.clear()


@dataclasses.dataclass
class MoveContext(SagaContext):
    crate: str = "c1"


class MoveStep(SagaStepHandler[MoveContext, str]):
    async def act(self, context: MoveContext) -> SagaStepResult[MoveContext, str]:
        name = type(self).__name__
        CALLS.append(f"act:{name}")
        if name in FAILING:
            raise OSError(f"{name} broke")
        return self._generate_step_result(name)

    async def compensate(self, context: MoveContext) -> None:
        CALLS.append(f"compensate:{type(self).__name__}")


class Pack(MoveStep):
    pass


class Load(MoveStep):
    pass


class Deliver(MoveStep):
    pass


class MoveSaga(Saga[MoveContext]):
    steps = [Pack, Load, Deliver]


async def run_steps(storage: MemorySagaStorage, saga_id: uuid.UUID) -> list[str]:
    async with MoveSaga().transaction(
        context=MoveContext(), container=None, storage=storage, saga_id=saga_id
    ) as transaction:
        return [result.response async for result in transaction]


async def test_a_transaction_runs_every_step_and_completes_the_saga() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()

    assert await run_steps(storage, saga_id) == ["Pack", "Load", "Deliver"]
    assert (await storage.load_saga_state(saga_id)).status is SagaStatus.COMPLETED


async def test_a_failing_step_is_raised_after_compensating_once() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    FAILING.add("Deliver")

    with pytest.raises(OSError, match="Deliver broke"):
        await run_steps(storage, saga_id)

    assert CALLS == [
        "act:Pack",
        "act:Load",
        "act:Deliver",
        "compensate:Load",
        "compensate:Pack",
    ]
    assert (await storage.load_saga_state(saga_id)).status is SagaStatus.FAILED


async def test_an_error_in_the_block_compensates_what_was_done() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()

    async def cancel_after_loading() -> None:
        async with MoveSaga().transaction(MoveContext(), None, storage, saga_id) as transaction:
            async for result in transaction:
                if result.response == "Load":
                    raise KeyError("the customer cancelled")

    with pytest.raises(KeyError):
        await cancel_after_loading()

    assert CALLS == ["act:Pack", "act:Load", "compensate:Load", "compensate:Pack"]
    assert (await storage.load_saga_state(saga_id)).status is SagaStatus.FAILED
    history = await storage.get_step_history(saga_id)
    failed = [entry for entry in history if entry.status is SagaStepStatus.FAILED]
    assert [(e.step_name, e.action) for e in failed] == [("Deliver", SagaStepAction.ACT)]
    assert failed[0].details is not None
    assert "the customer cancelled" in failed[0].details


async def test_an_error_after_the_last_step_leaves_the_saga_completed() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()

    async def cancel_when_done() -> None:
        async with MoveSaga().transaction(MoveContext(), None, storage, saga_id) as transaction:
            async for _ in transaction:
                pass
            raise KeyError("too late to undo")

    with pytest.raises(KeyError):
        await cancel_when_done()

    assert not [call for call in CALLS if call.startswith("compensate")]
    assert (await storage.load_saga_state(saga_id)).status is SagaStatus.COMPLETED


async def test_leaving_the_loop_early_stops_the_saga_for_recovery_to_finish() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()

    async with MoveSaga().transaction(MoveContext(), None, storage, saga_id) as transaction:
        async for _ in transaction:
            break

    assert (await storage.load_saga_state(saga_id)).status is SagaStatus.RUNNING

    status = await recover_saga(MoveSaga(), saga_id, MoveContext, None, storage)

    assert status is SagaStatus.COMPLETED
    assert CALLS == ["act:Pack", "act:Load", "act:Deliver"]


async def test_compensation_retry_settings_apply() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    FAILING.add("Load")

    class StubbornPack(Pack):
        async def compensate(self, context: MoveContext) -> None:
            CALLS.append("compensate:Pack")
            raise OSError("still packed")

    class StubbornSaga(Saga[MoveContext]):
        steps = [StubbornPack, Load]

    async def run() -> None:
        async with StubbornSaga().transaction(
            MoveContext(),
            None,
            storage,
            saga_id,
            compensation_retry_count=2,
            compensation_retry_delay=0,
        ) as transaction:
            async for _ in transaction:
                pass

    with pytest.raises(OSError, match="Load broke"):
        await run()

    assert CALLS.count("compensate:Pack") == 2
    assert (await storage.load_saga_state(saga_id)).status is SagaStatus.COMPENSATION_FAILED


def test_steps_count_is_the_number_of_steps() -> None:
    assert MoveSaga().steps_count == 3


async def test_a_storage_run_writes_at_once_and_refuses_to_roll_back() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()

    async with storage.create_run() as run:
        await run.create_saga(saga_id, "MoveSaga", {"crate": "c1"})
        await run.log_step(saga_id, "Pack", "act", SagaStepStatus.COMPLETED)
        # Visible before any commit: each write is committed when it returns.
        assert [e.action for e in await storage.get_step_history(saga_id)] == [SagaStepAction.ACT]
        status, context, version = await run.load_saga_state(saga_id, read_for_update=True)
        await run.commit()
        with pytest.raises(NotImplementedError, match="cannot roll back"):
            await run.rollback()

    assert (status, context, version) == (SagaStatus.PENDING, {"crate": "c1"}, 1)
