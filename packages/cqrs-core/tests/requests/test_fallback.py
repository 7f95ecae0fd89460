"""`RequestHandlerFallback`: a primary handler with a fallback for the same types."""

import pytest

import cqrs
from cqrs.adapters.circuit_breaker import AioBreakerAdapter
from cqrs.requests.bootstrap import bootstrap


class Quote(cqrs.Request[float]):
    pass


class OtherQuote(cqrs.Request[float]):
    pass


class Served(cqrs.DomainEvent):
    by: str


def handlers(
    calls: list[str], error: Exception | None = None
) -> tuple[type[cqrs.RequestHandler[Quote, float]], type[cqrs.RequestHandler[Quote, float]]]:
    """A (primary, fallback) pair; each records a `Served` event, primary raises `error`."""

    class Live(cqrs.RequestHandler[Quote, float]):
        def __init__(self) -> None:
            self._events: list[cqrs.IEvent] = []

        @property
        def events(self) -> list[cqrs.IEvent]:
            return self._events

        async def handle(self, request: Quote) -> float:
            calls.append("live")
            self._events.append(Served(by="live"))
            if error is not None:
                raise error
            return 2.0

    class Cached(cqrs.RequestHandler[Quote, float]):
        def __init__(self) -> None:
            self._events: list[cqrs.IEvent] = []

        @property
        def events(self) -> list[cqrs.IEvent]:
            return self._events

        async def handle(self, request: Quote) -> float:
            calls.append("cached")
            self._events.append(Served(by="cached"))
            return 1.0

    return Live, Cached


def mediator_for(
    binding: cqrs.RequestHandlerFallback, served: list[str] | None = None
) -> cqrs.RequestMediator:
    class RecordServed(cqrs.EventHandler[Served]):
        async def handle(self, event: Served) -> None:
            if served is not None:
                served.append(event.by)

    return bootstrap(
        queries_mapper=lambda mapper: mapper.bind(Quote, binding),
        domain_events_mapper=lambda mapper: mapper.bind(Served, RecordServed),
    )


async def test_primary_success_does_not_run_the_fallback() -> None:
    calls: list[str] = []
    live, cached = handlers(calls)
    mediator = mediator_for(cqrs.RequestHandlerFallback(primary=live, fallback=cached))

    assert await mediator.send(Quote()) == 2.0
    assert calls == ["live"]


async def test_primary_failure_runs_the_fallback() -> None:
    calls: list[str] = []
    live, cached = handlers(calls, error=TimeoutError())
    mediator = mediator_for(cqrs.RequestHandlerFallback(primary=live, fallback=cached))

    assert await mediator.send(Quote()) == 1.0
    assert calls == ["live", "cached"]


async def test_listed_failure_exception_triggers_the_fallback() -> None:
    calls: list[str] = []
    live, cached = handlers(calls, error=TimeoutError())
    binding = cqrs.RequestHandlerFallback(
        primary=live, fallback=cached, failure_exceptions=(TimeoutError,)
    )

    assert await mediator_for(binding).send(Quote()) == 1.0


async def test_unlisted_exception_propagates_without_fallback() -> None:
    calls: list[str] = []
    live, cached = handlers(calls, error=ValueError("bad quote"))
    binding = cqrs.RequestHandlerFallback(
        primary=live, fallback=cached, failure_exceptions=(TimeoutError,)
    )

    with pytest.raises(ValueError, match="bad quote"):
        await mediator_for(binding).send(Quote())
    assert calls == ["live"]


async def test_failed_primary_events_are_dropped_and_fallback_events_dispatched() -> None:
    served: list[str] = []
    live, cached = handlers([], error=TimeoutError())
    mediator = mediator_for(cqrs.RequestHandlerFallback(primary=live, fallback=cached), served)

    await mediator.send(Quote())

    assert served == ["cached"]


async def test_open_circuit_breaker_skips_the_primary() -> None:
    calls: list[str] = []
    live, cached = handlers(calls, error=TimeoutError())
    breaker = AioBreakerAdapter(fail_max=1, timeout_duration=60)
    mediator = mediator_for(
        cqrs.RequestHandlerFallback(primary=live, fallback=cached, circuit_breaker=breaker)
    )

    assert await mediator.send(Quote()) == 1.0
    assert await mediator.send(Quote()) == 1.0
    assert calls == ["live", "cached", "cached"]


async def test_unlisted_exception_propagates_even_when_it_trips_the_breaker() -> None:
    calls: list[str] = []
    live, cached = handlers(calls, error=ValueError("bad quote"))
    binding = cqrs.RequestHandlerFallback(
        primary=live,
        fallback=cached,
        failure_exceptions=(TimeoutError,),
        circuit_breaker=AioBreakerAdapter(fail_max=1, timeout_duration=60),
    )

    with pytest.raises(ValueError, match="bad quote"):
        await mediator_for(binding).send(Quote())
    assert calls == ["live"]


class FloatQuote(cqrs.RequestHandler[Quote, float]):
    async def handle(self, request: Quote) -> float:
        return 1.0


class StrQuote(cqrs.RequestHandler[Quote, str]):
    async def handle(self, request: Quote) -> str:
        return "1.0"


class OtherFloatQuote(cqrs.RequestHandler[OtherQuote, float]):
    async def handle(self, request: OtherQuote) -> float:
        return 1.0


@pytest.mark.parametrize(
    "fallback", [StrQuote, OtherFloatQuote], ids=["response-type", "request-type"]
)
def test_mismatched_types_raise_at_construction(fallback: type) -> None:
    with pytest.raises(cqrs.FallbackTypeMismatchError):
        cqrs.RequestHandlerFallback(primary=FloatQuote, fallback=fallback)


def test_fallback_that_is_not_a_request_handler_is_rejected() -> None:
    with pytest.raises(cqrs.InvalidBindingError):
        cqrs.RequestHandlerFallback(primary=FloatQuote, fallback=object)
