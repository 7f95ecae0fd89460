"""Hand the inventory's replies to the order saga waiting for them.

Replies arrive on any instance; `SagaMediator.deliver` finds the saga by id
(the order id the reply carries), claims it and runs it on. A reply the saga
no longer waits for (a duplicate, or one after a timeout) changes nothing,
which makes redelivery harmless.
"""

from __future__ import annotations

import logging
import typing
import uuid

import cqrs
from cqrs.events.event import NotificationEvent
from cqrs.saga.errors import SagaNotFoundError
from cqrs.saga.mediator import SagaMediator

__all__ = ("DeliverStockReply",)

logger = logging.getLogger("orders.replies")


class DeliverStockReply(cqrs.EventHandler[NotificationEvent[typing.Any]]):
    """Delivers a `stock_*` reply to the saga of the order it names.

    A reply naming no known order is logged and dropped: no retry could place
    it. `SagaConcurrencyError` (another worker keeps the saga) propagates, so
    the consumer delivers the reply again later.
    """

    def __init__(self, sagas: SagaMediator) -> None:
        self._sagas = sagas

    async def handle(self, event: NotificationEvent[typing.Any]) -> None:
        order_id = str(event.payload.order_id)
        try:
            saga_id = uuid.UUID(order_id)
        except ValueError:
            _drop(event, order_id)
            return
        try:
            state = await self._sagas.deliver(saga_id, event)
        except SagaNotFoundError:
            _drop(event, order_id)
            return
        logger.info(
            "order %s: %s delivered; saga %s", order_id, event.event_name, state.status.value
        )


def _drop(event: NotificationEvent[typing.Any], order_id: str) -> None:
    logger.warning("dropped %s %s: no order %r", event.event_name, event.event_id, order_id)
