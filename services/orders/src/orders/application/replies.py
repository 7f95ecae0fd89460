"""Hand the inventory's replies to the order saga waiting for them.

Replies arrive on any instance; `SagaMediator.deliver` finds the saga by id
(the order id the reply carries), claims it and runs it on. A reply the saga
no longer waits for (a duplicate, or one after a timeout) changes nothing,
which makes redelivery harmless.

Once the reply's step is recorded, the rest of the pass (the payment, the
confirmation and the saga's end) runs in one unit of work
(`deliver(..., continue_in=...)`): the steps' own units of work join it, so
the payment's record, the order's confirmation and the saga's last write
commit together, one transaction where there were three. If it fails,
none of it is stored and the saga stands at the reply's write, which
recovery carries on from (the charge is idempotent, `PaymentPort`).
"""

from __future__ import annotations

import collections.abc
import contextlib
import logging
import typing
import uuid

import cqrs
from cqrs.events.event import NotificationEvent
from cqrs.saga.errors import SagaNotFoundError
from cqrs.saga.mediator import SagaMediator
from cqrs.saga.storage.protocol import ISagaStorage
from orders.application.ports import OrderChanges, UnitOfWorkFactory

__all__ = ("DeliverStockReply",)

logger = logging.getLogger("orders.replies")


class DeliverStockReply(cqrs.EventHandler[NotificationEvent[typing.Any]]):
    """Delivers a `stock_*` reply to the saga of the order it names.

    A reply naming no known order is logged and dropped: no retry could place
    it. `SagaConcurrencyError` (another worker keeps the saga) propagates, so
    the consumer delivers the reply again later.
    """

    def __init__(
        self, sagas: SagaMediator, unit_of_work: UnitOfWorkFactory, changes: OrderChanges
    ) -> None:
        self._sagas = sagas
        self._unit_of_work = unit_of_work
        self._changes = changes

    async def handle(self, event: NotificationEvent[typing.Any]) -> None:
        order_id = str(event.payload.order_id)
        try:
            saga_id = uuid.UUID(order_id)
        except ValueError:
            _drop(event, order_id)
            return
        try:
            state = await self._sagas.deliver(saga_id, event, continue_in=self._rest_of_pass)
        except SagaNotFoundError:
            _drop(event, order_id)
            return
        logger.info(
            "order %s: %s delivered; saga %s", order_id, event.event_name, state.status.value
        )

    @contextlib.asynccontextmanager
    async def _rest_of_pass(
        self, saga_id: uuid.UUID
    ) -> collections.abc.AsyncGenerator[ISagaStorage, None]:
        async with self._unit_of_work() as work:
            yield work.sagas
        # Committed: the storage's writes told other processes (a NOTIFY on PostgreSQL,
        # delivered on commit); this one's followers are woken here where they were not.
        await self._changes.changed(saga_id, notified=True)


def _drop(event: NotificationEvent[typing.Any], order_id: str) -> None:
    logger.warning("dropped %s %s: no order %r", event.event_name, event.event_id, order_id)
