"""The request mediators: `send` a request, or `stream` its partial responses.

Each bound request type is compiled once, when the mediator is built, into a
route: resolve the handler, handle, dispatch its events, all wrapped in the
middlewares. `send` is then one dict lookup and the route.

>>> import asyncio
>>> from cqrs.container.di import DIContainer
>>> from cqrs.requests.map import RequestMap
>>> from cqrs.requests.request import Request
>>> from cqrs.requests.request_handler import RequestHandler
>>> class Ping(Request[str]):
...     pass
>>> class PingHandler(RequestHandler[Ping, str]):
...     async def handle(self, request: Ping) -> str:
...         return "pong"
>>> requests = RequestMap()
>>> requests.bind(Ping, PingHandler)
>>> asyncio.run(RequestMediator(requests, DIContainer()).send(Ping()))
'pong'
"""

from __future__ import annotations

import abc
import functools
import inspect
import typing
from typing import TypeGuard

from typing_extensions import TypeVar

from cqrs.container.protocol import Container
from cqrs.events.emitter import EventEmitter, mediator_emitter
from cqrs.events.map import EventMap
from cqrs.exceptions import InvalidBindingError
from cqrs.fallback import call_with_fallback
from cqrs.middlewares.base import HandleType, Middleware, chosen_middlewares, wrap
from cqrs.requests.cor_request_handler import CORRequestHandler
from cqrs.requests.fallback import RequestHandlerFallback
from cqrs.requests.map import RequestBinding, RequestMap
from cqrs.requests.request import IRequest
from cqrs.requests.request_handler import StreamingRequestHandler, SyncRequestHandler

__all__ = ("RequestMediator", "StreamingRequestMediator")

_ResT = TypeVar("_ResT")
# Runs a binding's handler(s); returns the response and the events to emit.
_Invoker = typing.Callable[
    [typing.Any], typing.Awaitable[tuple[typing.Any, typing.Sequence[object]]]
]
_Stream = typing.AsyncGenerator[typing.Any, None]


class _MediatorBase(abc.ABC):
    """Request mediators take python-cqrs's arguments too, in its order.

    Events go to `event_emitter`, or to a new emitter on `event_map` without a
    broker; `max_concurrent_event_handlers` and `concurrent_event_handle_enable`,
    when given, set that emitter's handler concurrency. `middleware_chain` is
    python-cqrs's name for `middlewares`.
    """

    def __init__(
        self,
        request_map: RequestMap,
        container: Container,
        event_emitter: EventEmitter | None = None,
        middlewares: typing.Sequence[Middleware] | None = None,
        event_map: EventMap | None = None,
        max_concurrent_event_handlers: int | None = None,
        concurrent_event_handle_enable: bool | None = None,
        *,
        middleware_chain: typing.Sequence[Middleware] | None = None,
    ) -> None:
        self._request_map = request_map
        self._container = container
        self._emitter = mediator_emitter(
            container,
            event_emitter,
            event_map,
            max_concurrent_event_handlers,
            concurrent_event_handle_enable,
        )
        self._middlewares = chosen_middlewares(middlewares, middleware_chain)
        # Every bound type is compiled now, so binding mistakes surface at bootstrap.
        self._routes: dict[type[typing.Any], typing.Any] = {}
        for request_type, _ in request_map.items():
            self._compile(request_type)

    @abc.abstractmethod
    def _compile(self, request_type: type[typing.Any]) -> typing.Any:
        """Build, store and return the route of `request_type`."""


class RequestMediator(_MediatorBase):
    """Sends each request to its one handler and returns the handler's response."""

    _routes: dict[type[typing.Any], HandleType]

    async def send(self, request: IRequest[_ResT]) -> _ResT:
        """Handle `request` and return its handler's response.

        Raises `RequestHandlerNotFoundError` when its type is not bound, and
        whatever the handler raised. When domain event handlers fail (after
        the response was made), the first failed one's exception is raised
        once all of them ran; its `event_handling_error` attribute lists
        every failure.
        """
        route = self._routes.get(type(request))
        if route is None:
            route = self._compile(type(request))
        return typing.cast("_ResT", await route(request))

    def _compile(self, request_type: type[typing.Any]) -> HandleType:
        binding = self._request_map.get(request_type)
        if isinstance(binding, type) and issubclass(binding, StreamingRequestHandler):
            raise InvalidBindingError(
                f"{binding.__qualname__} is a StreamingRequestHandler; the request mediator "
                f"cannot send {request_type.__qualname__}. Build the mediator with "
                f"bootstrap_streaming and call stream()."
            )
        route = self._plain_route(binding) if _is_plain(binding) else self._generic_route(binding)
        self._routes[request_type] = wrapped = wrap(self._middlewares, route)
        return wrapped

    def _plain_route(self, handler_type: type[typing.Any]) -> HandleType:
        # The hot path, fused into one coroutine: resolve, handle, emit.
        resolve = self._container.resolve
        emit = self._emitter.emit_all

        async def route(request: typing.Any) -> typing.Any:
            handler = await resolve(handler_type)
            response = await handler.handle(request)
            events = handler.events
            if events:
                await emit(events)
            return response

        return route

    def _generic_route(self, binding: RequestBinding) -> HandleType:
        invoke = self._invoker(binding)
        emit = self._emitter.emit_all

        async def route(request: typing.Any) -> typing.Any:
            response, events = await invoke(request)
            if events:
                await emit(events)
            return response

        return route

    def _invoker(self, binding: RequestBinding) -> _Invoker:
        if isinstance(binding, RequestHandlerFallback):
            return self._fallback_invoker(binding)
        if isinstance(binding, tuple):
            return self._chain_invoker(binding)
        resolve = self._container.resolve
        handler_type = binding
        is_sync = issubclass(handler_type, SyncRequestHandler)

        async def invoke(request: typing.Any) -> tuple[typing.Any, typing.Sequence[object]]:
            handler = await resolve(handler_type)
            response = handler.handle(request) if is_sync else await handler.handle(request)
            return response, handler.events

        return invoke

    def _fallback_invoker(self, binding: RequestHandlerFallback) -> _Invoker:
        primary = self._invoker(binding.primary)
        fallback = self._invoker(binding.fallback)

        async def invoke(request: typing.Any) -> tuple[typing.Any, typing.Sequence[object]]:
            return await call_with_fallback(
                binding.identifier,
                functools.partial(primary, request),
                functools.partial(fallback, request),
                binding.failure_exceptions,
                binding.circuit_breaker,
            )

        return invoke

    def _chain_invoker(
        self, chain: tuple[type[CORRequestHandler[typing.Any, typing.Any]], ...]
    ) -> _Invoker:
        resolve = self._container.resolve

        async def invoke(request: typing.Any) -> tuple[typing.Any, typing.Sequence[object]]:
            ran: list[CORRequestHandler[typing.Any, typing.Any]] = []

            # Links are resolved only when reached, and each one that ran
            # contributes its events.
            async def call_link(index: int, message: typing.Any) -> typing.Any:
                link = await resolve(chain[index])
                ran.append(link)
                if index + 1 < len(chain):
                    link.set_next(functools.partial(call_link, index + 1))
                return await link.handle(message)

            response = await call_link(0, request)
            return response, [event for link in ran for event in link.events]

        return invoke


class StreamingRequestMediator(_MediatorBase):
    """Streams the responses a `StreamingRequestHandler` yields.

    After each response, the events the handler recorded so far are
    dispatched, then its `clear_events` is called. Closing the stream early
    (`aclose()`) closes the handler's generator, running its cleanup.
    """

    _routes: dict[type[typing.Any], typing.Callable[[typing.Any], _Stream]]

    def stream(self, request: IRequest[_ResT]) -> typing.AsyncGenerator[_ResT, None]:
        """Return the async generator of `request`'s responses (`aclose()` ends it early).

        Raises `RequestHandlerNotFoundError` at once when its type is not bound.
        """
        route = self._routes.get(type(request))
        if route is None:
            route = self._compile(type(request))
        return route(request)

    def _compile(self, request_type: type[typing.Any]) -> typing.Callable[[typing.Any], _Stream]:
        binding = self._request_map.get(request_type)
        handler_type = typing.cast("type[StreamingRequestHandler[typing.Any, typing.Any]]", binding)
        if not (
            isinstance(binding, type)
            and issubclass(binding, StreamingRequestHandler)
            and inspect.isasyncgenfunction(handler_type.handle)
        ):
            raise InvalidBindingError(
                f"{request_type.__qualname__} is bound to {binding!r}, which does not stream: "
                f"bind a StreamingRequestHandler whose handle() is an `async def` with `yield`."
            )
        route = functools.partial(self._handler_stream, handler_type)
        if self._middlewares:
            route = self._with_middlewares(route)
        self._routes[request_type] = route
        return route

    def _with_middlewares(
        self, route: typing.Callable[[typing.Any], _Stream]
    ) -> typing.Callable[[typing.Any], _Stream]:
        async def open_stream(request: typing.Any) -> _Stream:
            return route(request)

        opened = wrap(self._middlewares, open_stream)

        async def stream(request: typing.Any) -> _Stream:
            responses = typing.cast("_Stream", await opened(request))
            try:
                async for response in responses:
                    yield response
            finally:
                aclose = getattr(responses, "aclose", None)
                if aclose is not None:
                    await aclose()

        return stream

    async def _handler_stream(
        self,
        handler_type: type[StreamingRequestHandler[typing.Any, typing.Any]],
        request: typing.Any,
    ) -> _Stream:
        handler = await self._container.resolve(handler_type)
        responses = typing.cast("typing.AsyncGenerator[typing.Any, None]", handler.handle(request))
        emitted = 0
        try:
            async for response in responses:
                events = handler.events
                if len(events) > emitted:
                    emitted = await self._emit_new(handler, events, emitted)
                yield response
            events = handler.events
            if len(events) > emitted:
                await self._emit_new(handler, events, emitted)
        finally:
            await responses.aclose()

    async def _emit_new(
        self,
        handler: StreamingRequestHandler[typing.Any, typing.Any],
        events: typing.Sequence[object],
        emitted: int,
    ) -> int:
        """Emit the events after the first `emitted`; return how many `events` now holds.

        A handler whose `clear_events` empties its list starts again from 0;
        one that keeps accumulating is not sent the same event twice.
        """
        await self._emitter.emit_all(events[emitted:])
        handler.clear_events()
        return len(handler.events)


def _is_plain(binding: RequestBinding) -> TypeGuard[type[typing.Any]]:
    return isinstance(binding, type) and not issubclass(
        binding, (SyncRequestHandler, CORRequestHandler)
    )
