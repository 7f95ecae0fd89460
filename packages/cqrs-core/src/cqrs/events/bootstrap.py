"""Build an event mediator, for events consumed from a broker.

>>> import di
>>> mediator = bootstrap(di_container=di.Container(), events_mapper=lambda mapper: None)
"""

from __future__ import annotations

import typing

from cqrs._bootstrap import StartupHook, filled, run_startup_hooks
from cqrs.container.resolve import as_container
from cqrs.events.map import EventMap
from cqrs.events.mediator import EventMediator
from cqrs.middlewares.base import Middleware

__all__ = ("bootstrap",)


def bootstrap(
    di_container: object | None = None,
    events_mapper: typing.Callable[[EventMap], None] | None = None,
    middlewares: typing.Sequence[Middleware] | None = None,
    on_startup: typing.Sequence[StartupHook] | None = None,
    max_concurrent_event_handlers: int = 1,
    concurrent_event_handle_enable: bool = True,
) -> EventMediator:
    """Return an `EventMediator` with the handlers `events_mapper` binds.

    `di_container` is a `di.Container`, any `cqrs.container.Container`, or
    `None` for an empty `di.Container`; `on_startup` functions run once, first.
    """
    run_startup_hooks(on_startup or ())
    return EventMediator(
        filled(EventMap(), events_mapper),
        as_container(di_container),
        middlewares,
        max_concurrent_event_handlers=max_concurrent_event_handlers,
        concurrent_event_handle_enable=concurrent_event_handle_enable,
    )
