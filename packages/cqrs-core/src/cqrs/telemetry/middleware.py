"""`TracingMiddleware`: a span and a duration for every request and event a mediator handles.

Add it to any mediator's `middlewares` (first, so that it also covers the
other middlewares), for `send`, `stream` and `EventMediator.send` alike:

>>> import di
>>> from cqrs.requests.bootstrap import bootstrap
>>> mediator = bootstrap(di_container=di.Container(), middlewares=[TracingMiddleware()])

A request's span is named `send <RequestType>` (`stream <RequestType>` for a
stream, which the span covers until it ends) and an event's `event
<event name>`. Each records `cqrs.request.duration`, in seconds, by
`cqrs.request.type` (and `error.type` when handling failed). Without an
OpenTelemetry SDK configured the middleware only checks that and hands on.
"""

from __future__ import annotations

import collections.abc
import time
import typing

from opentelemetry import trace

from cqrs.events.event import IEvent, INotificationEvent
from cqrs.middlewares.base import HandleType
from cqrs.telemetry._otel import duration_histogram, error_type, meter, recording, tracer

__all__ = ("TracingMiddleware", "REQUEST_DURATION")

#: Request (and event) handling time, in seconds, by `cqrs.request.type`.
REQUEST_DURATION: typing.Final = "cqrs.request.duration"

_Stream = collections.abc.AsyncIterator[typing.Any]


class TracingMiddleware:
    """Spans and `cqrs.request.duration` around each message a mediator handles."""

    def __init__(self) -> None:
        self._tracer = tracer()
        self._duration = duration_histogram(
            meter(), REQUEST_DURATION, "Time to handle a request or event"
        )

    def compose(self, handle: HandleType) -> HandleType:
        """The layer a mediator runs (see `cqrs.middlewares.base.wrap`): while no SDK
        records, a plain call that hands the message on, adding no coroutine."""
        traced = self.__call__

        def layer(request: typing.Any) -> typing.Awaitable[typing.Any]:
            if not recording():
                return handle(request)
            return traced(request, handle)

        return layer

    async def __call__(self, request: typing.Any, handle: HandleType) -> typing.Any:
        kind, name = _describe(request)
        attributes = {"cqrs.request.type": name}
        started = time.perf_counter()
        span = self._tracer.start_span(f"{kind} {name}", attributes=attributes)
        try:
            with trace.use_span(span, record_exception=False, set_status_on_exception=False):
                result = await handle(request)
        except BaseException as error:
            _failed(span, error)
            self._finished(span, started, {**attributes, "error.type": error_type(error)})
            raise
        if isinstance(result, collections.abc.AsyncIterator):
            # A stream: its span stays open until the last response (or an early close).
            span.update_name(f"stream {name}")
            return self._traced_stream(typing.cast(_Stream, result), span, started, attributes)
        self._finished(span, started, attributes)
        return result

    async def _traced_stream(
        self,
        responses: _Stream,
        span: trace.Span,
        started: float,
        attributes: dict[str, str],
    ) -> typing.AsyncGenerator[typing.Any, None]:
        outcome = attributes
        try:
            while True:
                # The handler runs inside the span for each step, not across the yields
                # (a context attached in a generator must not outlive its step).
                with trace.use_span(span, record_exception=False, set_status_on_exception=False):
                    try:
                        response = await responses.__anext__()
                    except StopAsyncIteration:
                        return
                yield response
        except GeneratorExit:
            raise  # closed early by its reader: not a failure
        except BaseException as error:
            outcome = {**attributes, "error.type": error_type(error)}
            _failed(span, error)
            raise
        finally:
            aclose = getattr(responses, "aclose", None)
            if aclose is not None:
                await aclose()
            self._finished(span, started, outcome)

    def _finished(self, span: trace.Span, started: float, attributes: dict[str, str]) -> None:
        self._duration.record(time.perf_counter() - started, attributes)
        span.end()


def _failed(span: trace.Span, error: BaseException) -> None:
    span.record_exception(error)
    span.set_status(trace.StatusCode.ERROR, f"{error_type(error)}: {error}")


def _describe(message: object) -> tuple[str, str]:
    """The span's verb and the message's name: `event <name>` or `send <Type>`."""
    if isinstance(message, INotificationEvent):
        return "event", typing.cast(INotificationEvent[typing.Any], message).event_name
    if isinstance(message, IEvent):
        return "event", type(message).__name__
    return "send", type(message).__name__
