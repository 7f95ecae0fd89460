"""`EventEmitter`: where the events a request handler recorded go.

Domain events (any event that is not an `INotificationEvent`) go to their
in-process handlers; notification events go to the message broker. Events
the domain handlers record in their `events` (follow-ups) are emitted the
same way, breadth first. Domain handler failures are raised after every
event was emitted, so one failing projection never keeps other services
uninformed; what is raised is the first failed handler's own exception (see
`cqrs.events.dispatcher.raise_failures`).

>>> import asyncio
>>> from cqrs.container.di import DIContainer
>>> from cqrs.events.map import EventMap
>>> from cqrs.message_brokers.memory import InMemoryMessageBroker
>>> emitter = EventEmitter(EventMap(), DIContainer(), InMemoryMessageBroker())
"""

from __future__ import annotations

import typing

from cqrs.container.protocol import Container
from cqrs.events.dispatcher import (
    EventDispatcher,
    LevelOutcome,
    breadth_first,
    raise_failures,
)
from cqrs.events.event import INotificationEvent
from cqrs.events.map import EventMap
from cqrs.message_brokers.devnull import DevnullMessageBroker
from cqrs.message_brokers.protocol import Message, MessageBroker

__all__ = ("EventEmitter", "mediator_emitter")


class EventEmitter:
    """Sends each event where it belongs: handlers in-process, or the broker."""

    def __init__(
        self,
        event_map: EventMap,
        container: Container,
        message_broker: MessageBroker | None = None,
        *,
        max_concurrent_event_handlers: int = 1,
        concurrent_event_handle_enable: bool = True,
    ) -> None:
        self._event_map = event_map
        self._container = container
        self._max_concurrent = max_concurrent_event_handlers
        self._concurrent = concurrent_event_handle_enable
        self._dispatcher = EventDispatcher(
            event_map,
            container,
            max_concurrent=max_concurrent_event_handlers,
            concurrent=concurrent_event_handle_enable,
        )
        self._broker = message_broker if message_broker is not None else DevnullMessageBroker()

    @property
    def message_broker(self) -> MessageBroker:
        """Where notification events are published."""
        return self._broker

    def configured(
        self,
        max_concurrent_event_handlers: int | None = None,
        concurrent_event_handle_enable: bool | None = None,
    ) -> EventEmitter:
        """This emitter, or one on the same map, container and broker with other
        handler concurrency (a `None` keeps this emitter's setting)."""
        max_concurrent = (
            self._max_concurrent
            if max_concurrent_event_handlers is None
            else max_concurrent_event_handlers
        )
        concurrent = (
            self._concurrent
            if concurrent_event_handle_enable is None
            else concurrent_event_handle_enable
        )
        if (max_concurrent, concurrent) == (self._max_concurrent, self._concurrent):
            return self
        return EventEmitter(
            self._event_map,
            self._container,
            self._broker,
            max_concurrent_event_handlers=max_concurrent,
            concurrent_event_handle_enable=concurrent,
        )

    async def emit(self, event: object) -> list[object]:
        """Emit one event; return the follow-ups its handlers recorded, not emitted.

        Raises the first failed handler's exception after every handler ran.
        """
        follow_ups, failures = await self._emit_level([event])
        raise_failures(failures)
        return follow_ups

    async def emit_all(self, events: typing.Iterable[object]) -> None:
        """Emit events in order, then their follow-ups, breadth first.

        Raises the first failed handler's exception once everything was emitted.
        """
        raise_failures(await breadth_first(self._emit_level, events))

    async def _emit_level(self, events: list[object]) -> LevelOutcome:
        domain_events: list[object] = []
        notifications: list[INotificationEvent[typing.Any]] = []
        for event in events:
            if isinstance(event, INotificationEvent):
                notifications.append(typing.cast("INotificationEvent[typing.Any]", event))
            else:
                domain_events.append(event)
        outcome: LevelOutcome = (
            await self._dispatcher.run(domain_events) if domain_events else ([], [])
        )
        for notification in notifications:
            await self._broker.send_message(Message.from_event(notification))
        return outcome


def mediator_emitter(
    container: Container,
    event_emitter: EventEmitter | None = None,
    event_map: EventMap | None = None,
    max_concurrent_event_handlers: int | None = None,
    concurrent_event_handle_enable: bool | None = None,
) -> EventEmitter:
    """The emitter of a mediator built with python-cqrs's keywords.

    `event_emitter` when given (its own map decides the handlers, as in
    python-cqrs, so `event_map` is then unused), else a new emitter on
    `event_map` without a broker; either way with the given concurrency.
    """
    if event_emitter is not None:
        return event_emitter.configured(
            max_concurrent_event_handlers, concurrent_event_handle_enable
        )
    return EventEmitter(event_map or EventMap(), container).configured(
        max_concurrent_event_handlers, concurrent_event_handle_enable
    )
