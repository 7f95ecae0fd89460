"""`SagaMediator`: runs the saga bound to a context's type and streams step results."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import typing
import uuid

import pytest

import cqrs
from cqrs.container.di import DIContainer
from cqrs.saga.errors import (
    SagaAlreadyExistsError,
    SagaConcurrencyError,
    SagaError,
    SagaNotFoundError,
)
from cqrs.saga.execution import CompensationPolicy
from cqrs.saga.mediator import SagaMediator, SagaNotBoundError
from cqrs.saga.models import SagaContext, SagaStatus
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage

from .leases import LeaseRecordingStorage

CALLS: list[str] = []
GATES: dict[str, asyncio.Event] = {}
CRASH_ONCE: set[str] = set()
FAIL: set[str] = set()


@pytest.fixture(autouse=True)
def fresh_state() -> None:
    CALLS.clear()
    GATES.clear()
    CRASH_ONCE.clear()
    FAIL.clear()


class Crash(BaseException):
    """Stands in for the process dying mid-saga."""


class StepFailed(Exception):
    pass


@dataclasses.dataclass
class TripContext(SagaContext):
    traveller: str = "ada"
    flight: str | None = None
    hotel: str | None = None


@dataclasses.dataclass
class RefundContext(SagaContext):
    amount: int = 0
    refunded: bool = False


class TripStep(SagaStepHandler[TripContext, str]):
    field = ""

    async def act(self, context: TripContext) -> SagaStepResult[TripContext, str]:
        name = type(self).__name__
        CALLS.append(f"act:{name}:{context.traveller}")
        if name in GATES:
            await GATES.pop(name).wait()
        if name in CRASH_ONCE:
            CRASH_ONCE.discard(name)
            raise Crash(name)
        if name in FAIL:
            raise StepFailed(name)
        setattr(context, self.field, f"{self.field}-for-{context.traveller}")
        return self._generate_step_result(getattr(context, self.field))

    async def compensate(self, context: TripContext) -> None:
        name = type(self).__name__
        CALLS.append(f"compensate:{name}")
        if f"compensate:{name}" in FAIL:
            raise StepFailed(f"cannot undo {name}")


class BookFlight(TripStep):
    field = "flight"


class BookHotel(TripStep):
    field = "hotel"


class IssueRefund(SagaStepHandler[RefundContext, int]):
    async def act(self, context: RefundContext) -> SagaStepResult[RefundContext, int]:
        CALLS.append("act:IssueRefund")
        context.refunded = True
        return self._generate_step_result(context.amount)


class TripSaga(Saga[TripContext]):
    steps = [BookFlight, BookHotel]


class RefundSaga(Saga[RefundContext]):
    steps = [IssueRefund]


def mediator_for(storage: MemorySagaStorage | None = None, **options: typing.Any) -> SagaMediator:
    sagas = cqrs.SagaMap()
    sagas.bind(TripContext, TripSaga)
    sagas.bind(RefundContext, RefundSaga)
    return SagaMediator(sagas, DIContainer(), storage=storage or MemorySagaStorage(), **options)


async def names(
    mediator: SagaMediator,
    context: SagaContext,
    saga_id: uuid.UUID,
    into: list[str] | None = None,
) -> list[str]:
    """Stream the saga; the names of the steps yielded, also appended to `into`."""
    yielded = [] if into is None else into
    async for result in mediator.stream(context, saga_id=saga_id):
        yielded.append(result.step_type.__name__)
    return yielded


def test_an_unbound_context_raises_not_bound_at_once() -> None:
    @dataclasses.dataclass
    class UnboundContext(SagaContext):
        pass

    with pytest.raises(SagaNotBoundError, match="UnboundContext"):
        mediator_for().stream(UnboundContext(), saga_id=uuid.uuid4())


def test_not_bound_is_a_saga_error_and_a_lookup_error() -> None:
    assert issubclass(SagaNotBoundError, SagaError)
    assert issubclass(SagaNotBoundError, LookupError)
    assert cqrs.saga.SagaNotBoundError is SagaNotBoundError


def test_a_subclass_of_a_bound_context_is_not_bound() -> None:
    @dataclasses.dataclass
    class BusinessTripContext(TripContext):
        pass

    with pytest.raises(SagaNotBoundError):
        mediator_for().stream(BusinessTripContext(), saga_id=uuid.uuid4())


async def test_stream_yields_one_result_per_completed_step() -> None:
    results = [r async for r in mediator_for().stream(TripContext(), saga_id=uuid.uuid4())]

    assert results == [
        SagaStepResult(response="flight-for-ada", step_type=BookFlight),
        SagaStepResult(response="hotel-for-ada", step_type=BookHotel),
    ]


async def test_each_context_type_runs_its_own_saga() -> None:
    storage = MemorySagaStorage()
    mediator = mediator_for(storage)
    refund_id = uuid.uuid4()

    assert await names(mediator, RefundContext(amount=30), refund_id) == ["IssueRefund"]

    state = await storage.load_saga_state(refund_id)
    assert (state.name, dict(state.context)) == ("RefundSaga", {"amount": 30, "refunded": True})


async def test_without_a_saga_id_every_stream_starts_a_new_saga() -> None:
    mediator = mediator_for()

    for _ in range(2):
        assert [r.step_type async for r in mediator.stream(TripContext())] == [
            BookFlight,
            BookHotel,
        ]

    assert CALLS.count("act:BookFlight:ada") == 2


async def test_the_storage_property_is_the_given_storage() -> None:
    storage = MemorySagaStorage()

    assert mediator_for(storage).storage is storage


async def test_streaming_a_completed_saga_id_again_yields_nothing() -> None:
    mediator, saga_id = mediator_for(), uuid.uuid4()
    await names(mediator, TripContext(), saga_id)
    CALLS.clear()

    assert await names(mediator, TripContext(), saga_id) == []
    assert CALLS == []


async def test_streaming_an_unfinished_saga_id_resumes_from_the_stored_context() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    mediator = mediator_for(storage)
    CRASH_ONCE.add("BookHotel")
    with pytest.raises(Crash):
        await names(mediator, TripContext(traveller="ada"), saga_id)

    other = TripContext(traveller="someone-else")
    resumed = await names(mediator, other, saga_id)

    assert resumed == ["BookHotel"]
    assert CALLS == ["act:BookFlight:ada", "act:BookHotel:ada", "act:BookHotel:ada"]
    assert (await storage.load_saga_state(saga_id)).status is SagaStatus.COMPLETED
    assert (other.flight, other.hotel) == (None, None)  # the stored context ran, not this one


async def test_a_new_saga_runs_on_the_callers_context_object() -> None:
    context = TripContext(traveller="grace")

    await names(mediator_for(), context, uuid.uuid4())

    assert (context.flight, context.hotel) == ("flight-for-grace", "hotel-for-grace")


async def test_two_concurrent_streams_of_one_new_saga_run_each_act_once() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    mediator = mediator_for(storage)
    release = GATES["BookFlight"] = asyncio.Event()

    async def stream_and_let_go() -> list[str] | SagaConcurrencyError:
        try:
            return await names(mediator, TripContext(), saga_id)
        except SagaConcurrencyError as exc:
            return exc
        finally:
            release.set()

    outcomes = await asyncio.gather(stream_and_let_go(), stream_and_let_go())

    assert CALLS == ["act:BookFlight:ada", "act:BookHotel:ada"]
    assert ["BookFlight", "BookHotel"] in outcomes
    assert sum(isinstance(outcome, SagaConcurrencyError) for outcome in outcomes) == 1
    assert (await storage.load_saga_state(saga_id)).status is SagaStatus.COMPLETED


async def test_a_failing_step_reaches_the_stream_consumer_after_compensation() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    FAIL.add("BookHotel")
    yielded: list[str] = []

    with pytest.raises(StepFailed, match="BookHotel"):
        await names(mediator_for(storage), TripContext(), saga_id, into=yielded)

    assert yielded == ["BookFlight"]
    assert CALLS[-1] == "compensate:BookFlight"
    assert (await storage.load_saga_state(saga_id)).status is SagaStatus.FAILED


async def test_start_runs_the_first_pass_and_returns_the_status() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()

    status = await mediator_for(storage).start(TripContext(traveller="bo"), saga_id)

    assert status is SagaStatus.COMPLETED
    assert CALLS == ["act:BookFlight:bo", "act:BookHotel:bo"]
    state = await storage.load_saga_state(saga_id)
    assert (state.status, state.context["hotel"]) == (SagaStatus.COMPLETED, "hotel-for-bo")
    assert await storage.claim(saga_id, "someone", datetime.timedelta(seconds=5))  # released


async def test_start_compensates_a_failing_step_and_does_not_raise_it() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    FAIL.add("BookHotel")

    status = await mediator_for(storage).start(TripContext(), saga_id)

    assert status is SagaStatus.FAILED
    assert CALLS[-1] == "compensate:BookFlight"
    assert (await storage.load_saga_state(saga_id)).status is SagaStatus.FAILED


async def test_start_writes_through_the_storage_it_is_given() -> None:
    own, given, saga_id = MemorySagaStorage(), MemorySagaStorage(), uuid.uuid4()
    mediator = mediator_for(own)

    await mediator.start(RefundContext(amount=3), saga_id, storage=given)

    assert (await given.load_saga_state(saga_id)).context["refunded"] is True
    with pytest.raises(SagaNotFoundError):
        await own.load_saga_state(saga_id)
    with pytest.raises(SagaAlreadyExistsError):
        await mediator.start(RefundContext(), saga_id, storage=given)


async def test_a_start_hidden_until_commit_needs_the_callers_storage() -> None:
    own, saga_id = MemorySagaStorage(), uuid.uuid4()

    with pytest.raises(ValueError, match="hidden_until_commit needs the storage"):
        await mediator_for(own).start(TripContext(), saga_id, hidden_until_commit=True)

    assert CALLS == []
    with pytest.raises(SagaNotFoundError):
        await own.load_saga_state(saga_id)


async def test_the_compensation_policy_reaches_the_runners() -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    FAIL.update({"BookHotel", "compensate:BookFlight"})
    mediator = mediator_for(storage, compensation=CompensationPolicy(attempts=1))

    with pytest.raises(StepFailed):
        await names(mediator, TripContext(), saga_id)

    assert CALLS.count("compensate:BookFlight") == 1
    assert (await storage.load_saga_state(saga_id)).status is SagaStatus.COMPENSATION_FAILED


async def test_the_lease_reaches_the_runners() -> None:
    storage = LeaseRecordingStorage()
    lease = datetime.timedelta(seconds=7)

    await names(mediator_for(storage, lease=lease), TripContext(), uuid.uuid4())

    assert storage.leases
    assert set(storage.leases) == {lease}


# -- python-cqrs 4.x arguments --------------------------------------------------


async def test_storage_is_optional_and_defaults_to_memory() -> None:
    sagas = cqrs.SagaMap()
    sagas.bind(TripContext, TripSaga)
    mediator = SagaMediator(sagas, DIContainer())

    saga_id = uuid.uuid4()
    await names(mediator, TripContext(), saga_id)

    assert isinstance(mediator.storage, MemorySagaStorage)
    assert (await mediator.storage.load_saga_state(saga_id)).status is SagaStatus.COMPLETED


async def test_compensation_retry_settings_set_attempts_and_pauses(sleeps: list[float]) -> None:
    storage, saga_id = MemorySagaStorage(), uuid.uuid4()
    FAIL.update({"BookHotel", "compensate:BookFlight"})
    mediator = mediator_for(
        storage,
        compensation_retry_count=4,
        compensation_retry_delay=0.5,
        compensation_retry_backoff=3.0,
    )

    with pytest.raises(StepFailed):
        await names(mediator, TripContext(), saga_id)

    assert CALLS.count("compensate:BookFlight") == 4
    assert sleeps == [0.5, 1.5, 4.5]  # python-cqrs did not cap the pauses


def test_compensation_retry_settings_override_only_what_is_given() -> None:
    policy = CompensationPolicy(attempts=5, initial_delay=0.2, multiplier=3.0)

    assert policy.with_retry() is policy
    assert policy.with_retry(count=2) == CompensationPolicy(
        attempts=2, initial_delay=0.2, multiplier=3.0, max_delay=float("inf")
    )
