"""The orders service's outcomes: a confirmed order's units are sold, a rejected one's freed.

Both arrive as notification events on `orders.events` and are handled inside
the consumer's transaction (inbox record and stock change commit together).
The wire models are the adapters' (`inventory.adapters.messages`); the
handlers read their payloads through `OrderOutcome`.

A rejected order's stock is released by the saga's `release_stock` already;
releasing again here is a no-op then, and frees the units when that command
was lost to an outage.

```
events.bind(OrderConfirmed, OrderConfirmedHandler)  # the wire event types
events.bind(OrderRejected, OrderRejectedHandler)
```
"""

from __future__ import annotations

import logging
import typing

import cqrs
from inventory.application.ports import UnitOfWorkFactory
from inventory.application.reservations import OrderRule, apply_to_order
from inventory.domain import release_order, sell_order

__all__ = ("OrderConfirmedHandler", "OrderOutcome", "OrderRejectedHandler")

logger = logging.getLogger("inventory.sales")


class OrderOutcome(typing.Protocol):
    """The payload of `order_confirmed` and `order_rejected`."""

    @property
    def order_id(self) -> str: ...


class _OrderOutcomeHandler(cqrs.EventHandler[cqrs.NotificationEvent[typing.Any]]):
    """Applies `rule` to what the order holds, in one unit of work."""

    rule: typing.ClassVar[OrderRule]

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._unit_of_work = unit_of_work

    async def handle(self, event: cqrs.NotificationEvent[typing.Any]) -> None:
        outcome: OrderOutcome = event.payload
        async with self._unit_of_work() as work:
            changed = await apply_to_order(work, outcome.order_id, type(self).rule)
        logger.debug(
            "order %s: %s changed %d reservations",
            outcome.order_id,
            type(self).__name__,
            len(changed),
        )


class OrderConfirmedHandler(_OrderOutcomeHandler):
    """Sells what the order holds (nothing when it holds nothing: unknown, released or
    sold already)."""

    rule = staticmethod(sell_order)


class OrderRejectedHandler(_OrderOutcomeHandler):
    """Releases what the order still holds (usually nothing: `release_stock` came first)."""

    rule = staticmethod(release_order)
