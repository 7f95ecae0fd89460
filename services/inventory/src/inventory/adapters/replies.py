"""`OutboxReplies`: the application's replies, staged in the transactional outbox.

Each reply becomes a `stock_*` notification event on the replies topic, keyed
by the order id, added to the unit of work's session: it is written when the
stock change commits, and the outbox relay publishes it afterwards.

```
replies = OutboxReplies(session, outbox, topic="inventory.replies")
replies.stock_reserved("o-1")  # inserted by the session's commit
```
"""

from __future__ import annotations

import typing

from sqlalchemy.ext.asyncio import AsyncSession

from cqrs.events.event import NotificationEvent
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from inventory.adapters.messages import (
    INSUFFICIENT_STOCK,
    INVALID_ITEMS,
    STOCK_REJECTED,
    STOCK_RELEASED,
    STOCK_RESERVED,
    StockRejected,
    StockRejectedPayload,
    StockReleased,
    StockReleasedPayload,
    StockReserved,
    StockReservedPayload,
)

__all__ = ("OutboxReplies",)


class OutboxReplies:
    """`inventory.application.ports.Replies` on `outbox`, within `session`'s transaction."""

    def __init__(
        self, session: AsyncSession, outbox: SqlAlchemyOutboxedEventRepository, topic: str
    ) -> None:
        self._session = session
        self._outbox = outbox
        self._topic = topic

    def stock_reserved(self, order_id: str) -> None:
        payload = StockReservedPayload(order_id=order_id)
        self._add(StockReserved(event_name=STOCK_RESERVED, topic=self._topic, payload=payload))

    def stock_rejected(self, order_id: str, skus: typing.Sequence[str]) -> None:
        payload = StockRejectedPayload(
            order_id=order_id, reason=INSUFFICIENT_STOCK, skus=list(skus)
        )
        self._add(StockRejected(event_name=STOCK_REJECTED, topic=self._topic, payload=payload))

    def items_rejected(self, order_id: str) -> None:
        payload = StockRejectedPayload(order_id=order_id, reason=INVALID_ITEMS, skus=[])
        self._add(StockRejected(event_name=STOCK_REJECTED, topic=self._topic, payload=payload))

    def stock_released(self, order_id: str) -> None:
        payload = StockReleasedPayload(order_id=order_id)
        self._add(StockReleased(event_name=STOCK_RELEASED, topic=self._topic, payload=payload))

    def _add(self, event: NotificationEvent[typing.Any]) -> None:
        # The order id is the record key: one order's replies stay in order.
        self._outbox.add(self._session, event, key=event.payload.order_id)
