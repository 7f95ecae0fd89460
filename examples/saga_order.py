"""An order saga: steps that undo themselves, a fallback step, and crash recovery.

A print shop sells posters made to order. Taking an order is three steps,
each of which changes something outside the shop's own database:

1. `ReservePaperStep` sets sheets of paper aside (undone by putting them back);
2. `ChargeCustomerStep` charges the card through a payment gateway, which the
   step receives in `__init__` (a protocol bound to an implementation in the
   `di.Container` with `di.bind_by_type(di.dependent.Dependent(Impl,
   scope="request"), Protocol)`); undone by a refund;
3. shipping, as `Fallback(step=BookCourierStep, fallback=PostOfficeStep,
   circuit_breaker=AioBreakerAdapter(fail_max=2, timeout_duration=60))`: the
   courier's API when it answers, the post office counter when it does not;
   after two failures in a row the breaker opens and the courier is not even
   tried for a minute.

The saga is bound to its context with `cqrs.SagaMap` and run with
`mediator.stream(context=..., saga_id=...)`, which yields each step as it
completes. A declined card fails the saga: the paper already reserved is put
back (the failed charge itself is not "undone") and the caller gets the
gateway's error. Finally a worker is killed in the middle of a charge; the
saga is left `running` in the storage, and `recover_saga` finishes it from the
stored context without reserving the paper a second time.
`storage.get_step_history(saga_id)` lists each step once it is done: the charge
the killed worker had begun left no entry; the one recovery ran is there.

The breaker belongs to the saga class, so its state lasts as long as the
process, as it would in a service: run `main()` once per process.

Run: `python examples/saga_order.py`
"""

from __future__ import annotations

import asyncio
import dataclasses
import typing
import uuid

import di
import di.dependent

import cqrs
from cqrs.adapters.circuit_breaker import AioBreakerAdapter
from cqrs.response import Response
from cqrs.saga import bootstrap
from cqrs.saga.fallback import Fallback
from cqrs.saga.models import SagaContext
from cqrs.saga.recovery import recover_saga
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage

SHEETS_IN_STOCK = 100


@dataclasses.dataclass
class Shop:
    """Everything outside the saga storage: paper, card charges, the courier."""

    paper: int = SHEETS_IN_STOCK
    charges: dict[str, int] = dataclasses.field(default_factory=dict[str, int])  # order id -> cents
    courier_online: bool = True
    courier_calls: int = 0
    kill_worker_during_charge: set[str] = dataclasses.field(default_factory=set[str])


shop = Shop()


class PaymentDeclined(Exception):
    pass


class CourierUnavailable(ConnectionError):
    pass


class WorkerKilled(BaseException):
    """Stands in for the process dying (deploy, OOM kill): not a step failure,
    so nothing is compensated and the saga stays `running` for recovery."""


# --- the saga's data ---------------------------------------------------------------


@dataclasses.dataclass
class PosterOrderContext(SagaContext):
    order_id: str
    sheets: int
    amount_cents: int
    card: str
    payment_id: str | None = None
    tracking: str | None = None


class PaperReserved(Response):
    sheets_left: int


class CustomerCharged(Response):
    payment_id: str


class ShipmentBooked(Response):
    carrier: str
    tracking: str


# --- the payment gateway, injected into the charging step ---------------------------


class PaymentGatewayProtocol(typing.Protocol):
    async def charge(self, order_id: str, card: str, amount_cents: int) -> str: ...

    async def refund(self, payment_id: str) -> None: ...


class CardGateway:
    async def charge(self, order_id: str, card: str, amount_cents: int) -> str:
        if order_id in shop.kill_worker_during_charge:
            shop.kill_worker_during_charge.discard(order_id)
            raise WorkerKilled(f"worker killed while charging {order_id}")
        if card.endswith("0000"):
            raise PaymentDeclined(f"card {card} declined for order {order_id}")
        shop.charges[order_id] = amount_cents
        return f"pay-{order_id}"

    async def refund(self, payment_id: str) -> None:
        shop.charges.pop(payment_id.removeprefix("pay-"), None)


# --- the steps -----------------------------------------------------------------------


class ReservePaperStep(SagaStepHandler[PosterOrderContext, PaperReserved]):
    async def act(
        self, context: PosterOrderContext
    ) -> SagaStepResult[PosterOrderContext, PaperReserved]:
        shop.paper -= context.sheets
        return self._generate_step_result(PaperReserved(sheets_left=shop.paper))

    async def compensate(self, context: PosterOrderContext) -> None:
        shop.paper += context.sheets


class ChargeCustomerStep(SagaStepHandler[PosterOrderContext, CustomerCharged]):
    def __init__(self, gateway: PaymentGatewayProtocol) -> None:
        self._gateway = gateway

    async def act(
        self, context: PosterOrderContext
    ) -> SagaStepResult[PosterOrderContext, CustomerCharged]:
        context.payment_id = await self._gateway.charge(
            context.order_id, context.card, context.amount_cents
        )
        return self._generate_step_result(CustomerCharged(payment_id=context.payment_id))

    async def compensate(self, context: PosterOrderContext) -> None:
        if context.payment_id is not None:
            await self._gateway.refund(context.payment_id)
            context.payment_id = None


class BookCourierStep(SagaStepHandler[PosterOrderContext, ShipmentBooked]):
    async def act(
        self, context: PosterOrderContext
    ) -> SagaStepResult[PosterOrderContext, ShipmentBooked]:
        shop.courier_calls += 1
        if not shop.courier_online:
            raise CourierUnavailable("courier API timed out")
        context.tracking = f"courier-{context.order_id}"
        return self._generate_step_result(
            ShipmentBooked(carrier="courier", tracking=context.tracking)
        )


class PostOfficeStep(SagaStepHandler[PosterOrderContext, ShipmentBooked]):
    async def act(
        self, context: PosterOrderContext
    ) -> SagaStepResult[PosterOrderContext, ShipmentBooked]:
        context.tracking = f"post-{context.order_id}"
        return self._generate_step_result(ShipmentBooked(carrier="post", tracking=context.tracking))


class PosterOrderSaga(Saga[PosterOrderContext]):
    steps = [
        ReservePaperStep,
        ChargeCustomerStep,
        Fallback(
            step=BookCourierStep,
            fallback=PostOfficeStep,
            circuit_breaker=AioBreakerAdapter(fail_max=2, timeout_duration=60),
        ),
    ]


# --- wiring --------------------------------------------------------------------------


def setup_di() -> di.Container:
    container = di.Container()
    container.bind(
        di.bind_by_type(
            di.dependent.Dependent(CardGateway, scope="request"), PaymentGatewayProtocol
        )
    )
    return container


def sagas_mapper(m: cqrs.SagaMap) -> None:
    m.bind(PosterOrderContext, PosterOrderSaga)


def poster_order(order_id: str, card: str = "4242-4242") -> PosterOrderContext:
    return PosterOrderContext(order_id=order_id, sheets=10, amount_cents=2500, card=card)


@dataclasses.dataclass
class ShopReport:
    steps_by_order: dict[str, list[str]]  # the steps each order completed, in order
    courier_calls: int  # how often the courier's API was actually called
    declined_error: str  # what the caller got for the declined card
    declined_status: str  # that saga's final status
    crashed_status: str  # the killed order's status before recovery
    recovered_status: str  # ... and after
    recovered_history: list[tuple[str, str, str]]  # (step, action, status) of that order
    paper_left: int
    charges: dict[str, int]


async def main() -> ShopReport:
    global shop
    shop = Shop()
    container = setup_di()
    mediator = bootstrap.bootstrap(
        di_container=container, sagas_mapper=sagas_mapper, saga_storage=MemorySagaStorage()
    )
    storage = mediator.storage
    steps_by_order: dict[str, list[str]] = {}

    # p-1 finds the courier up. Then it goes down: p-2 and p-3 fall back to the post
    # office and open the breaker, so p-4 goes to the post office without trying.
    for order_id in ("p-1", "p-2", "p-3", "p-4"):
        shop.courier_online = order_id == "p-1"
        ctx = poster_order(order_id)
        print(f"order {order_id}:")
        async for step in mediator.stream(context=ctx, saga_id=uuid.uuid4()):
            print(f"  {step.step_type.__name__}")
            steps_by_order.setdefault(order_id, []).append(step.step_type.__name__)

    async def take(ctx: PosterOrderContext, saga_id: uuid.UUID) -> None:
        print(f"order {ctx.order_id}:")
        done = steps_by_order.setdefault(ctx.order_id, [])
        async for step in mediator.stream(context=ctx, saga_id=saga_id):
            print(f"  {step.step_type.__name__}")
            done.append(step.step_type.__name__)

    declined_id = uuid.uuid4()
    try:
        await take(poster_order("p-5", card="4000-0000"), declined_id)
    except PaymentDeclined as exc:
        declined_error = str(exc)
        print(f"  failed: {exc}; the paper went back on the shelf")
    else:
        declined_error = ""
    declined_status = (await storage.load_saga_state(declined_id)).status.value

    shop.kill_worker_during_charge.add("p-6")
    saga_id = uuid.uuid4()
    try:
        await take(poster_order("p-6"), saga_id)
    except WorkerKilled as exc:
        print(f"  {exc}")
    crashed_status = (await storage.load_saga_state(saga_id)).status.value

    # Later, another process (or a SagaRecoveryWorker) finishes the saga.
    status = await recover_saga(
        saga=PosterOrderSaga(),
        saga_id=saga_id,
        context_builder=PosterOrderContext,
        container=container,
        storage=storage,
    )
    print(f"order p-6 recovered: {status.value}")
    history = await storage.get_step_history(saga_id)
    for entry in history:
        print(
            f"  {entry.timestamp:%H:%M:%S.%f} {entry.step_name:<18} "
            f"{entry.action.value:<10} {entry.status.value}"
        )

    return ShopReport(
        steps_by_order=steps_by_order,
        courier_calls=shop.courier_calls,
        declined_error=declined_error,
        declined_status=declined_status,
        crashed_status=crashed_status,
        recovered_status=status.value,
        recovered_history=[(e.step_name, e.action.value, e.status.value) for e in history],
        paper_left=shop.paper,
        charges=dict(shop.charges),
    )


if __name__ == "__main__":
    asyncio.run(main())
