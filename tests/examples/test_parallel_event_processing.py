"""examples/parallel_event_processing.py: max_concurrent_event_handlers and the switch."""

import pytest

from examples import parallel_event_processing as example


@pytest.fixture
async def results() -> dict[str, tuple[int, int]]:
    return await example.main()


def test_limit_caps_concurrent_handlers(results: dict[str, tuple[int, int]]) -> None:
    assert results["streaming, limit 3"] == (3, 12)


def test_disabling_concurrency_runs_handlers_one_at_a_time(
    results: dict[str, tuple[int, int]],
) -> None:
    assert results["streaming, parallelism disabled"] == (1, 12)


def test_streaming_default_limit_is_ten(results: dict[str, tuple[int, int]]) -> None:
    # 6 events per chunk, all allowed at once under the default limit of 10.
    assert results["streaming, defaults"] == (example.READINGS_PER_BATCH, 12)


def test_request_mediator_default_is_sequential(results: dict[str, tuple[int, int]]) -> None:
    assert results["request mediator, defaults"] == (1, 6)


def test_request_mediator_accepts_a_limit(results: dict[str, tuple[int, int]]) -> None:
    assert results["request mediator, limit 4"] == (4, 6)
