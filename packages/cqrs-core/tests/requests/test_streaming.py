"""`StreamingRequestMediator`, built with `bootstrap_streaming`."""

import asyncio
import typing

import pytest

import cqrs
from cqrs.requests.bootstrap import bootstrap, bootstrap_streaming


class Count(cqrs.Request[int]):
    up_to: int


class Progress(cqrs.DomainEvent):
    step: int


class Counter(cqrs.StreamingRequestHandler[Count, int]):
    """Records `Progress(step=n)` just before yielding `n`."""

    def __init__(self) -> None:
        self._events: list[cqrs.IEvent] = []

    @property
    def events(self) -> list[cqrs.IEvent]:
        return list(self._events)

    def clear_events(self) -> None:
        self._events.clear()

    async def handle(self, request: Count) -> typing.AsyncIterator[int]:
        for number in range(1, request.up_to + 1):
            self._events.append(Progress(step=number))
            yield number


class CopyingAndClearing(cqrs.StreamingRequestHandler[Count, int]):
    """`events` returns a copy; `clear_events` empties the list."""

    def __init__(self) -> None:
        self._events: list[cqrs.IEvent] = []

    @property
    def events(self) -> list[cqrs.IEvent]:
        return list(self._events)

    def clear_events(self) -> None:
        self._events.clear()

    async def handle(self, request: Count) -> typing.AsyncIterator[int]:
        self._events += [Progress(step=1), Progress(step=2)]
        yield 1
        self._events.append(Progress(step=3))
        yield 2
        yield 3
        self._events.append(Progress(step=4))


class NeverClearing(cqrs.StreamingRequestHandler[Count, int]):
    """`events` keeps accumulating; `clear_events` is the no-op default."""

    def __init__(self) -> None:
        self._events: list[cqrs.IEvent] = []

    @property
    def events(self) -> list[cqrs.IEvent]:
        return self._events

    async def handle(self, request: Count) -> typing.AsyncIterator[int]:
        self._events += [Progress(step=1), Progress(step=2)]
        yield 1
        self._events.append(Progress(step=3))
        yield 2
        yield 3
        self._events.append(Progress(step=4))


def streaming_mediator(
    handler: type,
    seen: list[int] | None = None,
    middlewares: typing.Sequence[cqrs.Middleware] = (),
) -> cqrs.StreamingRequestMediator:
    class RecordProgress(cqrs.EventHandler[Progress]):
        async def handle(self, event: Progress) -> None:
            if seen is not None:
                seen.append(event.step)

    return bootstrap_streaming(
        queries_mapper=lambda mapper: mapper.bind(Count, handler),
        domain_events_mapper=lambda mapper: mapper.bind(Progress, RecordProgress),
        middlewares=middlewares,
    )


async def scheduling_point() -> None:
    """Suspend once so other ready callbacks run (a scheduling point, not a sleep)."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    loop.call_soon(future.set_result, None)
    await future


class PassThrough:
    async def __call__(self, request: typing.Any, handle: typing.Any) -> typing.Any:
        return await handle(request)


async def test_stream_yields_chunks_in_order() -> None:
    mediator = streaming_mediator(Counter)

    assert [chunk async for chunk in mediator.stream(Count(up_to=3))] == [1, 2, 3]


async def test_events_recorded_before_a_chunk_are_dispatched_before_it_is_received() -> None:
    seen: list[int] = []
    mediator = streaming_mediator(Counter, seen)

    snapshots = [(chunk, list(seen)) async for chunk in mediator.stream(Count(up_to=3))]

    assert snapshots == [(1, [1]), (2, [1, 2]), (3, [1, 2, 3])]


@pytest.mark.parametrize("handler", [CopyingAndClearing, NeverClearing])
async def test_every_recorded_event_is_dispatched_exactly_once(handler: type) -> None:
    seen: list[int] = []
    mediator = streaming_mediator(handler, seen)

    chunks = [chunk async for chunk in mediator.stream(Count(up_to=3))]

    assert chunks == [1, 2, 3]
    assert seen == [1, 2, 3, 4]


@pytest.mark.parametrize("middlewares", [(), (PassThrough(),)], ids=["bare", "middleware"])
async def test_closing_the_stream_early_runs_handler_cleanup_before_aclose_returns(
    middlewares: typing.Sequence[cqrs.Middleware],
) -> None:
    log: list[str] = []

    class Guarded(cqrs.StreamingRequestHandler[Count, int]):
        async def handle(self, request: Count) -> typing.AsyncIterator[int]:
            try:
                yield 1
                log.append("second chunk")
                yield 2
            finally:
                await scheduling_point()
                log.append("cleanup")

    stream = streaming_mediator(Guarded, middlewares=middlewares).stream(Count(up_to=2))

    assert await anext(stream) == 1
    await stream.aclose()

    assert log == ["cleanup"]


def test_binding_a_plain_request_handler_raises_at_bootstrap() -> None:
    class Plain(cqrs.RequestHandler[Count, int]):
        async def handle(self, request: Count) -> int:
            return 1

    with pytest.raises(cqrs.InvalidBindingError):
        streaming_mediator(Plain)


def test_binding_a_streaming_handler_to_the_plain_bootstrap_raises() -> None:
    with pytest.raises(cqrs.InvalidBindingError):
        bootstrap(queries_mapper=lambda mapper: mapper.bind(Count, Counter))


def test_streaming_an_unbound_request_raises_not_found_at_once() -> None:
    mediator = bootstrap_streaming()

    with pytest.raises(cqrs.RequestHandlerNotFoundError):
        mediator.stream(Count(up_to=1))


async def test_middlewares_wrap_opening_the_stream_first_one_outermost() -> None:
    log: list[str] = []

    def middleware(name: str) -> cqrs.Middleware:
        class Tag:
            async def __call__(self, request: typing.Any, handle: typing.Any) -> typing.Any:
                log.append(f"{name} opens {type(request).__name__}")
                responses = await handle(request)
                log.append(f"{name} opened")
                return responses

        return Tag()

    class Logged(cqrs.StreamingRequestHandler[Count, int]):
        async def handle(self, request: Count) -> typing.AsyncIterator[int]:
            log.append("handler runs")
            yield 1

    mediator = streaming_mediator(Logged, middlewares=[middleware("outer"), middleware("inner")])

    assert [chunk async for chunk in mediator.stream(Count(up_to=1))] == [1]
    assert log == [
        "outer opens Count",
        "inner opens Count",
        "inner opened",
        "outer opened",
        "handler runs",
    ]


async def test_middleware_can_replace_the_stream() -> None:
    class Doubling:
        async def __call__(self, request: typing.Any, handle: typing.Any) -> typing.Any:
            responses = await handle(request)

            async def doubled() -> typing.AsyncIterator[int]:
                async for chunk in responses:
                    yield chunk * 2

            return doubled()

    mediator = streaming_mediator(Counter, middlewares=[Doubling()])

    assert [chunk async for chunk in mediator.stream(Count(up_to=3))] == [2, 4, 6]
