"""Messaging steps: a command through the outbox, a reply (or a timeout), compensation commands."""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import dataclasses
import datetime
import typing
import uuid

import pydantic
import pytest

import cqrs
from cqrs.container.di import DIContainer
from cqrs.message_brokers.protocol import Message
from cqrs.outbox import UnregisteredEventError
from cqrs.saga.errors import (
    SagaConcurrencyError,
    SagaNotFoundError,
    SagaNotRetriableError,
    SagaStepTimeoutError,
)
from cqrs.saga.execution import CompensationPolicy, SagaRunner
from cqrs.saga.fallback import Fallback
from cqrs.saga.map import SagaMap
from cqrs.saga.mediator import SagaMediator, SagaNotBoundError
from cqrs.saga.messaging import MessagingStep
from cqrs.saga.models import (
    SagaContext,
    SagaState,
    SagaStatus,
    SagaStepAction,
    SagaStepStatus,
    SagaWait,
)
from cqrs.saga.recovery import SagaRecoveryWorker
from cqrs.saga.saga import Saga, SagaDefinitionError
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.saga.storage.protocol import ISagaStorage
from cqrs.testing import FakeClock, registered_outbox_events

ACT, COMPENSATE = SagaStepAction.ACT, SagaStepAction.COMPENSATE

PREFIX = "tests.saga.test_messaging."
RESERVE = PREFIX + "reserve_stock"
RELEASE = PREFIX + "release_stock"
RESERVED = PREFIX + "stock_reserved"
REJECTED = PREFIX + "stock_rejected"
RELEASED = PREFIX + "stock_released"
NEVER_REGISTERED = PREFIX + "never_registered"
TOPIC = "inventory.commands"
TIMEOUT = datetime.timedelta(seconds=30)
COMPENSATION_TIMEOUT = datetime.timedelta(seconds=10)
STALE = datetime.timedelta(seconds=60)
# Three tries per compensation, without sleeping between local retries.
NO_WAIT = CompensationPolicy(attempts=3, initial_delay=0.0, max_delay=0.0)


class Crash(BaseException):
    """Stands in for the process dying mid-delivery: no `except Exception` may handle it."""


class OutOfStock(Exception):
    pass


class CardDeclined(Exception):
    pass


class CommandBroken(Exception):
    pass


class ReleaseRefused(Exception):
    pass


class Gate:
    """Holds `on_reply` until `release` is set; `entered` tells it is waiting,
    `entered_twice` that a second call is (which must not happen)."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.entered_twice = asyncio.Event()
        self.release = asyncio.Event()

    async def enter(self) -> None:
        (self.entered_twice if self.entered.is_set() else self.entered).set()
        await self.release.wait()


@dataclasses.dataclass
class World:
    calls: list[str] = dataclasses.field(default_factory=list[str])
    decline_card: bool = False
    failing_commands: bool = False
    crash_on_reply: bool = False  # crash once
    reply_gate: Gate | None = None


WORLD = World()


class StockCommand(pydantic.BaseModel):
    saga_id: uuid.UUID
    order_id: str
    sku: str


@pytest.fixture(autouse=True)
def fresh_world() -> None:
    WORLD.__init__()  # type: ignore[misc]


@pytest.fixture(autouse=True)
def registered_commands() -> collections.abc.Iterator[None]:
    """The registry is process-wide: leave it as it was."""
    with registered_outbox_events(
        dict.fromkeys((RESERVE, RELEASE), cqrs.NotificationEvent[StockCommand])
    ):
        yield


# --- the saga ------------------------------------------------------------------------


@dataclasses.dataclass
class OrderContext(SagaContext):
    order_id: str = "order-1"
    sku: str = "sku-1"
    validated: bool = False
    reservation_id: str | None = None
    payment_id: str | None = None


class ValidateOrder(SagaStepHandler[OrderContext, str]):
    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, str]:
        WORLD.calls.append("act:ValidateOrder")
        context.validated = True
        return self._generate_step_result("valid")

    async def compensate(self, context: OrderContext) -> None:
        WORLD.calls.append("compensate:ValidateOrder")
        context.validated = False


class ChargeCard(SagaStepHandler[OrderContext, str]):
    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, str]:
        WORLD.calls.append("act:ChargeCard")
        if WORLD.decline_card:
            raise CardDeclined("card declined")
        context.payment_id = "pay-1"
        return self._generate_step_result("pay-1")

    async def compensate(self, context: OrderContext) -> None:
        WORLD.calls.append("compensate:ChargeCard")
        context.payment_id = None


class ReserveStock(MessagingStep[OrderContext, str]):
    """Asks the inventory to reserve; the release command is fire-and-forget."""

    replies = (RESERVED, REJECTED)
    timeout = TIMEOUT
    command_name: typing.ClassVar[str] = RESERVE

    async def command(self, context: OrderContext, saga_id: uuid.UUID) -> cqrs.NotificationEvent:
        WORLD.calls.append(f"command:{type(self).__name__}")
        if WORLD.failing_commands:
            raise CommandBroken("cannot build the command")
        return stock_command(self.command_name, context, saga_id)

    async def on_reply(
        self, context: OrderContext, reply: cqrs.NotificationEvent
    ) -> SagaStepResult[OrderContext, str]:
        WORLD.calls.append(f"on_reply:{type(self).__name__}")
        if WORLD.crash_on_reply:
            WORLD.crash_on_reply = False
            raise Crash("the worker died while handling the reply")
        gate = WORLD.reply_gate
        if gate is not None:
            await gate.enter()
        if reply.event_name == REJECTED:
            raise OutOfStock(reply.payload["reason"])
        context.reservation_id = reply.payload["reservation_id"]
        return self._generate_step_result(reply.payload["reservation_id"])

    async def compensation_command(
        self, context: OrderContext, saga_id: uuid.UUID
    ) -> cqrs.NotificationEvent:
        WORLD.calls.append(f"compensation_command:{type(self).__name__}")
        return stock_command(RELEASE, context, saga_id)


class ReserveStockAcked(ReserveStock):
    """Like ReserveStock, but waits for the inventory to confirm the release."""

    compensation_replies = (RELEASED,)
    compensation_timeout = COMPENSATION_TIMEOUT

    async def on_compensation_reply(
        self, context: OrderContext, reply: cqrs.NotificationEvent
    ) -> None:
        WORLD.calls.append(f"on_compensation_reply:{type(self).__name__}")
        if not reply.payload["ok"]:
            raise ReleaseRefused("the inventory could not release")
        context.reservation_id = None


class ReserveStockByOrder(ReserveStock):
    def partition_key(self, context: OrderContext, saga_id: uuid.UUID) -> str:
        return f"order:{context.order_id}"


class ReserveUnregistered(ReserveStock):
    command_name = NEVER_REGISTERED


class OrderSaga(Saga[OrderContext]):
    steps = [ValidateOrder, ReserveStock, ChargeCard]


class PayFirstSaga(Saga[OrderContext]):
    steps = [ValidateOrder, ChargeCard, ReserveStock]


class AckedOrderSaga(Saga[OrderContext]):
    steps = [ValidateOrder, ReserveStockAcked, ChargeCard]


class KeyedSaga(Saga[OrderContext]):
    steps = [ReserveStockByOrder]


class UnregisteredSaga(Saga[OrderContext]):
    steps = [ValidateOrder, ReserveUnregistered]


def stock_command(name: str, context: OrderContext, saga_id: uuid.UUID) -> cqrs.NotificationEvent:
    return cqrs.NotificationEvent[StockCommand](
        event_name=name,
        topic=TOPIC,
        payload=StockCommand(saga_id=saga_id, order_id=context.order_id, sku=context.sku),
    )


def reply(name: str, **payload: object) -> cqrs.NotificationEvent:
    return cqrs.NotificationEvent(event_name=name, topic="inventory.replies", payload=payload)


def reserved(reservation_id: str = "res-1") -> cqrs.NotificationEvent:
    return reply(RESERVED, reservation_id=reservation_id)


# --- the rig -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Write:
    """One `record_step` call: the log entry, the wait it set and what it staged."""

    step: str
    action: str
    status: str
    wait: SagaWait | None
    staged: tuple[Message, ...]
    saga_status: SagaStatus  # stored right after the write


class SpyStorage(MemorySagaStorage):
    """Records each `record_step`, and sets `refused` when a claim is refused."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.writes: list[Write] = []
        self.refused = asyncio.Event()
        # Each claim taken (at creation too) and given up, in order.
        self.holds: list[str] = []

    async def record_step(  # type: ignore[override]
        self,
        saga_id: uuid.UUID,
        step_name: str,
        action: SagaStepAction,
        status: SagaStepStatus,
        **options: typing.Any,
    ) -> int:
        before = len(self.outbox.messages())
        version = await super().record_step(saga_id, step_name, action, status, **options)
        self.writes.append(
            Write(
                step_name,
                action.value,
                status.value,
                options.get("wait"),
                tuple(self.outbox.messages()[before:]),
                (await self.load_saga_state(saga_id)).status,
            )
        )
        return version

    async def create_saga(
        self,
        saga_id: uuid.UUID,
        name: str,
        context: typing.Mapping[str, typing.Any],
        **options: typing.Any,
    ) -> None:
        if options.get("owner") is not None:
            self.holds.append("created claimed")
        await super().create_saga(saga_id, name, context, **options)

    async def claim(self, saga_id: uuid.UUID, owner: str, lease: datetime.timedelta) -> bool:
        self.holds.append("claim")
        taken = await super().claim(saga_id, owner, lease)
        if not taken:
            self.refused.set()
        return taken

    async def release(self, saga_id: uuid.UUID, owner: str) -> None:
        self.holds.append("release")
        await super().release(saga_id, owner)


@dataclasses.dataclass
class Rig:
    clock: FakeClock
    storage: SpyStorage
    runner: SagaRunner

    async def start(
        self, context: OrderContext | None = None, saga_id: uuid.UUID | None = None
    ) -> tuple[uuid.UUID, list[str]]:
        """Start a saga; its id and the names of the steps the first pass yielded."""
        saga_id = saga_id or uuid.uuid4()
        yielded = [
            result.step_type.__name__
            async for result in self.runner.stream(context or OrderContext(), saga_id)
        ]
        return saga_id, yielded

    async def resume(self, saga_id: uuid.UUID) -> list[str]:
        return [result.step_type.__name__ async for result in self.runner.resume(saga_id)]

    async def state(self, saga_id: uuid.UUID) -> SagaState:
        return await self.storage.load_saga_state(saga_id)

    async def log(self, saga_id: uuid.UUID) -> list[tuple[str, str, str]]:
        history = await self.storage.get_step_history(saga_id)
        return [(e.step_name, e.action.value, e.status.value) for e in history]

    async def compensations(self, saga_id: uuid.UUID) -> list[tuple[str, str]]:
        return [
            (step, status)
            for step, action, status in await self.log(saga_id)
            if action == "compensate"
        ]

    def messages(self, name: str | None = None) -> list[Message]:
        return [m for m in self.storage.outbox.messages() if name is None or m.message_name == name]

    def worker(self, saga: type[Saga[OrderContext]] = OrderSaga) -> SagaRecoveryWorker:
        return SagaRecoveryWorker(
            storage=self.storage,
            sagas={saga.saga_name(): (saga, OrderContext)},
            stale_after=STALE,
            compensation=NO_WAIT,
        )


def rig(
    saga: type[Saga[OrderContext]] = OrderSaga,
    *,
    claim_wait: datetime.timedelta = datetime.timedelta(seconds=5),
) -> Rig:
    clock = FakeClock()
    storage = SpyStorage(clock)
    runner = SagaRunner(
        saga, DIContainer(), storage, compensation=NO_WAIT, claim_wait=claim_wait, clock=clock
    )
    return Rig(clock, storage, runner)


def count(call: str) -> int:
    return WORLD.calls.count(call)


# --- sending the command -------------------------------------------------------------


async def test_start_runs_local_steps_then_stops_waiting_for_the_reply() -> None:
    r = rig()

    saga_id, yielded = await r.start()

    assert yielded == ["ValidateOrder"]
    assert WORLD.calls == ["act:ValidateOrder", "command:ReserveStock"]
    state = await r.state(saga_id)
    assert state.status is SagaStatus.RUNNING
    assert state.waiting == SagaWait("ReserveStock", ACT, r.clock() + TIMEOUT, attempt=1)
    assert (await r.log(saga_id))[-1] == ("ReserveStock", "act", "started")


async def test_a_start_hidden_until_commit_neither_claims_nor_releases() -> None:
    r = rig()
    saga_id = uuid.uuid4()

    status = await r.runner.start(OrderContext(), saga_id, hidden_until_commit=True)

    assert status is SagaStatus.RUNNING
    assert r.storage.holds == []
    assert (await r.state(saga_id)).waiting == SagaWait("ReserveStock", ACT, r.clock() + TIMEOUT)
    assert [m.message_name for m in r.messages()] == [RESERVE]


async def test_a_start_not_hidden_claims_at_creation_and_releases_at_the_end() -> None:
    r = rig()

    await r.runner.start(OrderContext(), uuid.uuid4())

    assert r.storage.holds == ["created claimed", "release"]


async def test_a_saga_started_hidden_is_delivered_to_at_once_after_the_commit() -> None:
    r = rig(claim_wait=datetime.timedelta(0))
    saga_id = uuid.uuid4()
    await r.runner.start(OrderContext(), saga_id, hidden_until_commit=True)

    # Nobody holds it: a reply that comes right after the commit is not kept waiting.
    state = await r.runner.deliver(saga_id, reserved())

    assert state.status is SagaStatus.COMPLETED
    assert not r.storage.refused.is_set()


async def test_a_saga_started_hidden_is_recovered_after_a_crash_following_the_commit() -> None:
    r = rig()
    saga_id = uuid.uuid4()
    await r.runner.start(OrderContext(), saga_id, hidden_until_commit=True)
    # The process dies now: no reply reaches this saga. Another process's worker, once
    # the reply is overdue, takes the saga up (no lease of the dead pass holds it).
    r.clock.advance(TIMEOUT + datetime.timedelta(seconds=1))

    assert await r.worker().run_once() == 1

    state = await r.state(saga_id)
    assert state.status is SagaStatus.FAILED
    assert await r.compensations(saga_id) == [
        ("ReserveStock", "completed"),
        ("ValidateOrder", "completed"),
    ]


async def test_the_command_is_staged_in_the_outbox_with_the_saga_id_and_its_key() -> None:
    r = rig()

    saga_id, _ = await r.start(OrderContext(order_id="order-7", sku="sku-9"))

    [message] = r.messages()
    assert (message.message_name, message.topic, message.key) == (RESERVE, TOPIC, str(saga_id))
    assert message.payload["event_name"] == RESERVE
    assert message.payload["payload"] == {
        "saga_id": str(saga_id),
        "order_id": "order-7",
        "sku": "sku-9",
    }


async def test_the_command_and_the_wait_are_one_write() -> None:
    r = rig()

    saga_id, _ = await r.start()

    staging = [write for write in r.storage.writes if write.staged]
    assert len(staging) == 1
    [write] = staging
    assert (write.step, write.action, write.status) == ("ReserveStock", "act", "started")
    assert write.wait is not None
    assert write.wait.step_name == "ReserveStock"
    assert [m.message_name for m in write.staged] == [RESERVE]
    assert write.saga_status is SagaStatus.RUNNING
    # No write before it set a wait or staged anything.
    assert all(w.wait is None and not w.staged for w in r.storage.writes[:-1])
    assert r.storage.writes[-1] == write
    assert (await r.state(saga_id)).waiting == write.wait


async def test_a_custom_partition_key_is_used_for_the_command_and_its_compensation() -> None:
    r = rig(KeyedSaga)

    saga_id, yielded = await r.start(OrderContext(order_id="order-42"))

    assert yielded == []
    assert [m.key for m in r.messages()] == ["order:order-42"]
    # A messaging first step moves the saga from pending to running with the same write.
    assert (await r.state(saga_id)).status is SagaStatus.RUNNING

    r.clock.advance(TIMEOUT)
    with pytest.raises(SagaStepTimeoutError):
        await r.resume(saga_id)
    assert [(m.message_name, m.key) for m in r.messages()] == [
        (RESERVE, "order:order-42"),
        (RELEASE, "order:order-42"),
    ]


async def test_a_failing_command_fails_the_step_before_anything_is_staged() -> None:
    r = rig()
    WORLD.failing_commands = True

    saga_id = uuid.uuid4()

    with pytest.raises(CommandBroken, match="cannot build the command"):
        await r.start(saga_id=saga_id)

    assert r.messages() == []
    state = await r.state(saga_id)
    assert (state.status, state.waiting) == (SagaStatus.FAILED, None)
    assert state.error == "CommandBroken: cannot build the command"
    assert ("ReserveStock", "act", "failed") in await r.log(saga_id)
    # The step never acted, so only ValidateOrder is compensated, and no release is sent.
    assert await r.compensations(saga_id) == [("ValidateOrder", "completed")]
    assert count("compensation_command:ReserveStock") == 0


async def test_an_unregistered_command_name_fails_the_step_and_stages_nothing() -> None:
    r = rig(UnregisteredSaga)

    saga_id = uuid.uuid4()

    with pytest.raises(UnregisteredEventError, match="never_registered"):
        await r.start(saga_id=saga_id)

    assert r.messages() == []
    state = await r.state(saga_id)
    assert state.status is SagaStatus.FAILED
    assert state.waiting is None
    assert state.error is not None
    assert state.error.startswith("UnregisteredEventError: ")
    assert await r.compensations(saga_id) == [("ValidateOrder", "completed")]


async def test_stream_on_a_waiting_saga_before_its_deadline_yields_and_changes_nothing() -> None:
    r = rig()
    saga_id, _ = await r.start()
    before, log_before = await r.state(saga_id), await r.log(saga_id)
    r.clock.advance(TIMEOUT - datetime.timedelta(seconds=1))

    again = [res async for res in r.runner.stream(OrderContext(order_id="other"), saga_id)]
    resumed = await r.resume(saga_id)

    assert (again, resumed) == ([], [])
    assert await r.state(saga_id) == before
    assert await r.log(saga_id) == log_before
    assert len(r.messages()) == 1
    assert WORLD.calls == ["act:ValidateOrder", "command:ReserveStock"]


# --- replies -------------------------------------------------------------------------


async def test_a_reply_runs_on_reply_and_the_following_steps_to_completion() -> None:
    r = rig()
    saga_id, _ = await r.start()

    state = await r.runner.deliver(saga_id, reserved("res-77"))

    assert state.status is SagaStatus.COMPLETED
    assert state.waiting is None
    assert WORLD.calls[2:] == ["on_reply:ReserveStock", "act:ChargeCard"]
    assert state.context["reservation_id"] == "res-77"
    assert state.context["payment_id"] == "pay-1"
    assert state == await r.state(saga_id)
    assert (await r.log(saga_id))[-3:] == [
        ("ReserveStock", "act", "started"),
        ("ReserveStock", "act", "completed"),
        ("ChargeCard", "act", "completed"),
    ]
    assert len(r.messages()) == 1  # nothing else was sent


async def test_a_reply_to_the_last_step_completes_the_saga() -> None:
    r = rig(PayFirstSaga)
    saga_id, yielded = await r.start()
    assert yielded == ["ValidateOrder", "ChargeCard"]

    state = await r.runner.deliver(saga_id, reserved())

    assert state.status is SagaStatus.COMPLETED
    assert state.context["reservation_id"] == "res-1"


async def test_a_reply_delivered_through_another_mediator_instance_completes_the_saga() -> None:
    clock = FakeClock()
    storage = MemorySagaStorage(clock=clock)
    sagas = SagaMap()
    sagas.bind(OrderContext, OrderSaga)
    starting = SagaMediator(sagas, DIContainer(), storage=storage, compensation=NO_WAIT)
    other = SagaMediator(sagas, DIContainer(), storage=storage, compensation=NO_WAIT)
    saga_id = uuid.uuid4()

    yielded = [r.step_type async for r in starting.stream(OrderContext(), saga_id)]
    state = await other.deliver(saga_id, reserved("res-2"))

    assert yielded == [ValidateOrder]
    assert state.status is SagaStatus.COMPLETED
    assert state.context["reservation_id"] == "res-2"
    assert (await starting.storage.load_saga_state(saga_id)).status is SagaStatus.COMPLETED
    assert WORLD.calls == [
        "act:ValidateOrder",
        "command:ReserveStock",
        "on_reply:ReserveStock",
        "act:ChargeCard",
    ]


async def test_a_duplicate_reply_after_completion_is_ignored() -> None:
    r = rig()
    saga_id, _ = await r.start()
    first = await r.runner.deliver(saga_id, reserved())

    again = await r.runner.deliver(saga_id, reserved())

    assert count("on_reply:ReserveStock") == 1
    assert count("act:ChargeCard") == 1
    assert again == first
    assert again.status is SagaStatus.COMPLETED


async def test_a_reply_with_an_unexpected_name_is_ignored_and_the_saga_keeps_waiting() -> None:
    r = rig()
    saga_id, _ = await r.start()
    before = await r.state(saga_id)

    state = await r.runner.deliver(saga_id, reply(RELEASED, ok=True))

    assert state == before
    assert state.waiting is not None
    assert state.waiting.step_name == "ReserveStock"
    assert count("on_reply:ReserveStock") == 0
    # The right reply still completes it.
    assert (await r.runner.deliver(saga_id, reserved())).status is SagaStatus.COMPLETED


async def test_two_concurrent_deliveries_of_one_reply_run_on_reply_once() -> None:
    r = rig()
    saga_id, _ = await r.start()
    gate = WORLD.reply_gate = Gate()

    async def let_the_first_finish_once_the_second_is_refused() -> None:
        # Wait until the second delivery found the saga held (or, were it not
        # refused, until it ran on_reply as well: then fail rather than hang).
        waits = [
            asyncio.create_task(r.storage.refused.wait()),
            asyncio.create_task(gate.entered_twice.wait()),
        ]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for wait in waits:
            wait.cancel()
        gate.release.set()

    first, second, _ = await asyncio.gather(
        r.runner.deliver(saga_id, reserved()),
        r.runner.deliver(saga_id, reserved()),
        let_the_first_finish_once_the_second_is_refused(),
    )

    assert r.storage.refused.is_set()
    assert not gate.entered_twice.is_set()
    assert count("on_reply:ReserveStock") == 1
    assert count("act:ChargeCard") == 1
    assert first.status is second.status is SagaStatus.COMPLETED


async def test_deliver_raises_concurrency_error_while_another_worker_keeps_the_saga() -> None:
    r = rig(claim_wait=datetime.timedelta(0))
    saga_id, _ = await r.start()
    assert await r.storage.claim(saga_id, "other-worker", datetime.timedelta(seconds=60))

    with pytest.raises(SagaConcurrencyError):
        await r.runner.deliver(saga_id, reserved())

    assert count("on_reply:ReserveStock") == 0
    await r.storage.release(saga_id, "other-worker")
    assert (await r.runner.deliver(saga_id, reserved())).status is SagaStatus.COMPLETED


async def test_mediator_deliver_to_an_unknown_or_unbound_saga_raises() -> None:
    storage = MemorySagaStorage(clock=FakeClock())
    mediator = SagaMediator(SagaMap(), DIContainer(), storage=storage)
    saga_id = uuid.uuid4()

    with pytest.raises(SagaNotFoundError):
        await mediator.deliver(saga_id, reserved())

    await storage.create_saga(saga_id, OrderSaga.saga_name(), OrderContext().to_dict())
    with pytest.raises(SagaNotBoundError, match="OrderSaga"):
        await mediator.deliver(saga_id, reserved())


# --- a rejecting reply -------------------------------------------------------------------


async def test_a_rejecting_reply_fails_the_saga_and_compensates_earlier_steps_in_reverse() -> None:
    r = rig(PayFirstSaga)
    saga_id, _ = await r.start()

    state = await r.runner.deliver(saga_id, reply(REJECTED, reason="sku-1 is sold out"))

    assert state.status is SagaStatus.FAILED
    assert state.error == "OutOfStock: sku-1 is sold out"
    assert state.waiting is None
    assert WORLD.calls[-3:] == [
        "on_reply:ReserveStock",
        "compensate:ChargeCard",
        "compensate:ValidateOrder",
    ]
    # The rejected step itself is not compensated: no release command is sent.
    assert count("compensation_command:ReserveStock") == 0
    assert r.messages(RELEASE) == []
    assert await r.compensations(saga_id) == [
        ("ChargeCard", "completed"),
        ("ValidateOrder", "completed"),
    ]
    assert ("ReserveStock", "act", "failed") in await r.log(saga_id)
    assert (state.context["payment_id"], state.context["validated"]) == (None, False)


async def test_a_step_failing_after_the_reply_is_recorded_and_not_raised_by_deliver() -> None:
    r = rig()
    saga_id, _ = await r.start()
    WORLD.decline_card = True

    state = await r.runner.deliver(saga_id, reserved())

    assert state.status is SagaStatus.FAILED
    assert state.error == "CardDeclined: card declined"
    # ReserveStock completed, so it is compensated (its release sent), then ValidateOrder.
    assert await r.compensations(saga_id) == [
        ("ReserveStock", "completed"),
        ("ValidateOrder", "completed"),
    ]


# --- timeouts ----------------------------------------------------------------------------


async def test_the_worker_leaves_a_waiting_saga_alone_within_its_deadline_when_stale() -> None:
    r = rig()
    saga_id, _ = await r.start()
    before = await r.state(saga_id)
    worker = r.worker()
    worker.stale_after = datetime.timedelta(seconds=1)
    r.clock.advance(TIMEOUT - datetime.timedelta(seconds=1))

    assert await worker.run_once() == 0

    assert await r.state(saga_id) == before
    assert (await r.state(saga_id)).recovery_attempts == 0
    assert len(r.messages()) == 1
    assert count("compensation_command:ReserveStock") == 0


async def test_the_worker_times_out_a_saga_past_its_deadline_and_compensates_the_step() -> None:
    r = rig()
    saga_id, _ = await r.start()
    r.clock.advance(TIMEOUT + datetime.timedelta(seconds=1))

    assert await r.worker().run_once() == 1

    state = await r.state(saga_id)
    assert state.status is SagaStatus.FAILED
    assert state.waiting is None
    assert state.error is not None
    assert state.error.startswith("SagaStepTimeoutError: ")
    assert ("ReserveStock", "act", "timed_out") in await r.log(saga_id)
    # The timed-out step is compensated first (its release is sent), then ValidateOrder.
    assert await r.compensations(saga_id) == [
        ("ReserveStock", "completed"),
        ("ValidateOrder", "completed"),
    ]
    [release] = r.messages(RELEASE)
    assert release.key == str(saga_id)
    assert release.payload["payload"]["saga_id"] == str(saga_id)
    assert count("on_reply:ReserveStock") == 0
    assert count("act:ChargeCard") == 0


async def test_a_retry_within_the_deadline_is_refused_and_changes_nothing() -> None:
    r = rig()
    saga_id, _ = await r.start()
    before = await r.state(saga_id)
    r.clock.advance(TIMEOUT - datetime.timedelta(seconds=1))

    with pytest.raises(SagaNotRetriableError, match="waits for the reply to ReserveStock"):
        await r.runner.retry(saga_id)

    assert await r.state(saga_id) == before
    assert len(r.messages()) == 1


async def test_a_retry_past_the_deadline_times_the_step_out_without_raising() -> None:
    r = rig()
    saga_id, _ = await r.start()
    r.clock.advance(TIMEOUT)

    state = await r.runner.retry(saga_id)

    assert state.status is SagaStatus.FAILED
    assert ("ReserveStock", "act", "timed_out") in await r.log(saga_id)
    assert len(r.messages(RELEASE)) == 1


async def test_resume_past_the_deadline_raises_the_timeout_after_compensating() -> None:
    r = rig()
    saga_id, _ = await r.start()
    r.clock.advance(TIMEOUT)

    with pytest.raises(SagaStepTimeoutError):
        await r.resume(saga_id)

    assert (await r.state(saga_id)).status is SagaStatus.FAILED
    assert len(r.messages(RELEASE)) == 1


async def test_a_late_reply_after_the_timeout_is_ignored() -> None:
    r = rig()
    saga_id, _ = await r.start()
    r.clock.advance(TIMEOUT + datetime.timedelta(seconds=1))
    await r.worker().run_once()
    timed_out = await r.state(saga_id)

    state = await r.runner.deliver(saga_id, reserved())

    assert state == timed_out
    assert state.status is SagaStatus.FAILED
    assert count("on_reply:ReserveStock") == 0
    assert state.context["reservation_id"] is None


# --- compensation commands ---------------------------------------------------------------


async def test_a_fire_and_forget_compensation_completes_at_once_with_its_command_staged() -> None:
    r = rig()
    saga_id, _ = await r.start()
    WORLD.decline_card = True

    await r.runner.deliver(saga_id, reserved())

    [release] = [w for w in r.storage.writes if w.action == "compensate" and w.staged]
    assert (release.step, release.status, release.wait) == ("ReserveStock", "completed", None)
    assert [m.message_name for m in release.staged] == [RELEASE]
    assert release.staged[0].key == str(saga_id)
    assert release.staged[0].topic == TOPIC
    assert (await r.state(saga_id)).waiting is None
    assert [m.message_name for m in r.messages()] == [RESERVE, RELEASE]


async def acked_saga_compensating() -> tuple[Rig, uuid.UUID]:
    """An AckedOrderSaga whose card was declined: it waits for the release to be confirmed."""
    r = rig(AckedOrderSaga)
    saga_id, _ = await r.start()
    WORLD.decline_card = True
    await r.runner.deliver(saga_id, reserved())
    return r, saga_id


async def test_a_compensation_command_waits_for_its_reply_before_going_on() -> None:
    r, saga_id = await acked_saga_compensating()

    state = await r.state(saga_id)
    assert state.status is SagaStatus.COMPENSATING
    assert state.waiting == SagaWait(
        "ReserveStockAcked", COMPENSATE, r.clock() + COMPENSATION_TIMEOUT, attempt=1
    )
    assert [m.message_name for m in r.messages()] == [RESERVE, RELEASE]
    assert count("compensate:ValidateOrder") == 0  # strictly in reverse: not yet

    state = await r.runner.deliver(saga_id, reply(RELEASED, ok=True))

    assert state.status is SagaStatus.FAILED
    assert state.waiting is None
    assert WORLD.calls[-2:] == [
        "on_compensation_reply:ReserveStockAcked",
        "compensate:ValidateOrder",
    ]
    assert state.context["reservation_id"] is None
    assert await r.compensations(saga_id) == [
        ("ReserveStockAcked", "started"),
        ("ReserveStockAcked", "completed"),
        ("ValidateOrder", "completed"),
    ]


async def test_an_act_reply_while_waiting_for_the_compensation_reply_is_ignored() -> None:
    r, saga_id = await acked_saga_compensating()
    before = await r.state(saga_id)

    assert await r.runner.deliver(saga_id, reserved()) == before
    assert count("on_reply:ReserveStockAcked") == 1


async def test_a_compensation_timeout_resends_the_command_and_counts_the_attempt() -> None:
    r, saga_id = await acked_saga_compensating()
    r.clock.advance(COMPENSATION_TIMEOUT)

    assert await r.resume(saga_id) == []

    state = await r.state(saga_id)
    assert state.status is SagaStatus.COMPENSATING
    assert state.waiting == SagaWait(
        "ReserveStockAcked", COMPENSATE, r.clock() + COMPENSATION_TIMEOUT, attempt=2
    )
    assert len(r.messages(RELEASE)) == 2
    # The timeout and the resend are one write, so a crash cannot reset the attempt count.
    assert (await r.compensations(saga_id))[-2:] == [
        ("ReserveStockAcked", "started"),
        ("ReserveStockAcked", "timed_out"),
    ]
    history = await r.runner.storage.get_step_history(saga_id)
    assert history[-1].details is not None
    assert history[-1].details.endswith("sent again (attempt 2)")
    assert count("compensate:ValidateOrder") == 0


async def test_a_failing_compensation_reply_resends_the_command() -> None:
    r, saga_id = await acked_saga_compensating()

    state = await r.runner.deliver(saga_id, reply(RELEASED, ok=False))

    assert state.status is SagaStatus.COMPENSATING
    assert state.waiting is not None
    assert state.waiting.attempt == 2
    assert len(r.messages(RELEASE)) == 2
    assert ("ReserveStockAcked", "failed") in await r.compensations(saga_id)

    state = await r.runner.deliver(saga_id, reply(RELEASED, ok=True))
    assert state.status is SagaStatus.FAILED


async def exhausted() -> tuple[Rig, uuid.UUID]:
    """An AckedOrderSaga whose release was never confirmed, NO_WAIT.attempts times."""
    r, saga_id = await acked_saga_compensating()
    for _ in range(NO_WAIT.attempts):
        r.clock.advance(COMPENSATION_TIMEOUT)
        await r.resume(saga_id)
    return r, saga_id


async def test_an_unconfirmed_compensation_stops_in_compensation_failed() -> None:
    r, saga_id = await exhausted()

    state = await r.state(saga_id)
    assert state.status is SagaStatus.COMPENSATION_FAILED
    assert state.waiting is None
    assert len(r.messages(RELEASE)) == NO_WAIT.attempts
    timed_out = [c for c in await r.compensations(saga_id) if c[1] == "timed_out"]
    assert len(timed_out) == NO_WAIT.attempts
    # Strict reverse order: ValidateOrder is not undone while ReserveStockAcked is not.
    assert count("compensate:ValidateOrder") == 0
    assert state.context["validated"] is True


async def test_recovery_of_compensation_failed_resends_and_a_reply_then_finishes() -> None:
    r, saga_id = await exhausted()
    r.clock.advance(STALE)

    assert await r.worker(AckedOrderSaga).run_once() == 1

    state = await r.state(saga_id)
    assert state.status is SagaStatus.COMPENSATING
    assert state.waiting is not None
    assert (state.waiting.step_name, state.waiting.attempt) == ("ReserveStockAcked", 1)
    assert len(r.messages(RELEASE)) == NO_WAIT.attempts + 1

    state = await r.runner.deliver(saga_id, reply(RELEASED, ok=True))

    assert state.status is SagaStatus.FAILED
    assert count("compensate:ValidateOrder") == 1


# --- definitions -------------------------------------------------------------------------


def test_a_messaging_step_in_a_fallback_is_a_definition_error() -> None:
    with pytest.raises(SagaDefinitionError, match="Fallback"):

        class PrimaryMessaging(Saga[OrderContext]):  # pyright: ignore[reportUnusedClass]
            steps = [Fallback(step=ReserveStock, fallback=ValidateOrder)]

    with pytest.raises(SagaDefinitionError, match="Fallback"):

        class FallbackMessaging(Saga[OrderContext]):  # pyright: ignore[reportUnusedClass]
            steps = [Fallback(step=ValidateOrder, fallback=ReserveStock)]


def test_a_messaging_step_without_replies_is_a_definition_error() -> None:
    class Deaf(ReserveStock):
        replies = ()

    class DeafSaga(Saga[OrderContext]):
        steps = [ValidateOrder, Deaf]

    with pytest.raises(SagaDefinitionError, match=r"Deaf.*replies"):
        SagaRunner(DeafSaga, DIContainer(), MemorySagaStorage())

    sagas = SagaMap()
    sagas.bind(OrderContext, DeafSaga)
    with pytest.raises(SagaDefinitionError, match="replies"):
        SagaMediator(sagas, DIContainer(), storage=MemorySagaStorage())


async def test_the_engine_never_calls_act_or_compensate_of_a_messaging_step() -> None:
    step = ReserveStock()

    with pytest.raises(TypeError, match="messaging step"):
        await step.act(OrderContext())
    with pytest.raises(TypeError, match="messaging step"):
        await step.compensate(OrderContext())


# --- crashes -----------------------------------------------------------------------------


async def test_a_crash_in_on_reply_leaves_the_saga_waiting_and_a_redelivery_completes_it() -> None:
    r = rig(claim_wait=datetime.timedelta(0))
    saga_id, _ = await r.start()
    before = await r.state(saga_id)
    WORLD.crash_on_reply = True

    with pytest.raises(Crash):
        await r.runner.deliver(saga_id, reserved())

    assert await r.state(saga_id) == before  # nothing was recorded
    assert (await r.log(saga_id))[-1] == ("ReserveStock", "act", "started")
    # The lease was released (claim_wait is zero), and the redelivered reply completes it.
    state = await r.runner.deliver(saga_id, reserved("res-after-crash"))
    assert state.status is SagaStatus.COMPLETED
    assert state.context["reservation_id"] == "res-after-crash"
    assert count("on_reply:ReserveStock") == 2
    assert count("act:ChargeCard") == 1


# --- the rest of a pass in the caller's transaction (deliver(continue_in=...)) ---------


class CommitFailed(Exception):
    pass


class Transactions:
    """A `continue_in` over the rig's storage: notes which writes fell inside each block,
    and can fail the block's end as a refused commit would."""

    def __init__(self, r: Rig, *, fail_commit: bool = False) -> None:
        self.r = r
        self.fail_commit = fail_commit
        self.opened: list[uuid.UUID] = []
        # (first, last) index into the storage's writes of each block that ended.
        self.blocks: list[tuple[int, int]] = []

    @contextlib.asynccontextmanager
    async def __call__(
        self, saga_id: uuid.UUID
    ) -> collections.abc.AsyncGenerator[ISagaStorage, None]:
        self.opened.append(saga_id)
        first = len(self.r.storage.writes)
        yield self.r.storage
        self.blocks.append((first, len(self.r.storage.writes)))
        if self.fail_commit:
            raise CommitFailed("the transaction could not commit")


async def test_the_steps_after_the_reply_write_inside_the_callers_transaction() -> None:
    r = rig(OrderSaga)
    saga_id, _ = await r.start()
    transactions = Transactions(r)

    state = await r.runner.deliver(saga_id, reserved(), continue_in=transactions)

    assert state.status is SagaStatus.COMPLETED
    assert transactions.opened == [saga_id]
    ((first, last),) = transactions.blocks
    inside = [(w.step, w.status) for w in r.storage.writes[first:last]]
    before = [(w.step, w.status) for w in r.storage.writes[:first]]
    # The reply's own write came first, on its own; the charge and the end inside.
    assert before[-1] == ("ReserveStock", "completed")
    assert inside == [("ChargeCard", "completed")]
    assert r.storage.writes[last - 1].saga_status is SagaStatus.COMPLETED
    assert state == await r.state(saga_id)


async def test_a_transaction_that_fails_to_commit_raises_and_gives_the_claim_up() -> None:
    r = rig(OrderSaga)
    saga_id, _ = await r.start()
    r.storage.holds.clear()

    with pytest.raises(CommitFailed):
        await r.runner.deliver(saga_id, reserved(), continue_in=Transactions(r, fail_commit=True))

    # The pass believed the saga completed; it releases it all the same, so that
    # whoever runs it next (recovery) is not kept out for a lease.
    assert r.storage.holds == ["claim", "release"]
    assert await r.storage.claim(saga_id, "recovery", r.runner.lease)


async def test_a_reply_completing_the_saga_opens_no_transaction() -> None:
    r = rig(PayFirstSaga)
    saga_id, _ = await r.start()
    transactions = Transactions(r)

    state = await r.runner.deliver(saga_id, reserved(), continue_in=transactions)

    assert state.status is SagaStatus.COMPLETED
    assert transactions.opened == []


async def test_a_rejecting_or_ignored_reply_goes_on_as_without_a_transaction() -> None:
    r = rig(OrderSaga)
    saga_id, _ = await r.start()
    transactions = Transactions(r)

    ignored = await r.runner.deliver(saga_id, reply("unexpected"), continue_in=transactions)
    assert ignored.status is SagaStatus.RUNNING
    state = await r.runner.deliver(saga_id, reply(REJECTED, reason="out"), continue_in=transactions)

    assert state.status is SagaStatus.FAILED
    assert transactions.opened == []
    assert "act:ChargeCard" not in WORLD.calls


class ChargeCardTelling(ChargeCard):
    """`ChargeCard` that records an event as it charges."""

    def __init__(self) -> None:
        self._events: list[object] = []

    @property
    def events(self) -> typing.Sequence[object]:  # type: ignore[override]
        return self._events

    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, str]:
        result = await super().act(context)
        self._events.append("charged")
        return result


class TellingSaga(Saga[OrderContext]):
    steps = [ValidateOrder, ReserveStock, ChargeCardTelling]


@pytest.mark.parametrize("commits", [True, False])
async def test_events_of_the_rest_are_emitted_once_it_committed_only(commits: bool) -> None:
    r = rig(TellingSaga)
    emitted: list[tuple[object, int]] = []
    transactions = Transactions(r, fail_commit=not commits)

    async def emit(events: typing.Sequence[object]) -> None:
        # With how many blocks had ended when the events went out.
        emitted.extend((event, len(transactions.blocks)) for event in events)

    runner = SagaRunner(
        TellingSaga, DIContainer(), r.storage, compensation=NO_WAIT, clock=r.clock, emit=emit
    )
    saga_id, _ = await r.start()

    with contextlib.suppress(CommitFailed):
        await runner.deliver(saga_id, reserved(), continue_in=transactions)

    assert emitted == ([("charged", 1)] if commits else [])
