"""Run the handlers bound to events, one after another or in parallel with a limit.

Every handler runs even when another fails; the failures are logged and then
raised together as one `EventHandlingError`, so none is lost.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import typing

from cqrs.container.protocol import Container
from cqrs.events.event_handler import SyncEventHandler
from cqrs.events.fallback import EventHandlerFallback
from cqrs.events.map import EventBinding, EventMap
from cqrs.exceptions import ConfigurationError, EventHandlingError
from cqrs.fallback import call_with_fallback

__all__ = ("EventDispatcher",)

logger = logging.getLogger("cqrs.events")

_Invoker = typing.Callable[[typing.Any], typing.Awaitable[None]]
_Failure = tuple[object, type[typing.Any], BaseException]
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
        """Run every handler of every event; raise `EventHandlingError` if any failed."""
        jobs = [(event, step) for event in events for step in self._plan(type(event))]
        if not jobs:
            return
        if self._parallel and len(jobs) > 1:
            failures = await self._run_parallel(jobs)
        else:
            failures = await self._run_sequential(jobs)
        if failures:
            for event, handler, exc in failures:
                logger.error(
                    "event handler %s failed on %s",
                    handler.__qualname__,
                    type(event).__name__,
                    exc_info=exc,
                )
            raise EventHandlingError(failures) from failures[0][2]

    def _plan(self, event_type: type[typing.Any]) -> tuple[_Step, ...]:
        # Built on an event type's first dispatch: the map is complete by then.
        plan = self._plans.get(event_type)
        if plan is None:
            plan = self._plans[event_type] = tuple(
                (_handler_type(binding), self._invoker(binding))
                for binding in self._event_map.get(event_type)
            )
        return plan

    async def _run_sequential(self, jobs: list[tuple[object, _Step]]) -> list[_Failure]:
        failures: list[_Failure] = []
        for event, (handler_type, invoke) in jobs:
            try:
                await invoke(event)
            except Exception as exc:
                failures.append((event, handler_type, exc))
        return failures

    async def _run_parallel(self, jobs: list[tuple[object, _Step]]) -> list[_Failure]:
        semaphore = asyncio.Semaphore(self._max_concurrent)

        async def run(event: object, invoke: _Invoker) -> None:
            async with semaphore:
                await invoke(event)

        results = await asyncio.gather(
            *(run(event, invoke) for event, (_, invoke) in jobs),
            return_exceptions=True,
        )
        failures: list[_Failure] = []
        for (event, (handler_type, _)), result in zip(jobs, results, strict=True):
            if isinstance(result, Exception):
                failures.append((event, handler_type, result))
            elif isinstance(result, BaseException):
                raise result
        return failures

    def _invoker(self, binding: EventBinding) -> _Invoker:
        invoker = self._invokers.get(binding)
        if invoker is None:
            invoker = self._invokers[binding] = self._build_invoker(binding)
        return invoker

    def _build_invoker(self, binding: EventBinding) -> _Invoker:
        if isinstance(binding, EventHandlerFallback):
            primary = self._build_invoker(binding.primary)
            fallback = self._build_invoker(binding.fallback)

            async def with_fallback(event: object) -> None:
                await call_with_fallback(
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

            async def run_sync(event: object) -> None:
                (await resolve(handler_type)).handle(event)

            return run_sync

        async def run(event: object) -> None:
            await (await resolve(handler_type)).handle(event)

        return run


def _handler_type(binding: EventBinding) -> type[typing.Any]:
    return binding.primary if isinstance(binding, EventHandlerFallback) else binding
