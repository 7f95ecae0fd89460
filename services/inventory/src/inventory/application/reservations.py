"""The commands of the orders service: reserve an order's stock, release it.

Both arrive as notification events on `inventory.commands` and are handled
inside the consumer's transaction (inbox record, stock change and reply
commit together), through the `UnitOfWorkFactory` the handlers are given.
The wire models are the adapters' (`inventory.adapters.messages`); the
handlers read their payloads through the protocols below.

```
events.bind(ReserveStock, ReserveStockHandler)  # the wire event types
events.bind(ReleaseStock, ReleaseStockHandler)
```
"""

from __future__ import annotations

import logging
import typing

import cqrs
from inventory.application.ports import InventoryUnitOfWork, UnitOfWorkFactory
from inventory.domain import (
    InvalidOrderLinesError,
    OrderLine,
    Rejected,
    Reservation,
    Stock,
    release_order,
    reserve_order,
)

__all__ = (
    "ReleaseStockCommand",
    "ReleaseStockHandler",
    "ReserveStockCommand",
    "ReserveStockHandler",
)

logger = logging.getLogger("inventory.reservations")

#: A rule changing an order's reservations in their stock (`release_order`,
#: `sell_order`); it returns the reservations it changed.
OrderRule = typing.Callable[
    [typing.Iterable[Reservation], typing.Mapping[str, Stock]], tuple[Reservation, ...]
]


class ReserveStockCommand(typing.Protocol):
    """The payload of `reserve_stock`: hold all the order's lines, or nothing."""

    @property
    def order_id(self) -> str: ...

    def lines(self) -> typing.Sequence[OrderLine]:
        """The order's lines.

        Raises `InvalidOrderLinesError`, saying why, when the items break the
        contract: none or too many, a sku or quantity out of bounds.
        """
        ...


class ReleaseStockCommand(typing.Protocol):
    """The payload of `release_stock`: give back what the order holds."""

    @property
    def order_id(self) -> str: ...


class ReserveStockHandler(cqrs.EventHandler[cqrs.NotificationEvent[typing.Any]]):
    """Holds all the order's items and replies `stock_reserved`, or holds nothing and
    replies `stock_rejected`; an order that has reservations already gets
    `stock_reserved` again, with no change.

    Every command with an order id is answered: items that break the contract
    get `stock_rejected` (reason `invalid_items`) at once, as no retry could
    serve them, so the order is rejected now rather than after its timeout.
    """

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._unit_of_work = unit_of_work

    async def handle(self, event: cqrs.NotificationEvent[typing.Any]) -> None:
        command: ReserveStockCommand = event.payload
        order_id = command.order_id
        try:
            lines = command.lines()
        except InvalidOrderLinesError as exc:
            logger.warning("order %s: reserve_stock refused, %s", order_id, exc)
            async with self._unit_of_work() as work:
                work.replies.items_rejected(order_id)
            return
        async with self._unit_of_work() as work:
            # Stock first: whoever holds a sku's row decides about its units alone.
            stock = await work.stock.lock({line.sku for line in lines})
            existing = await work.reservations.of_order(order_id)
            outcome = reserve_order(order_id, lines, stock, existing)
            if isinstance(outcome, Rejected):
                work.replies.stock_rejected(order_id, outcome.skus)
                return
            await work.reservations.add(outcome.made, stock)
            work.replies.stock_reserved(order_id)


class ReleaseStockHandler(cqrs.EventHandler[cqrs.NotificationEvent[typing.Any]]):
    """Gives back what the order holds and replies `stock_released` (also when it
    held nothing: unknown and released orders are a no-op)."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._unit_of_work = unit_of_work

    async def handle(self, event: cqrs.NotificationEvent[typing.Any]) -> None:
        command: ReleaseStockCommand = event.payload
        order_id = command.order_id
        async with self._unit_of_work() as work:
            await apply_to_order(work, order_id, release_order)
            work.replies.stock_released(order_id)


async def apply_to_order(
    work: InventoryUnitOfWork, order_id: str, rule: OrderRule
) -> tuple[Reservation, ...]:
    """Apply `rule` to the order's reservations and their stock, save what it changed,
    and return the reservations it changed."""
    # The order's rows with their stock, so a second message about it waits and then sees
    # them done.
    reservations, stock = await work.reservations.lock_order(order_id)
    changed = rule(reservations, stock)
    await work.reservations.save(changed, stock)
    return changed
