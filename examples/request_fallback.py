"""Request handler fallback, optionally guarded by a circuit breaker.

A currency service quotes exchange rates from a live market feed; when the
feed is unreachable it answers from yesterday's cached rates instead. The
request is bound to `cqrs.RequestHandlerFallback(primary=..., fallback=...)`:

* `failure_exceptions=(ConnectionError, TimeoutError)` limits which errors
  switch to the fallback; anything else (an unknown currency) still reaches
  the caller;
* `circuit_breaker=AioBreakerAdapter(fail_max=2, timeout_duration=60)` (from
  `cqrs.adapters.circuit_breaker`, needs the `aiobreaker` extra) stops calling
  the feed after two consecutive failures and goes straight to the fallback
  until the timeout passes.

Only the events of the handler that produced the response are dispatched.

Run: `python examples/request_fallback.py`
"""

from __future__ import annotations

import asyncio
import dataclasses

import di

import cqrs
from cqrs.adapters.circuit_breaker import AioBreakerAdapter
from cqrs.requests import bootstrap

LIVE_RATES = {("EUR", "USD"): 1.0842, ("GBP", "EUR"): 1.1703}
CACHED_RATES = {("EUR", "USD"): 1.08, ("GBP", "EUR"): 1.17}


@dataclasses.dataclass
class FeedState:
    reachable: bool = True
    calls: int = 0
    served_from: list[str] = dataclasses.field(default_factory=list[str])


feed = FeedState()


class GetExchangeRateQuery(cqrs.Request):
    base: str
    quote: str


class ExchangeRate(cqrs.Response):
    base: str
    quote: str
    rate: float
    source: str


class RateServed(cqrs.DomainEvent):
    pair: str
    source: str


class LiveRateHandler(cqrs.RequestHandler[GetExchangeRateQuery, ExchangeRate]):
    def __init__(self) -> None:
        self._events: list[cqrs.Event] = []

    @property
    def events(self) -> list[cqrs.Event]:
        return self._events

    async def handle(self, request: GetExchangeRateQuery) -> ExchangeRate:
        feed.calls += 1
        pair = (request.base, request.quote)
        if pair not in LIVE_RATES:
            raise ValueError(f"unsupported currency pair {request.base}/{request.quote}")
        if not feed.reachable:
            raise ConnectionError("market feed unreachable")
        self._events.append(RateServed(pair="/".join(pair), source="live"))
        return ExchangeRate(
            base=request.base, quote=request.quote, rate=LIVE_RATES[pair], source="live"
        )


class CachedRateHandler(cqrs.RequestHandler[GetExchangeRateQuery, ExchangeRate]):
    def __init__(self) -> None:
        self._events: list[cqrs.Event] = []

    @property
    def events(self) -> list[cqrs.Event]:
        return self._events

    async def handle(self, request: GetExchangeRateQuery) -> ExchangeRate:
        pair = (request.base, request.quote)
        self._events.append(RateServed(pair="/".join(pair), source="cache"))
        return ExchangeRate(
            base=request.base, quote=request.quote, rate=CACHED_RATES[pair], source="cache"
        )


class TrackRateSource(cqrs.EventHandler[RateServed]):
    async def handle(self, event: RateServed) -> None:
        feed.served_from.append(event.source)


def queries_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(
        GetExchangeRateQuery,
        cqrs.RequestHandlerFallback(
            primary=LiveRateHandler,
            fallback=CachedRateHandler,
            failure_exceptions=(ConnectionError, TimeoutError),
            circuit_breaker=AioBreakerAdapter(fail_max=2, timeout_duration=60),
        ),
    )


def events_mapper(mapper: cqrs.EventMap) -> None:
    mapper.bind(RateServed, TrackRateSource)


@dataclasses.dataclass
class FallbackReport:
    sources: list[str]  # where each answer came from, in order
    feed_calls: int  # how often the live feed was actually called
    events_seen: list[str]  # the sources the domain event handler was told about
    unsupported_error: str  # what the caller got for an unsupported pair


async def main() -> FallbackReport:
    global feed
    feed = FeedState()
    mediator = bootstrap.bootstrap(
        di_container=di.Container(),
        queries_mapper=queries_mapper,
        domain_events_mapper=events_mapper,
    )
    eur_usd = GetExchangeRateQuery(base="EUR", quote="USD")

    sources = [(await mediator.send(eur_usd)).source]  # feed up: live rate

    # Not a connectivity problem: the caller gets the error, no fallback.
    try:
        await mediator.send(GetExchangeRateQuery(base="EUR", quote="XAU"))
    except ValueError as exc:
        unsupported_error = str(exc)
    else:
        unsupported_error = ""

    feed.reachable = False
    for _ in range(4):  # 2 failures open the breaker; the last 2 skip the feed
        sources.append((await mediator.send(eur_usd)).source)

    report = FallbackReport(
        sources=sources,
        feed_calls=feed.calls,
        events_seen=list(feed.served_from),
        unsupported_error=unsupported_error,
    )
    print(report)
    return report


if __name__ == "__main__":
    asyncio.run(main())
