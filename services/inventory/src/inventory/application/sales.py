"""The orders service's outcomes: a confirmed order's units are sold, a rejected one's freed.

Both arrive as notification events on `orders.events` and are handled inside
the consumer's transaction (inbox record and stock change commit together).
The wire models are the adapters' (`inventory.adapters.messages`); the
handlers read their payloads through `OrderOutcome` (and `ConfirmedOrder`).

`order_confirmed` carries the order's lines and unit prices (an event-carried
state transfer), so the sale also adds each sku's amount to its revenue: the
inventory's own copy of what orders priced, read by the stock view without a
call to orders. A confirmation without lines (sent before they were added)
sells the units and adds no revenue.

A rejected order's stock is released by the saga's `release_stock` already;
releasing again here is a no-op then, and frees the units when that command
was lost to an outage.

```
events.bind(OrderConfirmed, OrderConfirmedHandler)  # the wire event types
events.bind(OrderRejected, OrderRejectedHandler)
```
"""

from __future__ import annotations

import functools
import logging
import typing

import cqrs
from inventory.application.ports import UnitOfWorkFactory
from inventory.application.reservations import OrderRule, apply_to_order
from inventory.domain import release_order, sell_order

__all__ = ("ConfirmedOrder", "OrderConfirmedHandler", "OrderOutcome", "OrderRejectedHandler")

logger = logging.getLogger("inventory.sales")


class OrderOutcome(typing.Protocol):
    """The payload of `order_confirmed` and `order_rejected`."""

    @property
    def order_id(self) -> str: ...


class ConfirmedOrder(OrderOutcome, typing.Protocol):
    """The payload of `order_confirmed`: the outcome, with what the order paid per sku."""

    def revenue_cents(self) -> typing.Mapping[str, int]:
        """The order's amount per sku, in cents (empty when the message has no lines)."""
        ...


class _OrderOutcomeHandler(cqrs.EventHandler[cqrs.NotificationEvent[typing.Any]]):
    """Applies `rule` to what the order holds, in one unit of work."""

    rule: typing.ClassVar[OrderRule]

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._unit_of_work = unit_of_work

    def rule_for(self, outcome: typing.Any) -> OrderRule:
        """The rule to apply for this message's `outcome` (the payload)."""
        del outcome
        return type(self).rule

    async def handle(self, event: cqrs.NotificationEvent[typing.Any]) -> None:
        outcome: OrderOutcome = event.payload
        async with self._unit_of_work() as work:
            changed = await apply_to_order(work, outcome.order_id, self.rule_for(outcome))
        logger.debug(
            "order %s: %s changed %d reservations",
            outcome.order_id,
            type(self).__name__,
            len(changed),
        )


class OrderConfirmedHandler(_OrderOutcomeHandler):
    """Sells what the order holds (nothing when it holds nothing: unknown, released or
    sold already), adding each sku's amount in the message to its revenue."""

    rule = staticmethod(sell_order)

    def rule_for(self, outcome: typing.Any) -> OrderRule:
        confirmed: ConfirmedOrder = outcome
        return functools.partial(sell_order, revenue_cents=confirmed.revenue_cents())


class OrderRejectedHandler(_OrderOutcomeHandler):
    """Releases what the order still holds (usually nothing: `release_stock` came first)."""

    rule = staticmethod(release_order)
