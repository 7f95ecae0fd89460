"""Place an order: screen it, store it pending, and create its saga and run the saga's
first pass in the same transaction.

The screening (`orders.application.screening`) runs first: an order a rule
refuses is not stored (`OrderRefusedError`), and a placed one says which rule
accepted it.

The order, its saga and the saga's first pass (up to the `reserve_stock`
command, staged in the outbox) commit together, in one transaction: no order is
left without a saga to decide it, no saga without its order, and no saga
created but not started. The inventory's reply takes the saga on from there,
and the recovery worker times it out should no reply come.

`PlaceOrderOnce` places an order under the client's idempotency key: the key
is claimed first, in the same transaction, and the answer saved with it. A
retry under the key (its answer lost, or the process killed after the commit)
gets that first answer and places nothing; the same key with another body is
an `IdempotencyConflictError`; a retry of a request whose transaction never
committed (a refused order, a crash before the commit) is new. While a
request holds the key uncommitted, its retry waits for it and then gets its
answer. Keys are per customer: `scope_of`.
"""

from __future__ import annotations

import hashlib
import typing

import pydantic

import cqrs
from cqrs.idempotency import IdempotentRequest
from orders.application.contract import CustomerId, Quantity, Sku, UnitPrice
from orders.application.errors import OrderRefusedError
from orders.application.ports import SagaLauncher, UnitOfWorkFactory
from orders.application.saga import OrderSagaContext
from orders.application.screening import OrderScreening, Screening, ScreenOrder
from orders.domain.limits import MAX_ORDER_ITEMS
from orders.domain.order import Order, OrderItem, OrderStatus

__all__ = (
    "PlaceOrder",
    "PlaceOrderItem",
    "PlaceOrderOnce",
    "OrderPlaced",
    "PlaceOrderHandler",
    "PlaceOrderOnceHandler",
    "scope_of",
)


class PlaceOrderItem(pydantic.BaseModel):
    """One line of a new order, within the contract's bounds (the domain checks the
    rules again: `OrderItem`)."""

    sku: Sku
    quantity: Quantity
    unit_price: UnitPrice


class OrderPlaced(cqrs.Response):
    """The new order's id and status (always `pending`: the saga decides later), and the
    screening's decision."""

    order_id: str
    status: OrderStatus
    screening: Screening


class PlaceOrder(cqrs.Request[OrderPlaced]):
    """Place an order for `customer_id`.

    >>> PlaceOrder.model_validate(
    ...     {"customer_id": "c-1", "items": [{"sku": "tea", "quantity": 1, "unit_price": "2.50"}]}
    ... ).items[0].unit_price
    Decimal('2.50')
    """

    customer_id: CustomerId
    items: typing.Annotated[
        list[PlaceOrderItem], pydantic.Field(min_length=1, max_length=MAX_ORDER_ITEMS)
    ]


def scope_of(customer_id: str) -> str:
    """The scope of `customer_id`'s idempotency keys: `orders:` and the SHA-256 of the id,
    printable and short whatever the id holds.

    >>> scope_of("c-1")[:15]
    'orders:a6f7ef47'
    """
    return "orders:" + hashlib.sha256(customer_id.encode()).hexdigest()


class PlaceOrderOnce(cqrs.Request[OrderPlaced]):
    """Place `order` once under the client's idempotency `key` (`fingerprint`: the request
    body's, `cqrs.idempotency.fingerprint`).

    >>> order = PlaceOrder.model_validate(
    ...     {"customer_id": "c-1", "items": [{"sku": "tea", "quantity": 1, "unit_price": "2.50"}]}
    ... )
    >>> PlaceOrderOnce(order=order, key="k-1", fingerprint="f00d").request.key
    'k-1'
    """

    order: PlaceOrder
    key: str
    fingerprint: str

    @property
    def request(self) -> IdempotentRequest:
        """The idempotency store's request: the key in the customer's scope.

        Raises `InvalidIdempotencyKeyError` for a key the store cannot keep.
        """
        return IdempotentRequest(scope_of(self.order.customer_id), self.key, self.fingerprint)


class _Placing:
    """What both handlers share: place an order, under an idempotency key or not."""

    def __init__(
        self, unit_of_work: UnitOfWorkFactory, sagas: SagaLauncher, screening: OrderScreening
    ) -> None:
        self._unit_of_work = unit_of_work
        self._sagas = sagas
        self._screening = screening

    async def _place(self, request: PlaceOrder, key: IdempotentRequest | None) -> OrderPlaced:
        order = Order.place(
            request.customer_id,
            (OrderItem(item.sku, item.quantity, item.unit_price) for item in request.items),
        )
        async with self._unit_of_work() as work:
            if key is not None:
                stored = await work.idempotency.claim(key)
                if stored is not None:
                    return OrderPlaced.model_validate_json(stored)  # placed before: no more
            # Screened in the transaction, after the claim: a retry of a placed order gets
            # its first answer even if a rule would now refuse it.
            screening = await self._screening.send(
                ScreenOrder(
                    customer_id=order.customer_id,
                    skus=[item.sku for item in order.items],
                    total=order.total,
                )
            )
            if not screening.accepted:
                raise OrderRefusedError(screening.rule, screening.detail)
            context = OrderSagaContext.of(order)
            await work.orders.add(order)
            # The saga's first pass (the order opened, reserve_stock staged in the outbox)
            # commits with the order: OpenOrder's unit of work joins this one. Nobody sees
            # the saga before that commit, so it needs no claim (nor its release).
            await self._sagas.start(
                context, context.saga_id, storage=work.sagas, hidden_until_commit=True
            )
            placed = OrderPlaced(
                order_id=context.order_id, status=order.status, screening=screening
            )
            if key is not None:
                await work.idempotency.save(key, placed.model_dump_json())
        return placed


class PlaceOrderHandler(_Placing, cqrs.RequestHandler[PlaceOrder, OrderPlaced]):
    """Screens the order, then stores it, its saga and the saga's first pass in one
    transaction.

    Raises `InvalidOrderError` when the order breaks a rule of the domain,
    `OrderRefusedError` when a screening rule refuses it.
    """

    async def handle(self, request: PlaceOrder) -> OrderPlaced:
        return await self._place(request, None)


class PlaceOrderOnceHandler(_Placing, cqrs.RequestHandler[PlaceOrderOnce, OrderPlaced]):
    """`PlaceOrderHandler` under an idempotency key: the key is claimed, and the answer
    saved, in the transaction that stores the order.

    Raises what `PlaceOrderHandler` does, `IdempotencyConflictError` for the key used
    with another body and `InvalidIdempotencyKeyError` for a key that cannot be kept.
    """

    async def handle(self, request: PlaceOrderOnce) -> OrderPlaced:
        return await self._place(request.order, request.request)
