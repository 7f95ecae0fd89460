"""`TracingMiddleware` and the event handler spans: one span per message, in the caller's trace."""

from __future__ import annotations

import collections.abc

import di
import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics.export import HistogramDataPoint

import cqrs
from cqrs.events.bootstrap import bootstrap as events_bootstrap
from cqrs.requests.bootstrap import bootstrap, bootstrap_streaming
from cqrs.telemetry import DURATION_BUCKETS, REQUEST_DURATION, TracingMiddleware
from cqrs.testing.telemetry import CapturedTelemetry, parent_id, span_id


class Placed(cqrs.DomainEvent):
    order_id: str


class Place(cqrs.Request[str]):
    order_id: str


class PlaceHandler(cqrs.RequestHandler[Place, str]):
    def __init__(self) -> None:
        self._events: list[cqrs.DomainEvent] = []

    @property
    def events(self) -> list[cqrs.DomainEvent]:
        return self._events

    async def handle(self, request: Place) -> str:
        if request.order_id == "bad":
            raise ValueError("no such order")
        self._events.append(Placed(order_id=request.order_id))
        return request.order_id


class Project(cqrs.EventHandler[Placed]):
    async def handle(self, event: Placed) -> None:
        pass


class Lines(cqrs.Request[int]):
    count: int


class LinesHandler(cqrs.StreamingRequestHandler[Lines, int]):
    async def handle(self, request: Lines) -> collections.abc.AsyncIterator[int]:
        for line in range(request.count):
            with trace.get_tracer("test").start_as_current_span(f"line {line}"):
                pass
            yield line


def mediator() -> cqrs.RequestMediator:
    return bootstrap(
        di_container=di.Container(),
        commands_mapper=lambda requests: requests.bind(Place, PlaceHandler),
        domain_events_mapper=lambda events: events.bind(Placed, Project),
        middlewares=[TracingMiddleware()],
    )


async def test_send_is_a_span_in_the_callers_trace_with_its_event_handlers_inside(
    telemetry: CapturedTelemetry,
) -> None:
    with trace.get_tracer("test").start_as_current_span("http") as outer:
        assert await mediator().send(Place(order_id="o-1")) == "o-1"

    (send,) = telemetry.spans("send ")
    (handled,) = telemetry.spans("handle ")
    assert send.name == "send Place"
    assert parent_id(send) == outer.get_span_context().span_id
    assert handled.name == "handle Placed"
    assert handled.attributes is not None
    assert handled.attributes["cqrs.handler"] == "Project"
    assert parent_id(handled) == span_id(send)


async def test_a_failed_send_is_an_error_span_and_is_timed_with_its_error_type(
    telemetry: CapturedTelemetry,
) -> None:
    failed_before = telemetry.metric_value(
        REQUEST_DURATION, **{"cqrs.request.type": "Place", "error.type": "ValueError"}
    )
    with pytest.raises(ValueError, match="no such order"):
        await mediator().send(Place(order_id="bad"))

    (send,) = telemetry.spans("send ")
    assert send.status.status_code is trace.StatusCode.ERROR
    assert [event.name for event in send.events] == ["exception"]
    failed_after = telemetry.metric_value(
        REQUEST_DURATION, **{"cqrs.request.type": "Place", "error.type": "ValueError"}
    )
    assert failed_after == failed_before + 1


async def test_a_stream_is_one_span_around_every_response(telemetry: CapturedTelemetry) -> None:
    streaming = bootstrap_streaming(
        di_container=di.Container(),
        commands_mapper=lambda requests: requests.bind(Lines, LinesHandler),
        middlewares=[TracingMiddleware()],
    )

    assert [line async for line in streaming.stream(Lines(count=3))] == [0, 1, 2]

    (stream,) = telemetry.spans("stream ")
    assert stream.name == "stream Lines"
    lines = telemetry.spans("line ")
    assert len(lines) == 3
    assert {parent_id(line) for line in lines} == {span_id(stream)}
    assert stream.end_time is not None
    assert all(line.end_time is not None and line.end_time <= stream.end_time for line in lines)


async def test_an_event_mediators_message_is_an_event_span(telemetry: CapturedTelemetry) -> None:
    events = events_bootstrap(
        di_container=di.Container(),
        events_mapper=lambda mapper: mapper.bind(Placed, Project),
        middlewares=[TracingMiddleware()],
    )

    await events.send(Placed(order_id="o-2"))

    (event,) = telemetry.spans("event ")
    (handled,) = telemetry.spans("handle ")
    assert event.name == "event Placed"
    assert parent_id(handled) == span_id(event)


async def test_a_stream_closed_early_ends_its_span_without_an_error(
    telemetry: CapturedTelemetry,
) -> None:
    streaming = bootstrap_streaming(
        di_container=di.Container(),
        commands_mapper=lambda requests: requests.bind(Lines, LinesHandler),
        middlewares=[TracingMiddleware()],
    )

    lines = streaming.stream(Lines(count=3))
    assert await anext(lines) == 0
    await lines.aclose()

    (stream,) = telemetry.spans("stream ")
    assert stream.status.status_code is trace.StatusCode.UNSET
    assert len(telemetry.spans("line ")) == 1


async def test_durations_are_bucketed_in_seconds(telemetry: CapturedTelemetry) -> None:
    # OpenTelemetry's default bounds (0 to 10,000) are meant for milliseconds: every
    # duration in seconds would land in the first bucket and no percentile be read.
    assert await mediator().send(Place(order_id="o-1")) == "o-1"

    data = telemetry.reader.get_metrics_data()
    assert data is not None
    bounds = [
        tuple(point.explicit_bounds)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == REQUEST_DURATION
        for point in metric.data.data_points
        if isinstance(point, HistogramDataPoint)
    ]
    assert bounds
    assert set(bounds) == {DURATION_BUCKETS}
