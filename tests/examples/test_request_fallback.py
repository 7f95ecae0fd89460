"""examples/request_fallback.py: RequestHandlerFallback with AioBreakerAdapter."""

import pytest

import cqrs
from examples import request_fallback as example


@pytest.fixture
async def report() -> example.FallbackReport:
    return await example.main()


def test_primary_answers_while_healthy_then_fallback_takes_over(
    report: example.FallbackReport,
) -> None:
    assert report.sources == ["live", "cache", "cache", "cache", "cache"]


def test_open_breaker_stops_calling_the_primary(report: example.FallbackReport) -> None:
    # 1 live answer + 1 unsupported pair + 2 connection failures; the last two
    # requests went straight to the fallback.
    assert report.feed_calls == 4


def test_only_the_answering_handlers_events_are_dispatched(report: example.FallbackReport) -> None:
    assert report.events_seen == ["live", "cache", "cache", "cache", "cache"]


def test_unlisted_exceptions_reach_the_caller(report: example.FallbackReport) -> None:
    assert report.unsupported_error == "unsupported currency pair EUR/XAU"


async def test_without_a_breaker_every_request_tries_the_primary() -> None:
    example.feed = example.FeedState(reachable=False)
    mediator = example.bootstrap.bootstrap(
        queries_mapper=lambda m: m.bind(
            example.GetExchangeRateQuery,
            cqrs.RequestHandlerFallback(
                primary=example.LiveRateHandler,
                fallback=example.CachedRateHandler,
                failure_exceptions=(ConnectionError,),
            ),
        ),
    )

    for _ in range(3):
        rate = await mediator.send(example.GetExchangeRateQuery(base="GBP", quote="EUR"))
        assert rate == example.ExchangeRate(base="GBP", quote="EUR", rate=1.17, source="cache")
    assert example.feed.calls == 3
