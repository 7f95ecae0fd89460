"""The order saga: reserve the stock, charge the payment, confirm the order.

```
OpenOrder      act: check the order is stored and pending
               compensate: mark it rejected, with the reason the context holds
ReserveStock   messaging: send reserve_stock, wait for stock_reserved / stock_rejected
               (whose reason, insufficient_stock or invalid_items, becomes the order's)
               compensate: send release_stock (not waited for)
ChargePayment  act: charge the total            compensate: refund it
  or, when the primary provider is unavailable (or its circuit breaker open):
ChargeBackupPayment  the same with the backup provider
ConfirmOrder   act: mark the order confirmed
```

The payment step is a `cqrs.saga.fallback.Fallback` of two providers behind
an `AioBreakerAdapter`: after `PAYMENT_BREAKER_FAILURES` failures in a row the
primary is not even tried for `PAYMENT_BREAKER_RESET` seconds. A declined
charge is no failure of the provider: it fails the saga, on either provider.
When the backup takes the charge, its step records a `PaymentFellBack` domain
event; the saga mediator (and the recovery worker, for a resumed pass) hands
it to `ReportPaymentFallback`, which says so in the log: a `SyncEventHandler`,
since writing a log line does no I/O worth awaiting.

The order's outcome is written by the saga's own steps, so it is as durable as
the saga: `ConfirmOrder` confirms, and when anything fails the compensation
runs back to `OpenOrder`, which rejects. A crash at any point leaves the saga
to the recovery worker, which carries it to one of the two ends. Each step
that fails records why in the context (`rejection_reason`) before raising;
the engine stores the context with the failure, so the reason survives too.

The saga id is the order id: the inventory's replies carry the order id, and
that is all the reply consumer needs to deliver them.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import logging
import typing
import uuid

from cqrs.adapters.circuit_breaker import AioBreakerAdapter
from cqrs.events.event import DomainEvent, IEvent, NotificationEvent
from cqrs.events.event_handler import SyncEventHandler
from cqrs.saga.fallback import Fallback
from cqrs.saga.messaging import MessagingStep
from cqrs.saga.models import SagaContext
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from orders.application.errors import (
    OrderNotFoundError,
    PaymentDeclinedError,
    PaymentUnavailableError,
    StockRejectedError,
)
from orders.application.inventory import (
    STOCK_REJECTED,
    STOCK_RESERVED,
    InventoryCommands,
    StockLine,
)
from orders.application.ports import (
    BackupPaymentPort,
    PaymentPort,
    UnitOfWork,
    UnitOfWorkFactory,
)
from orders.domain.errors import OrderStateError
from orders.domain.order import Order, RejectionReason

__all__ = (
    "OrderSagaContext",
    "SagaTimeouts",
    "OpenOrder",
    "ReserveStock",
    "ChargePayment",
    "ChargeBackupPayment",
    "ConfirmOrder",
    "OrderSaga",
    "PaymentFellBack",
    "ReportPaymentFallback",
    "PAYMENT_BREAKER",
    "PAYMENT_BREAKER_FAILURES",
    "PAYMENT_BREAKER_RESET",
)

logger = logging.getLogger("orders.payment")

#: Failures in a row of the primary payment provider that open its breaker.
PAYMENT_BREAKER_FAILURES: typing.Final = 3
#: Seconds an open breaker keeps calls away from the primary before one trial call.
PAYMENT_BREAKER_RESET: typing.Final = 30.0
#: The primary payment provider's circuit breaker (one per process).
PAYMENT_BREAKER: typing.Final = AioBreakerAdapter(
    fail_max=PAYMENT_BREAKER_FAILURES, timeout_duration=PAYMENT_BREAKER_RESET
)


@dataclasses.dataclass
class OrderSagaContext(SagaContext):
    """What the steps share; stored with the saga after every step.

    >>> from decimal import Decimal
    >>> from orders.domain.order import OrderItem
    >>> order = Order.place("c-1", [OrderItem("tea", 2, Decimal("3.50"))])
    >>> context = OrderSagaContext.of(order)
    >>> context.lines, context.total
    ([StockLine(sku='tea', quantity=2)], Decimal('7.00'))
    """

    order_id: str
    customer_id: str
    lines: list[StockLine]
    total: decimal.Decimal
    #: Set by the stock_reserved reply: the stock is held for the order.
    stock_reserved: bool = False
    #: Why the order is to be rejected, set by the step that fails.
    rejection_reason: RejectionReason | None = None

    @classmethod
    def of(cls, order: Order) -> OrderSagaContext:
        """The starting context of `order`'s saga."""
        return cls(
            order_id=str(order.order_id),
            customer_id=order.customer_id,
            lines=[StockLine(item.sku, item.quantity) for item in order.items],
            total=order.total,
        )

    @property
    def saga_id(self) -> uuid.UUID:
        """The saga's id, which is the order's."""
        return uuid.UUID(self.order_id)


@dataclasses.dataclass(frozen=True)
class SagaTimeouts:
    """How long the saga waits for the inventory's reply to `reserve_stock`."""

    reply: datetime.timedelta = datetime.timedelta(seconds=30)


class OpenOrder(SagaStepHandler[OrderSagaContext, None]):
    """Checks the order is there and pending; compensating it rejects the order."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._unit_of_work = unit_of_work

    async def act(self, context: OrderSagaContext) -> SagaStepResult[OrderSagaContext, None]:
        async with self._unit_of_work() as work:
            order = await _load(work, context)
        if order.is_decided:
            raise OrderStateError(f"order {order.order_id} is {order.status.value} already")
        return self._generate_step_result(None)

    async def compensate(self, context: OrderSagaContext) -> None:
        # No reason recorded means no step expected the failure: a bug or an outage.
        reason = context.rejection_reason or RejectionReason.INTERNAL_ERROR
        async with self._unit_of_work() as work:
            order = await _load(work, context)
            order.reject(reason)
            await work.orders.update(order)


class ReserveStock(MessagingStep[OrderSagaContext, None]):
    """Asks the inventory to reserve every item; a rejection or a timeout fails the saga."""

    replies = (STOCK_RESERVED, STOCK_REJECTED)

    def __init__(self, inventory: InventoryCommands, timeouts: SagaTimeouts) -> None:
        self._inventory = inventory
        # The engine reads the deadline from the step instance: the setting wins
        # over the class default.
        self.timeout = timeouts.reply  # pyright: ignore[reportAttributeAccessIssue]

    async def command(
        self, context: OrderSagaContext, saga_id: uuid.UUID
    ) -> NotificationEvent[typing.Any]:
        return self._inventory.reserve_stock(context.order_id, context.lines)

    async def on_reply(
        self, context: OrderSagaContext, reply: NotificationEvent[typing.Any]
    ) -> SagaStepResult[OrderSagaContext, None]:
        if reply.event_name == STOCK_REJECTED:
            # The reply's reason is one of the contract's, which `RejectionReason` names too.
            context.rejection_reason = RejectionReason(reply.payload.reason)
            raise StockRejectedError(context.order_id, reply.payload.skus)
        context.stock_reserved = True
        return self._generate_step_result(None)

    async def compensation_command(
        self, context: OrderSagaContext, saga_id: uuid.UUID
    ) -> NotificationEvent[typing.Any]:
        if not context.stock_reserved and context.rejection_reason is None:
            # Undone without a stock_reserved reply: only a timeout does that (a
            # stock_rejected reply fails the step, which is then not undone).
            context.rejection_reason = RejectionReason.INVENTORY_TIMEOUT
        # Sent even after a timeout, as the reservation may have happened anyway.
        return self._inventory.release_stock(context.order_id)

    def partition_key(self, context: OrderSagaContext, saga_id: uuid.UUID) -> str:
        # The contract keys inventory commands by order id (the saga id too, here).
        return context.order_id


class ChargePayment(SagaStepHandler[OrderSagaContext, None]):
    """Charges the order's total; compensating it refunds."""

    def __init__(self, payment: PaymentPort) -> None:
        self._payment = payment

    async def act(self, context: OrderSagaContext) -> SagaStepResult[OrderSagaContext, None]:
        try:
            await self._payment.charge(context.order_id, context.customer_id, context.total)
        except PaymentDeclinedError:
            context.rejection_reason = RejectionReason.PAYMENT_DECLINED
            raise
        return self._generate_step_result(None)

    async def compensate(self, context: OrderSagaContext) -> None:
        await self._payment.refund(context.order_id, context.total)


class PaymentFellBack(DomainEvent):
    """The primary payment provider failed (or its breaker was open) and the backup
    took the order's charge: recorded by `ChargeBackupPayment`.

    >>> PaymentFellBack(order_id="o-1", total=decimal.Decimal("4.00")).total
    Decimal('4.00')
    """

    order_id: str
    total: decimal.Decimal


class ChargeBackupPayment(ChargePayment):
    """`ChargePayment` with the backup provider: the fallback of the payment step.

    A charge it takes records `PaymentFellBack`.
    """

    def __init__(self, payment: BackupPaymentPort) -> None:
        super().__init__(payment)
        self._events: list[IEvent] = []

    @property
    def events(self) -> typing.Sequence[IEvent]:
        return self._events

    async def act(self, context: OrderSagaContext) -> SagaStepResult[OrderSagaContext, None]:
        result = await super().act(context)
        self._events.append(PaymentFellBack(order_id=context.order_id, total=context.total))
        return result


class ReportPaymentFallback(SyncEventHandler[PaymentFellBack]):
    """Says in the log that the backup provider took a charge: the primary is in trouble.

    A sync handler: the event dispatch calls it on the event loop, not awaited.

    >>> ReportPaymentFallback().handle(PaymentFellBack(order_id="o-1", total=decimal.Decimal(4)))
    """

    def handle(self, event: PaymentFellBack) -> None:
        logger.warning(
            "order %s: the backup payment provider took the charge of %s (the primary failed)",
            event.order_id,
            event.total,
        )


class ConfirmOrder(SagaStepHandler[OrderSagaContext, None]):
    """Marks the order confirmed: the saga's last step."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._unit_of_work = unit_of_work

    async def act(self, context: OrderSagaContext) -> SagaStepResult[OrderSagaContext, None]:
        async with self._unit_of_work() as work:
            order = await _load(work, context)
            order.confirm()
            await work.orders.update(order)
        return self._generate_step_result(None)


class OrderSaga(Saga[OrderSagaContext]):
    """Reserve, charge, confirm; on failure undo in reverse and reject the order."""

    steps = (
        OpenOrder,
        ReserveStock,
        Fallback(
            step=ChargePayment,
            fallback=ChargeBackupPayment,
            circuit_breaker=PAYMENT_BREAKER,
            failure_exceptions=(PaymentUnavailableError,),
        ),
        ConfirmOrder,
    )


async def _load(work: UnitOfWork, context: OrderSagaContext) -> Order:
    order = await work.orders.get(context.saga_id)
    if order is None:
        raise OrderNotFoundError(context.order_id)
    return order
