"""Build a request mediator from mappers, a DI container and options.

>>> import asyncio
>>> import di
>>> from cqrs.requests.request import Request
>>> from cqrs.requests.request_handler import RequestHandler
>>> class Ping(Request[str]):
...     pass
>>> class PingHandler(RequestHandler[Ping, str]):
...     async def handle(self, request: Ping) -> str:
...         return "pong"
>>> mediator = bootstrap(
...     di_container=di.Container(),
...     commands_mapper=lambda mapper: mapper.bind(Ping, PingHandler),
... )
>>> asyncio.run(mediator.send(Ping()))
'pong'
"""

from __future__ import annotations

import typing

from cqrs._bootstrap import (
    EventsMapper,
    StartupHook,
    domain_events_emitter,
    filled,
    run_startup_hooks,
)
from cqrs.container.protocol import Container
from cqrs.container.resolve import as_container
from cqrs.events.emitter import EventEmitter
from cqrs.message_brokers.protocol import MessageBroker
from cqrs.middlewares.base import Middleware
from cqrs.requests.map import RequestMap
from cqrs.requests.mediator import RequestMediator, StreamingRequestMediator

__all__ = ("bootstrap", "bootstrap_streaming")

RequestsMapper = typing.Callable[[RequestMap], None]


def bootstrap(
    di_container: object | None = None,
    message_broker: MessageBroker | None = None,
    commands_mapper: RequestsMapper | None = None,
    domain_events_mapper: EventsMapper | None = None,
    queries_mapper: RequestsMapper | None = None,
    middlewares: typing.Sequence[Middleware] | None = None,
    on_startup: typing.Sequence[StartupHook] | None = None,
    max_concurrent_event_handlers: int = 1,
    concurrent_event_handle_enable: bool = True,
) -> RequestMediator:
    """Return a `RequestMediator`.

    `di_container` is a `di.Container`, any `cqrs.container.Container`, or
    `None` for an empty `di.Container`. The mappers bind requests and domain
    events; notification events go to `message_broker` (dropped when `None`).
    `on_startup` functions run once, first (`None` means none, as does
    `middlewares=None`). Domain event handlers run one at a time unless
    `max_concurrent_event_handlers` is above 1.

    Raises a `ConfigurationError` for any setup mistake.
    """
    container, requests, emitter = _prepare(
        di_container,
        message_broker,
        (commands_mapper, queries_mapper),
        domain_events_mapper,
        on_startup,
        max_concurrent_event_handlers,
        concurrent_event_handle_enable,
    )
    return RequestMediator(requests, container, emitter, middlewares)


def bootstrap_streaming(
    di_container: object | None = None,
    message_broker: MessageBroker | None = None,
    commands_mapper: RequestsMapper | None = None,
    domain_events_mapper: EventsMapper | None = None,
    queries_mapper: RequestsMapper | None = None,
    middlewares: typing.Sequence[Middleware] | None = None,
    on_startup: typing.Sequence[StartupHook] | None = None,
    max_concurrent_event_handlers: int = 10,
    concurrent_event_handle_enable: bool = True,
) -> StreamingRequestMediator:
    """Return a `StreamingRequestMediator`; the parameters are those of `bootstrap`.

    Every bound handler must be a `StreamingRequestHandler` whose `handle` is
    an async generator, or `InvalidBindingError` is raised.
    """
    container, requests, emitter = _prepare(
        di_container,
        message_broker,
        (commands_mapper, queries_mapper),
        domain_events_mapper,
        on_startup,
        max_concurrent_event_handlers,
        concurrent_event_handle_enable,
    )
    return StreamingRequestMediator(requests, container, emitter, middlewares)


def _prepare(
    di_container: object | None,
    message_broker: MessageBroker | None,
    request_mappers: typing.Iterable[RequestsMapper | None],
    domain_events_mapper: EventsMapper | None,
    on_startup: typing.Sequence[StartupHook] | None,
    max_concurrent_event_handlers: int,
    concurrent_event_handle_enable: bool,
) -> tuple[Container, RequestMap, EventEmitter]:
    run_startup_hooks(on_startup or ())
    container = as_container(di_container)
    requests = filled(RequestMap(), *request_mappers)
    emitter = domain_events_emitter(
        container,
        domain_events_mapper,
        message_broker,
        max_concurrent_event_handlers,
        concurrent_event_handle_enable,
    )
    return container, requests, emitter
