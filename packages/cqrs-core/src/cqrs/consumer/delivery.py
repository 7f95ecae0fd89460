"""`Delivery`: the consumed record an event handler is handling, and where it came from.

A consumer sets it around each call of the mediator, so an event handler can
reach the record (its partition, offset, headers) and the open transaction's
session without new parameters:

```
class ReserveStock(cqrs.EventHandler[cqrs.NotificationEvent[OrderPlaced]]):
    async def handle(self, event: cqrs.NotificationEvent[OrderPlaced]) -> None:
        delivery = current_delivery()
        delivery.session.add(Reservation(order_id=event.payload.order_id))
```

Outside a handler there is no delivery:

>>> current_delivery()
Traceback (most recent call last):
    ...
cqrs.exceptions.NoDeliveryError: no consumed record is being handled here; ...
"""

from __future__ import annotations

import collections.abc
import contextlib
import contextvars
import dataclasses
import typing
import uuid

from cqrs.exceptions import NoDeliveryError

__all__ = ("Delivery", "NoDeliveryError", "current_delivery", "delivering")


@dataclasses.dataclass(frozen=True)
class Delivery:
    """The record being handled, visible to handlers through `current_delivery()`.

    `message_id` is the id the inbox records (the `message_id` header, else the
    event's `event_id`); `key` and `headers` are the record's, decoded as
    UTF-8; `session` is the open transaction's session when the consumer was
    given `transaction=`, else `None`.
    """

    message_id: uuid.UUID
    event_name: str
    topic: str
    partition: int
    offset: int
    key: str | None
    headers: collections.abc.Mapping[str, str]
    session: typing.Any | None = None


_current: contextvars.ContextVar[Delivery] = contextvars.ContextVar("cqrs_delivery")


def current_delivery() -> Delivery:
    """The record the calling event handler is handling.

    Raises `NoDeliveryError` outside a handler run by a consumer.
    """
    try:
        return _current.get()
    except LookupError:
        raise NoDeliveryError(
            "no consumed record is being handled here; current_delivery() works inside "
            "event handlers that a consumer (subscribe_events, EventConsumer) runs; pass "
            "what other code needs as arguments."
        ) from None


@contextlib.contextmanager
def delivering(delivery: Delivery) -> collections.abc.Generator[Delivery, None, None]:
    """Make `delivery` the current one for the block (tasks started in it inherit it)."""
    token = _current.set(delivery)
    try:
        yield delivery
    finally:
        _current.reset(token)
