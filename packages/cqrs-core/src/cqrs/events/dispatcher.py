"""Run the handlers bound to events, one after another or in parallel with a limit.

Every handler runs even when another fails. Events a handler records in its
`events` are follow-ups: `run` returns them for the caller to dispatch next,
and `dispatch` carries on with them itself, breadth first (one level of
events, then the follow-ups of that whole level). Failures are logged and
`raise_failures` raises the first failed handler's own exception, so an
`except ValueError:` around `send` sees what the handler raised; every
failure of the dispatch is attached to it as an `EventHandlingError` in its
`event_handling_error` attribute, so none is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import typing

from cqrs.container.protocol import Container
from cqrs.events.event_handler import SyncEventHandler
from cqrs.events.fallback import EventHandlerFallback
from cqrs.events.map import EventBinding, EventMap
from cqrs.exceptions import ConfigurationError, EventHandlingError, FollowUpLimitError
from cqrs.fallback import call_with_fallback
from cqrs.tracing import opentelemetry_installed

__all__ = (
    "MAX_FOLLOW_UP_LEVELS",
    "EventDispatcher",
    "HandlerFailure",
    "LevelOutcome",
    "breadth_first",
    "raise_failures",
)

logger: logging.Logger = logging.getLogger("cqrs.events")

#: How many levels of follow-up events one dispatch may go through: handlers that
#: answer each other's events for ever would otherwise never let `send` return.
MAX_FOLLOW_UP_LEVELS: typing.Final = 100

# Runs one handler on an event; returns the follow-up events it recorded.
_Invoker = typing.Callable[[typing.Any], typing.Awaitable[typing.Sequence[object]]]
#: One failed handler: the event, the handler class and what it raised.
HandlerFailure = tuple[object, type[typing.Any], BaseException]
#: A level's follow-up events and the failures of its handlers.
LevelOutcome = tuple[list[object], list[HandlerFailure]]
# A handler to run for an event type: its class (for reports) and its invoker.
_Step = tuple[type[typing.Any], _Invoker]


class EventDispatcher:
    """Dispatches events to the handlers an `EventMap` binds them to.

    With `concurrent=True` and `max_concurrent > 1`, up to `max_concurrent`
    handlers run at once; otherwise they run in binding order.
    """

    def __init__(
        self,
        event_map: EventMap,
        container: Container,
        *,
        max_concurrent: int = 1,
        concurrent: bool = True,
    ) -> None:
        if max_concurrent < 1:
            raise ConfigurationError(
                f"max_concurrent_event_handlers must be at least 1, got {max_concurrent}."
            )
        self._event_map = event_map
        self._container = container
        self._max_concurrent = max_concurrent
        self._parallel = concurrent and max_concurrent > 1
        self._invokers: dict[EventBinding, _Invoker] = {}
        self._plans: dict[type[typing.Any], tuple[_Step, ...]] = {}

    async def dispatch(self, events: typing.Iterable[object]) -> None:
        """Run every handler of `events` and of their follow-ups, breadth first.

        Raises the first failed handler's exception once every handler ran
        (see `raise_failures`).
        """
        raise_failures(await breadth_first(self.run, events))

    async def run(self, events: list[object]) -> LevelOutcome:
        """Run every handler of `events` once; return their follow-ups and failures.

        Follow-ups come in the order of the handlers that recorded them.
        """
        jobs = [(event, step) for event in events for step in self._plan(type(event))]
        if not jobs:
            return [], []
        if self._parallel and len(jobs) > 1:
            return await self._run_parallel(jobs)
        return await self._run_sequential(jobs)

    def _plan(self, event_type: type[typing.Any]) -> tuple[_Step, ...]:
        # Built on an event type's first dispatch: the map is complete by then.
        plan = self._plans.get(event_type)
        if plan is None:
            plan = self._plans[event_type] = tuple(
                (_handler_type(binding), self._invoker(binding))
                for binding in self._event_map.get(event_type)
            )
        return plan

    async def _run_sequential(self, jobs: list[tuple[object, _Step]]) -> LevelOutcome:
        follow_ups: list[object] = []
        failures: list[HandlerFailure] = []
        for event, (handler_type, invoke) in jobs:
            try:
                follow_ups += await invoke(event)
            except Exception as exc:
                failures.append((event, handler_type, exc))
        return follow_ups, failures

    async def _run_parallel(self, jobs: list[tuple[object, _Step]]) -> LevelOutcome:
        semaphore = asyncio.Semaphore(self._max_concurrent)

        async def run(event: object, invoke: _Invoker) -> typing.Sequence[object]:
            async with semaphore:
                return await invoke(event)

        results = await asyncio.gather(
            *(run(event, invoke) for event, (_, invoke) in jobs),
            return_exceptions=True,
        )
        follow_ups: list[object] = []
        failures: list[HandlerFailure] = []
        for (event, (handler_type, _)), result in zip(jobs, results, strict=True):
            if isinstance(result, Exception):
                failures.append((event, handler_type, result))
            elif isinstance(result, BaseException):
                raise result
            else:
                follow_ups += result
        return follow_ups, failures

    def _invoker(self, binding: EventBinding) -> _Invoker:
        invoker = self._invokers.get(binding)
        if invoker is None:
            invoker = self._invokers[binding] = _traced(binding, self._build_invoker(binding))
        return invoker

    def _build_invoker(self, binding: EventBinding) -> _Invoker:
        if isinstance(binding, EventHandlerFallback):
            primary = self._build_invoker(binding.primary)
            fallback = self._build_invoker(binding.fallback)

            async def with_fallback(event: object) -> typing.Sequence[object]:
                return await call_with_fallback(
                    binding.identifier,
                    functools.partial(primary, event),
                    functools.partial(fallback, event),
                    binding.failure_exceptions,
                    binding.circuit_breaker,
                )

            return with_fallback
        resolve = self._container.resolve
        handler_type: type[typing.Any] = binding
        if issubclass(binding, SyncEventHandler):

            async def run_sync(event: object) -> typing.Sequence[object]:
                handler = await resolve(handler_type)
                handler.handle(event)
                return handler.events

            return run_sync

        async def run(event: object) -> typing.Sequence[object]:
            handler = await resolve(handler_type)
            await handler.handle(event)
            return handler.events

        return run


def _traced(binding: EventBinding, invoke: _Invoker) -> _Invoker:
    """`invoke` in a span per event handled, when OpenTelemetry is installed."""
    if not opentelemetry_installed():
        return invoke
    from cqrs.telemetry.events import traced_handler  # the `otel` extra: imported only with it

    return traced_handler(_handler_type(binding), invoke)


def _handler_type(binding: EventBinding) -> type[typing.Any]:
    return binding.primary if isinstance(binding, EventHandlerFallback) else binding


async def breadth_first(
    run_level: typing.Callable[[list[object]], typing.Awaitable[LevelOutcome]],
    events: typing.Iterable[object],
) -> list[HandlerFailure]:
    """Run `events` through `run_level`, then their follow-ups, level by level, until
    none are left; return every failure.

    Raises `FollowUpLimitError` when follow-ups are still recorded after
    `MAX_FOLLOW_UP_LEVELS` levels (handlers that feed each other in a cycle).
    """
    failures: list[HandlerFailure] = []
    level = list(events)
    for _ in range(MAX_FOLLOW_UP_LEVELS):
        if not level:
            return failures
        level, failed = await run_level(level)
        failures += failed
    if level:
        raise FollowUpLimitError(MAX_FOLLOW_UP_LEVELS, level)
    return failures


def raise_failures(failures: typing.Sequence[HandlerFailure]) -> None:
    """Log every failure, then raise the first one's exception (nothing when empty).

    The raised exception gets an `event_handling_error` attribute: an
    `EventHandlingError` listing all of the failures.
    """
    if not failures:
        return
    for event, handler, exc in failures:
        logger.error(
            "event handler %s failed on %s",
            handler.__qualname__,
            type(event).__name__,
            exc_info=exc,
        )
    first = failures[0][2]
    # An exception class with __slots__ and no __dict__ cannot take the attribute;
    # it is still raised, as the handler raised it.
    with contextlib.suppress(AttributeError):
        first.event_handling_error = EventHandlingError(failures)  # pyright: ignore[reportAttributeAccessIssue]
    raise first
