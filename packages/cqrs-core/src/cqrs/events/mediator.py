"""`EventMediator`: hands events arriving from a broker to their handlers.

>>> import asyncio
>>> from cqrs.container.di import DIContainer
>>> from cqrs.events.event import DomainEvent
>>> from cqrs.events.event_handler import EventHandler
>>> from cqrs.events.map import EventMap
>>> class Joined(DomainEvent):
...     user_id: str
>>> class Greet(EventHandler[Joined]):
...     async def handle(self, event: Joined) -> None:
...         print("hello", event.user_id)
>>> events = EventMap()
>>> events.bind(Joined, Greet)
>>> asyncio.run(EventMediator(events, DIContainer()).send(Joined(user_id="u1")))
hello u1
"""

from __future__ import annotations

import typing

from cqrs.container.protocol import Container
from cqrs.events.dispatcher import EventDispatcher
from cqrs.events.map import EventMap
from cqrs.middlewares.base import Middleware, chosen_middlewares, wrap

__all__ = ("EventMediator",)


class EventMediator:
    """Runs every handler bound to an event's type; handlers of other types never run.

    `middleware_chain` is python-cqrs's name for `middlewares`.
    """

    def __init__(
        self,
        event_map: EventMap,
        container: Container,
        middlewares: typing.Sequence[Middleware] | None = None,
        *,
        middleware_chain: typing.Sequence[Middleware] | None = None,
        max_concurrent_event_handlers: int = 1,
        concurrent_event_handle_enable: bool = True,
    ) -> None:
        self._dispatcher = EventDispatcher(
            event_map,
            container,
            max_concurrent=max_concurrent_event_handlers,
            concurrent=concurrent_event_handle_enable,
        )
        self._send = wrap(chosen_middlewares(middlewares, middleware_chain), self._dispatch)

    async def send(self, event: object) -> None:
        """Handle `event` and, breadth first, the follow-ups its handlers record.

        An event type with no handlers is accepted and ignored. When handlers
        fail, the first one's exception is raised after all handlers ran; its
        `event_handling_error` attribute lists every failure.
        """
        await self._send(event)

    async def _dispatch(self, event: object) -> None:
        await self._dispatcher.dispatch((event,))
