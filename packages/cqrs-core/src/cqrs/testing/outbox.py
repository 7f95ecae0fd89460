"""`registered_outbox_events`: outbox event names registered for one test only.

`OutboxedEventMap` is process-wide; a test that registers names (or calls
code that does) should leave it as it found it.

>>> import pydantic
>>> from cqrs.events.event import NotificationEvent
>>> from cqrs.outbox.map import OutboxedEventMap
>>> class Paid(pydantic.BaseModel):
...     order_id: str
>>> with registered_outbox_events({"testing_doc_paid": NotificationEvent[Paid]}):
...     OutboxedEventMap.get("testing_doc_paid") is NotificationEvent[Paid]
True
>>> OutboxedEventMap.get("testing_doc_paid") is None
True
"""

from __future__ import annotations

import collections.abc
import contextlib
import typing

from cqrs.outbox.map import OutboxedEventMap

__all__ = ("registered_outbox_events",)


@contextlib.contextmanager
def registered_outbox_events(
    events: typing.Mapping[str, type[typing.Any]] | None = None,
) -> collections.abc.Generator[None, None, None]:
    """Register `events` (name -> class) for the block; on exit, restore the registry
    exactly as it was, forgetting whatever the block registered as well."""
    registry = OutboxedEventMap._registry  # pyright: ignore[reportPrivateUsage]
    saved = dict(registry)
    try:
        for name, event_type in (events or {}).items():
            OutboxedEventMap.register(name, event_type)
        yield
    finally:
        registry.clear()
        registry.update(saved)
