"""A span around each event handler the event dispatcher runs.

The span is named `handle <event name>` (the event type's name for a domain
event) with the handler's name in `cqrs.handler`; a handler's failure is
recorded on it. `EventDispatcher` wraps its handlers with `traced_handler`
when OpenTelemetry is installed; without an SDK the wrapper hands on at once.

>>> import asyncio
>>> async def handle(event: object) -> list[object]:
...     return []
>>> asyncio.run(traced_handler(object, handle)("an event"))
[]
"""

from __future__ import annotations

import typing

from cqrs.events.event import INotificationEvent
from cqrs.telemetry._otel import recording, tracer

__all__ = ("traced_handler",)

_Invoker = typing.Callable[[typing.Any], typing.Awaitable[typing.Sequence[object]]]


def traced_handler(handler_type: type[typing.Any], invoke: _Invoker) -> _Invoker:
    """`invoke` (which runs a `handler_type` on an event) in a span per event."""
    handler_name = handler_type.__qualname__
    start_span = tracer().start_as_current_span

    async def traced(event: object) -> typing.Sequence[object]:
        name = event_name(event)
        with start_span(
            f"handle {name}", attributes={"cqrs.handler": handler_name, "cqrs.event.name": name}
        ):
            return await invoke(event)

    def layer(event: object) -> typing.Awaitable[typing.Sequence[object]]:
        # A plain function: while no SDK records, the handler's own coroutine is all there is.
        return invoke(event) if not recording() else traced(event)

    return layer


def event_name(event: object) -> str:
    """A notification event's `event_name`, else the event type's name."""
    if isinstance(event, INotificationEvent):
        return typing.cast(INotificationEvent[typing.Any], event).event_name
    return type(event).__name__
