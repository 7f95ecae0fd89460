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
"""

from __future__ import annotations

import typing

import pydantic

import cqrs
from orders.application.contract import CustomerId, Quantity, Sku, UnitPrice
from orders.application.errors import OrderRefusedError
from orders.application.ports import SagaLauncher, UnitOfWorkFactory
from orders.application.saga import OrderSagaContext
from orders.application.screening import OrderScreening, Screening, ScreenOrder
from orders.domain.limits import MAX_ORDER_ITEMS
from orders.domain.order import Order, OrderItem, OrderStatus

__all__ = ("PlaceOrder", "PlaceOrderItem", "OrderPlaced", "PlaceOrderHandler")


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


class PlaceOrderHandler(cqrs.RequestHandler[PlaceOrder, OrderPlaced]):
    """Screens the order, then stores it, its saga and the saga's first pass in one
    transaction.

    Raises `InvalidOrderError` when the order breaks a rule of the domain,
    `OrderRefusedError` when a screening rule refuses it.
    """

    def __init__(
        self, unit_of_work: UnitOfWorkFactory, sagas: SagaLauncher, screening: OrderScreening
    ) -> None:
        self._unit_of_work = unit_of_work
        self._sagas = sagas
        self._screening = screening

    async def handle(self, request: PlaceOrder) -> OrderPlaced:
        order = Order.place(
            request.customer_id,
            (OrderItem(item.sku, item.quantity, item.unit_price) for item in request.items),
        )
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
        async with self._unit_of_work() as work:
            await work.orders.add(order)
            # The saga's first pass (the order opened, reserve_stock staged in the outbox)
            # commits with the order: OpenOrder's unit of work joins this one.
            await self._sagas.start(context, context.saga_id, storage=work.sagas)
        return OrderPlaced(order_id=context.order_id, status=order.status, screening=screening)
