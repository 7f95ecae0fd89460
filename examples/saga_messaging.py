"""A saga step carried out by another service: a command out, a reply (or a timeout) back.

A tea shop takes orders in three steps. The stock belongs to the inventory
service, so the middle step cannot change it directly; it asks, over messages:

1. `RecordOrderStep` (local) writes the order as `pending`; undone by
   cancelling it.
2. `ReserveStockStep` is a `MessagingStep`. Its `command` is a
   `reserve_stock` notification (registered with `cqrs.OutboxedEventMap`,
   carrying the saga id), which the engine stages in the saga storage's
   outbox (`storage.outbox`) in the same write that records the saga as
   waiting; then the saga rests, persisted, until a reply comes. A
   `stock_reserved` reply runs `on_reply`, which keeps the reservation id; a
   `stock_rejected` one makes `on_reply` raise, which fails the saga. Its
   compensation is a `release_stock` command, sent and not waited for.
3. `ConfirmOrderStep` (local) marks the order `confirmed`.

Here the relay that would publish the outbox to a broker, and the inventory
service itself, are simulated in the process: `Relay.pump` takes the
commands from `storage.outbox`, a fake `Inventory` turns each into a reply
event, and each reply is handed back with `mediator.deliver(saga_id, reply)`,
as the consumer of the reply topic would do (on any instance). Three orders:

* t-1: the inventory reserves; the reply runs the saga on to `completed`.
* t-2: more tea than is left; the inventory rejects, the saga fails and the
  order is cancelled. `deliver` does not raise: the failure is recorded.
  The reservation step itself is not undone (nothing was reserved).
* t-3: the inventory is down, so no reply comes. A `SagaRecoveryWorker` (the
  component that fires timeouts) leaves the saga alone within its 30 s
  deadline and times it out after: the order is cancelled and a
  `release_stock` is sent too, because the reservation may have happened
  anyway. When the inventory comes back it handles both commands in order
  (their partition key is the saga id), and its late `stock_reserved` reply
  is ignored: the stock ends where it was.

A `cqrs.testing.FakeClock` stands in for time, so nothing really waits 30
seconds: the storage, the mediator and the recovery worker share it. The
worker logs each timeout it fires as a warning.

Run: `python examples/saga_messaging.py`
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import uuid

import pydantic

import cqrs
from cqrs.container.di import DIContainer
from cqrs.saga import bootstrap
from cqrs.saga.mediator import SagaMediator
from cqrs.saga.messaging import MessagingStep
from cqrs.saga.models import SagaContext, SagaState
from cqrs.saga.recovery import SagaRecoveryWorker
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.testing import FakeClock

INVENTORY_COMMANDS = "inventory.commands"
INVENTORY_REPLIES = "inventory.replies"
RESERVE_STOCK = "tea_shop.reserve_stock"
RELEASE_STOCK = "tea_shop.release_stock"
STOCK_RESERVED = "tea_shop.stock_reserved"
STOCK_REJECTED = "tea_shop.stock_rejected"
TEA_IN_STOCK = 10


# --- the messages ----------------------------------------------------------------------


class StockCommand(pydantic.BaseModel):
    saga_id: uuid.UUID  # the inventory copies it into its reply
    sku: str
    quantity: int


class StockReply(pydantic.BaseModel):
    saga_id: uuid.UUID
    reservation_id: str | None = None
    reason: str | None = None


# The outbox stores only registered names; register once, at import time.
cqrs.OutboxedEventMap.register(RESERVE_STOCK, cqrs.NotificationEvent[StockCommand])
cqrs.OutboxedEventMap.register(RELEASE_STOCK, cqrs.NotificationEvent[StockCommand])


# --- the shop's own data -------------------------------------------------------------------


@dataclasses.dataclass
class Shop:
    orders: dict[str, str] = dataclasses.field(default_factory=dict[str, str])  # order id -> state


shop = Shop()


class OutOfStock(Exception):
    pass


# --- the saga ------------------------------------------------------------------------------


@dataclasses.dataclass
class TeaOrderContext(SagaContext):
    order_id: str
    sku: str
    quantity: int
    reservation_id: str | None = None


class RecordOrderStep(SagaStepHandler[TeaOrderContext, None]):
    async def act(self, context: TeaOrderContext) -> SagaStepResult[TeaOrderContext, None]:
        shop.orders[context.order_id] = "pending"
        return self._generate_step_result(None)

    async def compensate(self, context: TeaOrderContext) -> None:
        shop.orders[context.order_id] = "cancelled"


class ReserveStockStep(MessagingStep[TeaOrderContext, str]):
    # The event names that answer the command, and how long to wait for one.
    replies = (STOCK_RESERVED, STOCK_REJECTED)
    timeout = datetime.timedelta(seconds=30)

    async def command(
        self, context: TeaOrderContext, saga_id: uuid.UUID
    ) -> cqrs.NotificationEvent[StockCommand]:
        return stock_command(RESERVE_STOCK, context, saga_id)

    async def on_reply(
        self, context: TeaOrderContext, reply: cqrs.NotificationEvent
    ) -> SagaStepResult[TeaOrderContext, str]:
        if reply.event_name == STOCK_REJECTED:
            raise OutOfStock(reply.payload.reason)  # fails the saga
        context.reservation_id = reply.payload.reservation_id
        return self._generate_step_result(reply.payload.reservation_id)

    async def compensation_command(
        self, context: TeaOrderContext, saga_id: uuid.UUID
    ) -> cqrs.NotificationEvent[StockCommand]:
        # By saga id: after a timeout the saga never learnt the reservation id.
        return stock_command(RELEASE_STOCK, context, saga_id)


class ConfirmOrderStep(SagaStepHandler[TeaOrderContext, None]):
    async def act(self, context: TeaOrderContext) -> SagaStepResult[TeaOrderContext, None]:
        shop.orders[context.order_id] = "confirmed"
        return self._generate_step_result(None)


class TeaOrderSaga(Saga[TeaOrderContext]):
    steps = [RecordOrderStep, ReserveStockStep, ConfirmOrderStep]


def stock_command(
    name: str, context: TeaOrderContext, saga_id: uuid.UUID
) -> cqrs.NotificationEvent[StockCommand]:
    return cqrs.NotificationEvent[StockCommand](
        event_name=name,
        topic=INVENTORY_COMMANDS,
        payload=StockCommand(saga_id=saga_id, sku=context.sku, quantity=context.quantity),
    )


def sagas_mapper(m: cqrs.SagaMap) -> None:
    m.bind(TeaOrderContext, TeaOrderSaga)


# --- the other service, simulated ----------------------------------------------------------


@dataclasses.dataclass
class Inventory:
    """The inventory service: reads commands off the wire, answers with reply events."""

    stock: dict[str, int] = dataclasses.field(default_factory=lambda: {"sencha": TEA_IN_STOCK})
    held: dict[uuid.UUID, int] = dataclasses.field(
        default_factory=dict[uuid.UUID, int]
    )  # saga id -> quantity
    online: bool = True

    def handle(self, message: cqrs.Message) -> cqrs.NotificationEvent[StockReply] | None:
        command = StockCommand.model_validate(message.payload["payload"])
        if message.message_name == RELEASE_STOCK:
            self.stock[command.sku] += self.held.pop(command.saga_id, 0)
            return None  # the saga does not wait for this one
        left = self.stock[command.sku]
        if command.quantity > left:
            return self._reply(STOCK_REJECTED, command, reason=f"only {left} {command.sku} left")
        self.stock[command.sku] -= command.quantity
        self.held[command.saga_id] = command.quantity
        return self._reply(STOCK_RESERVED, command, reservation_id=f"r-{len(self.held)}")

    @staticmethod
    def _reply(
        name: str, command: StockCommand, **fields: str
    ) -> cqrs.NotificationEvent[StockReply]:
        return cqrs.NotificationEvent[StockReply](
            event_name=name,
            topic=INVENTORY_REPLIES,
            payload=StockReply(saga_id=command.saga_id, **fields),
        )


@dataclasses.dataclass
class Relay:
    """Stands in for the outbox relay, the broker and the reply consumer."""

    storage: MemorySagaStorage
    inventory: Inventory
    mediator: SagaMediator  # replies are delivered through it
    published: int = 0  # how many outbox messages went out so far

    async def pump(self) -> list[SagaState]:
        """Publish what the outbox holds; deliver each reply; return the sagas' states."""
        waiting = self.storage.outbox.messages(INVENTORY_COMMANDS)[self.published :]
        if not self.inventory.online:
            print(f"  inventory offline: {len(waiting)} command(s) stay in the outbox")
            return []
        states: list[SagaState] = []
        for message in waiting:
            self.published += 1
            print(f"  -> {message.message_name} (key {message.key})")
            reply = self.inventory.handle(message)
            if reply is None:
                continue
            print(f"  <- {reply.event_name}")
            # The reply carries the saga id the command did: that is how it finds its saga.
            states.append(await self.mediator.deliver(reply.payload.saga_id, reply))
        return states


# --- the story -----------------------------------------------------------------------------


@dataclasses.dataclass
class TeaShopReport:
    statuses: dict[str, str]  # order id -> its saga's status
    errors: dict[str, str | None]  # order id -> the error stored with its saga
    reservations: dict[str, str | None]  # order id -> reservation id in the saga's context
    orders: dict[str, str]  # order id -> the shop's order state
    commands: list[tuple[str, str]]  # (name, key) of each command, in outbox order
    due_within_deadline: int  # sagas the worker took 10 s into t-3's wait
    due_after_deadline: int  # ... and 31 s into it
    late_reply_status: str  # t-3's status after the inventory's late reply
    timed_out_history: list[tuple[str, str, str]]  # (step, action, status) of t-3
    stock_left: int


async def main() -> TeaShopReport:
    global shop
    shop = Shop()
    clock = FakeClock()
    storage = MemorySagaStorage(clock=clock)
    container = DIContainer()
    mediator = bootstrap.bootstrap(
        di_container=container, sagas_mapper=sagas_mapper, saga_storage=storage, clock=clock
    )
    worker = SagaRecoveryWorker(
        storage=storage,
        sagas={TeaOrderSaga.saga_name(): (TeaOrderSaga, TeaOrderContext)},
        container=container,
        clock=clock,
    )
    inventory = Inventory()
    relay = Relay(storage, inventory, mediator)
    saga_ids: dict[str, uuid.UUID] = {}

    async def place(order_id: str, quantity: int) -> None:
        saga_ids[order_id] = saga_id = uuid.uuid4()
        context = TeaOrderContext(order_id=order_id, sku="sencha", quantity=quantity)
        async for step in mediator.stream(context, saga_id=saga_id):
            print(f"order {order_id}: {step.step_type.__name__} done")
        waiting = (await storage.load_saga_state(saga_id)).waiting
        print(f"order {order_id}: waiting for {waiting.step_name if waiting else 'nothing'}")

    async def show(order_id: str) -> SagaState:
        state = await storage.load_saga_state(saga_ids[order_id])
        print(f"order {order_id}: saga {state.status.value}, order {shop.orders[order_id]}")
        if state.error:
            print(f"  error: {state.error}")
        return state

    # t-1: reserved, confirmed.
    await place("t-1", quantity=3)
    await relay.pump()
    await show("t-1")

    # t-2: 8 asked, 7 left: rejected; deliver records the failure instead of raising.
    await place("t-2", quantity=8)
    await relay.pump()
    await show("t-2")

    # t-3: no reply; the worker fires the timeout once the deadline has passed.
    inventory.online = False
    await place("t-3", quantity=2)
    await relay.pump()
    clock.advance(seconds=10)
    due_within_deadline = await worker.run_once()
    print(f"  10 s later the recovery worker took {due_within_deadline} saga(s)")
    clock.advance(seconds=21)
    due_after_deadline = await worker.run_once()
    print(f"  31 s later the recovery worker took {due_after_deadline} saga(s)")
    await show("t-3")

    print("the inventory is back")
    inventory.online = True
    [late] = await relay.pump()  # reserve then release; the late reply changes nothing
    print(f"  t-3 after the late reply: {late.status.value}")
    history = await storage.get_step_history(saga_ids["t-3"])
    for entry in history:
        print(f"  {entry.step_name:<17} {entry.action.value:<10} {entry.status.value}")
    print(f"sencha left: {inventory.stock['sencha']}")

    states = {order_id: await storage.load_saga_state(sid) for order_id, sid in saga_ids.items()}
    return TeaShopReport(
        statuses={order_id: state.status.value for order_id, state in states.items()},
        errors={order_id: state.error for order_id, state in states.items()},
        reservations={order_id: s.context["reservation_id"] for order_id, s in states.items()},
        orders=dict(shop.orders),
        commands=[(m.message_name, m.key or "") for m in storage.outbox.messages()],
        due_within_deadline=due_within_deadline,
        due_after_deadline=due_after_deadline,
        late_reply_status=late.status.value,
        timed_out_history=[(e.step_name, e.action.value, e.status.value) for e in history],
        stock_left=inventory.stock["sencha"],
    )


if __name__ == "__main__":
    asyncio.run(main())
