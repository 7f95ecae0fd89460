"""Steps every bootstrap function shares."""

from __future__ import annotations

import typing

from cqrs.container.protocol import Container
from cqrs.events.emitter import EventEmitter
from cqrs.events.map import EventMap
from cqrs.message_brokers.protocol import MessageBroker

__all__ = ("run_startup_hooks", "filled", "domain_events_emitter", "StartupHook", "EventsMapper")

_M = typing.TypeVar("_M")

StartupHook = typing.Callable[[], object]
EventsMapper = typing.Callable[[EventMap], None]


def run_startup_hooks(on_startup: typing.Iterable[StartupHook]) -> None:
    """Call each `on_startup` function once, in order, before anything is built."""
    for hook in on_startup:
        hook()


def filled(empty_map: _M, *mappers: typing.Callable[[_M], None] | None) -> _M:
    """Apply each given mapper (skipping `None`s) to `empty_map` and return it."""
    for mapper in mappers:
        if mapper is not None:
            mapper(empty_map)
    return empty_map


def domain_events_emitter(
    container: Container,
    domain_events_mapper: EventsMapper | None,
    message_broker: MessageBroker | None,
    max_concurrent_event_handlers: int,
    concurrent_event_handle_enable: bool,
) -> EventEmitter:
    """The emitter of the events handlers and steps record: to the handlers
    `domain_events_mapper` binds, notifications to `message_broker`."""
    return EventEmitter(
        filled(EventMap(), domain_events_mapper),
        container,
        message_broker,
        max_concurrent_event_handlers=max_concurrent_event_handlers,
        concurrent_event_handle_enable=concurrent_event_handle_enable,
    )
