"""`EventEmitter`: where the events a request handler recorded go.

Domain events (any event that is not a `NotificationEvent`) go to their
in-process handlers; notification events go to the message broker. Domain
handler failures are raised after the notifications were published, so one
failing projection never keeps other services uninformed.

>>> import asyncio
>>> from cqrs.container.di import DIContainer
>>> from cqrs.events.map import EventMap
>>> from cqrs.message_brokers.memory import InMemoryMessageBroker
>>> emitter = EventEmitter(EventMap(), DIContainer(), InMemoryMessageBroker())
"""

from __future__ import annotations

import typing

from cqrs.container.protocol import Container
from cqrs.events.dispatcher import EventDispatcher
from cqrs.events.event import NotificationEvent
from cqrs.events.map import EventMap
from cqrs.exceptions import EventHandlingError
from cqrs.message_brokers.devnull import DevnullMessageBroker
from cqrs.message_brokers.protocol import Message, MessageBroker

__all__ = ("EventEmitter",)


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

    async def emit(self, event: object) -> None:
        """Emit one event."""
        await self.emit_all((event,))

    async def emit_all(self, events: typing.Iterable[object]) -> None:
        """Emit events in order; raise `EventHandlingError` after all were emitted."""
        domain_events: list[object] = []
        notifications: list[NotificationEvent[typing.Any]] = []
        for event in events:
            if isinstance(event, NotificationEvent):
                notifications.append(typing.cast("NotificationEvent[typing.Any]", event))
            else:
                domain_events.append(event)
        failed: EventHandlingError | None = None
        if domain_events:
            try:
                await self._dispatcher.dispatch(domain_events)
            except EventHandlingError as exc:
                failed = exc
        for notification in notifications:
            await self._broker.send_message(Message.from_event(notification))
        if failed is not None:
            raise failed
