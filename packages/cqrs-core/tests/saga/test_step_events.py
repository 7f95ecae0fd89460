"""Events saga steps record: emitted through the saga mediator's emitter after each step."""

from __future__ import annotations

import dataclasses
import datetime
import uuid

import pydantic
import pytest

import cqrs
from cqrs.container.di import DIContainer
from cqrs.saga import bootstrap
from cqrs.saga.models import SagaContext, SagaStatus, SagaStepStatus
from cqrs.saga.recovery import SagaRecoveryWorker, recover_saga
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage


@dataclasses.dataclass
class ParcelContext(SagaContext):
    parcel_id: str
    label: str | None = None


class Labelled(cqrs.DomainEvent):
    parcel_id: str


class ParcelPayload(pydantic.BaseModel):
    parcel_id: str


class PrintLabel(SagaStepHandler[ParcelContext, str]):
    def __init__(self) -> None:
        self._events: list[cqrs.IEvent] = []

    @property
    def events(self) -> list[cqrs.IEvent]:
        return self._events

    async def act(self, context: ParcelContext) -> SagaStepResult[ParcelContext, str]:
        context.label = f"label-{context.parcel_id}"
        self._events.append(Labelled(parcel_id=context.parcel_id))
        self._events.append(
            cqrs.NotificationEvent[ParcelPayload](
                event_name="parcel_labelled",
                topic="parcels",
                payload=ParcelPayload(parcel_id=context.parcel_id),
            )
        )
        return self._generate_step_result(context.label)


class Dispatch(SagaStepHandler[ParcelContext, None]):
    async def act(self, context: ParcelContext) -> SagaStepResult[ParcelContext, None]:
        return self._generate_step_result(None)


class ParcelSaga(Saga[ParcelContext]):
    steps = [PrintLabel, Dispatch]


def saga_mediator(
    handler: type[cqrs.EventHandler[Labelled]],
    storage: MemorySagaStorage,
    broker: cqrs.MessageBroker | None = None,
) -> cqrs.saga.SagaMediator:
    return bootstrap.bootstrap(
        sagas_mapper=lambda mapper: mapper.bind(ParcelContext, ParcelSaga),
        saga_storage=storage,
        domain_events_mapper=lambda mapper: mapper.bind(Labelled, handler),
        message_broker=broker,
    )


async def test_domain_events_go_to_handlers_and_notifications_to_the_broker() -> None:
    seen: list[str] = []

    class Track(cqrs.EventHandler[Labelled]):
        async def handle(self, event: Labelled) -> None:
            seen.append(event.parcel_id)

    broker = cqrs.InMemoryMessageBroker()
    mediator = saga_mediator(Track, MemorySagaStorage(), broker)

    results = [r.step_type async for r in mediator.stream(ParcelContext(parcel_id="p1"))]

    assert results == [PrintLabel, Dispatch]
    assert seen == ["p1"]
    assert [message.message_name for message in broker.messages] == ["parcel_labelled"]


async def test_events_are_emitted_after_the_step_is_recorded() -> None:
    storage = MemorySagaStorage()
    saga_id = uuid.uuid4()
    history_when_handled: list[list[tuple[str, SagaStepStatus]]] = []

    class ReadHistory(cqrs.EventHandler[Labelled]):
        async def handle(self, event: Labelled) -> None:
            entries = await storage.get_step_history(saga_id)
            history_when_handled.append([(entry.step_name, entry.status) for entry in entries])

    mediator = saga_mediator(ReadHistory, storage)

    async for _ in mediator.stream(ParcelContext(parcel_id="p1"), saga_id=saga_id):
        pass

    assert history_when_handled == [[("PrintLabel", SagaStepStatus.COMPLETED)]]


async def test_a_failing_event_handler_is_raised_and_leaves_the_saga_to_recovery() -> None:
    class Broken(cqrs.EventHandler[Labelled]):
        async def handle(self, event: Labelled) -> None:
            raise LookupError("tracking is down")

    storage = MemorySagaStorage()
    saga_id = uuid.uuid4()
    mediator = saga_mediator(Broken, storage)

    with pytest.raises(LookupError, match="tracking is down"):
        async for _ in mediator.stream(ParcelContext(parcel_id="p1"), saga_id=saga_id):
            pass

    # The step is done and nothing was compensated: the saga goes on where it stopped.
    state = await storage.load_saga_state(saga_id)
    assert state.status is SagaStatus.RUNNING
    assert [(e.step_name, e.action.value) for e in await storage.get_step_history(saga_id)] == [
        ("PrintLabel", "act")
    ]


async def test_a_step_without_events_emits_nothing() -> None:
    broker = cqrs.InMemoryMessageBroker()
    sagas = cqrs.SagaMap()
    sagas.bind(ParcelContext, ParcelSaga)
    mediator = cqrs.saga.SagaMediator(
        sagas,
        DIContainer(),
        cqrs.EventEmitter(cqrs.EventMap(), DIContainer(), broker),
    )

    async for _ in mediator.stream(ParcelContext(parcel_id="p1")):
        pass

    # Only PrintLabel records events; Dispatch has the default, empty `events`.
    assert [message.message_name for message in broker.messages] == ["parcel_labelled"]


class Crash(BaseException):
    """The process dying before a step: no `except Exception` handles it."""


class Weigh(SagaStepHandler[ParcelContext, None]):
    """Kills the first pass (`crash` set), so PrintLabel runs in a recovered one."""

    crash = False

    async def act(self, context: ParcelContext) -> SagaStepResult[ParcelContext, None]:
        if Weigh.crash:
            Weigh.crash = False
            raise Crash("killed before PrintLabel")
        return self._generate_step_result(None)


class WeighedParcelSaga(Saga[ParcelContext]):
    steps = [Weigh, PrintLabel, Dispatch]


async def crashed_before_labelling(
    seen: list[str], storage: MemorySagaStorage, parcel_id: str
) -> tuple[cqrs.saga.SagaMediator, uuid.UUID]:
    """A saga whose first pass died before PrintLabel, and the mediator that ran it
    (its handler of `Labelled` adds to `seen`)."""

    class Track(cqrs.EventHandler[Labelled]):
        async def handle(self, event: Labelled) -> None:
            seen.append(event.parcel_id)

    mediator = bootstrap.bootstrap(
        sagas_mapper=lambda mapper: mapper.bind(ParcelContext, WeighedParcelSaga),
        saga_storage=storage,
        domain_events_mapper=lambda mapper: mapper.bind(Labelled, Track),
    )
    saga_id = uuid.uuid4()
    Weigh.crash = True
    with pytest.raises(Crash):
        await mediator.start(ParcelContext(parcel_id=parcel_id), saga_id)
    assert seen == []
    return mediator, saga_id


async def test_a_step_run_by_recover_saga_emits_through_the_mediators_emit() -> None:
    seen: list[str] = []
    storage = MemorySagaStorage()
    mediator, saga_id = await crashed_before_labelling(seen, storage, "p2")

    status = await recover_saga(
        WeighedParcelSaga, saga_id, ParcelContext, None, storage, emit=mediator.emit
    )

    assert status is SagaStatus.COMPLETED
    assert seen == ["p2"]


async def test_a_step_run_by_the_recovery_worker_emits_through_the_mediators_emit() -> None:
    seen: list[str] = []
    storage = MemorySagaStorage()
    mediator, saga_id = await crashed_before_labelling(seen, storage, "p3")
    worker = SagaRecoveryWorker(
        storage=storage,
        sagas={WeighedParcelSaga.saga_name(): (WeighedParcelSaga, ParcelContext)},
        stale_after=datetime.timedelta(0),
        emit=mediator.emit,
    )

    assert await worker.run_once() == 1

    assert (await storage.load_saga_state(saga_id)).status is SagaStatus.COMPLETED
    assert seen == ["p3"]


async def test_a_step_run_by_an_operators_retry_emits_through_the_mediators_emit() -> None:
    seen: list[str] = []
    storage = MemorySagaStorage()
    mediator, saga_id = await crashed_before_labelling(seen, storage, "p4")
    worker = SagaRecoveryWorker(
        storage=storage,
        sagas={WeighedParcelSaga.saga_name(): (WeighedParcelSaga, ParcelContext)},
        emit=mediator.emit,
    )

    state = await worker.retry(saga_id)

    assert state.status is SagaStatus.COMPLETED
    assert seen == ["p4"]
