"""EventDispatcher: sequential or bounded-parallel handlers; every failure reported."""

from __future__ import annotations

import asyncio
import logging
import typing

import pytest

import cqrs
from cqrs.adapters.circuit_breaker import AioBreakerAdapter
from cqrs.container.di import DIContainer
from cqrs.events.dispatcher import EventDispatcher

GUARD_SECONDS = 5  # only turns a deadlock into a failure; never used to wait for work


class Joined(cqrs.DomainEvent):
    user_id: str


class Left(cqrs.DomainEvent):
    user_id: str


def yield_to_loop() -> asyncio.Future[None]:
    """Suspend once, letting every other ready task take a step."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()
    loop.call_soon(future.set_result, None)
    return future


def report_of(error: BaseException) -> cqrs.EventHandlingError:
    """The report of every failure that the dispatcher attaches to what it raises."""
    report = getattr(error, "event_handling_error", None)
    assert isinstance(report, cqrs.EventHandlingError)
    return report


def recorder(
    name: str, log: list[str], error: Exception | None = None
) -> type[cqrs.EventHandler[Joined]]:
    """A handler class logging its start and end with a suspension in between."""

    class Recorder(cqrs.EventHandler[Joined]):
        async def handle(self, event: Joined) -> None:
            log.append(f"{name} start {event.user_id}")
            await yield_to_loop()
            log.append(f"{name} end {event.user_id}")
            if error is not None:
                raise error

    Recorder.__qualname__ = name
    return Recorder


class InFlight:
    """Counts handlers running at once; holds them all until `release` is set."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.current = 0
        self.peak = 0
        self.finished = 0
        self.limit_reached = asyncio.Event()
        self.release = asyncio.Event()


def gated(name: str, in_flight: InFlight) -> type[cqrs.EventHandler[Joined]]:
    class Gated(cqrs.EventHandler[Joined]):
        async def handle(self, event: Joined) -> None:
            in_flight.current += 1
            in_flight.peak = max(in_flight.peak, in_flight.current)
            if in_flight.current >= in_flight.limit:
                in_flight.limit_reached.set()
            await in_flight.release.wait()
            in_flight.current -= 1
            in_flight.finished += 1

    Gated.__qualname__ = name
    return Gated


def dispatcher(
    *bindings: typing.Any, max_concurrent: int = 1, concurrent: bool = True
) -> EventDispatcher:
    event_map = cqrs.EventMap()
    for binding in bindings:
        event_map.bind(Joined, binding)
    return EventDispatcher(
        event_map, DIContainer(), max_concurrent=max_concurrent, concurrent=concurrent
    )


async def test_handlers_run_one_after_another_in_binding_order_by_default() -> None:
    log: list[str] = []
    handlers = [recorder(name, log) for name in ("first", "second", "third")]

    await dispatcher(*handlers).dispatch([Joined(user_id="u1")])

    assert log == [
        "first start u1",
        "first end u1",
        "second start u1",
        "second end u1",
        "third start u1",
        "third end u1",
    ]


async def test_concurrency_disabled_runs_sequentially_even_with_a_higher_limit() -> None:
    log: list[str] = []
    handlers = [recorder(name, log) for name in ("first", "second")]

    await dispatcher(*handlers, max_concurrent=5, concurrent=False).dispatch([Joined(user_id="u1")])

    assert log == ["first start u1", "first end u1", "second start u1", "second end u1"]


async def test_sequential_dispatch_of_several_events_keeps_event_order() -> None:
    log: list[str] = []

    await dispatcher(recorder("only", log)).dispatch([Joined(user_id="a"), Joined(user_id="b")])

    assert log == ["only start a", "only end a", "only start b", "only end b"]


async def test_parallel_handlers_overlap() -> None:
    log: list[str] = []
    handlers = [recorder(name, log) for name in ("first", "second")]

    await dispatcher(*handlers, max_concurrent=2).dispatch([Joined(user_id="u1")])

    assert log[:2] == ["first start u1", "second start u1"]
    assert sorted(log[2:]) == ["first end u1", "second end u1"]


async def test_parallel_handlers_are_bounded_by_max_concurrent() -> None:
    in_flight = InFlight(limit=2)
    handlers = [gated(f"handler{i}", in_flight) for i in range(5)]
    running = asyncio.create_task(
        dispatcher(*handlers, max_concurrent=2).dispatch([Joined(user_id="u1")])
    )

    await asyncio.wait_for(in_flight.limit_reached.wait(), GUARD_SECONDS)
    peak_while_held = in_flight.peak
    in_flight.release.set()
    await asyncio.wait_for(running, GUARD_SECONDS)

    assert peak_while_held == 2
    assert in_flight.peak == 2
    assert in_flight.finished == 5


async def test_parallel_limit_applies_across_events() -> None:
    in_flight = InFlight(limit=3)
    handlers = [gated(f"handler{i}", in_flight) for i in range(2)]
    events = [Joined(user_id=str(i)) for i in range(4)]
    running = asyncio.create_task(dispatcher(*handlers, max_concurrent=3).dispatch(events))

    await asyncio.wait_for(in_flight.limit_reached.wait(), GUARD_SECONDS)
    in_flight.release.set()
    await asyncio.wait_for(running, GUARD_SECONDS)

    assert in_flight.peak == 3
    assert in_flight.finished == 8


def test_max_concurrent_below_one_is_a_configuration_error() -> None:
    with pytest.raises(cqrs.ConfigurationError, match="at least 1"):
        dispatcher(max_concurrent=0)


async def test_event_without_handlers_is_a_no_op() -> None:
    log: list[str] = []

    await dispatcher(recorder("only", log)).dispatch([Left(user_id="u1")])

    assert log == []


@pytest.mark.parametrize("max_concurrent", [1, 3], ids=["sequential", "parallel"])
async def test_all_handlers_run_and_every_failure_is_reported(max_concurrent: int) -> None:
    log: list[str] = []
    first_error = RuntimeError("first broke")
    second_error = ValueError("second broke")
    failing_first = recorder("FailingFirst", log, first_error)
    healthy = recorder("Healthy", log)
    failing_second = recorder("FailingSecond", log, second_error)
    event = Joined(user_id="u1")

    with pytest.raises(RuntimeError) as caught:
        await dispatcher(
            failing_first, healthy, failing_second, max_concurrent=max_concurrent
        ).dispatch([event])

    assert "Healthy end u1" in log
    assert "FailingSecond end u1" in log
    assert caught.value is first_error
    report = report_of(caught.value)
    assert report.failures == (
        (event, failing_first, first_error),
        (event, failing_second, second_error),
    )
    assert "FailingFirst" in str(report)
    assert "FailingSecond" in str(report)
    assert "2 event handler(s) failed" in str(report)


async def test_failures_are_logged_at_error_level(caplog: pytest.LogCaptureFixture) -> None:
    first_error = RuntimeError("first broke")
    second_error = ValueError("second broke")
    handlers = [
        recorder("FailingFirst", [], first_error),
        recorder("FailingSecond", [], second_error),
    ]

    with (
        caplog.at_level(logging.ERROR, logger="cqrs.events"),
        pytest.raises(RuntimeError),
    ):
        await dispatcher(*handlers).dispatch([Joined(user_id="u1")])

    records = [r for r in caplog.records if r.name == "cqrs.events"]
    assert [r.levelno for r in records] == [logging.ERROR, logging.ERROR]
    assert [r.exc_info[1] if r.exc_info else None for r in records] == [
        first_error,
        second_error,
    ]
    assert "FailingFirst" in records[0].getMessage()
    assert "Joined" in records[0].getMessage()


async def test_successful_dispatch_logs_no_error(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="cqrs.events"):
        await dispatcher(recorder("Healthy", [])).dispatch([Joined(user_id="u1")])

    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_event_handler_fallback_runs_the_fallback_when_primary_fails() -> None:
    log: list[str] = []
    primary = recorder("Primary", log, ConnectionError("down"))
    backup = recorder("Backup", log)

    await dispatcher(cqrs.EventHandlerFallback(primary=primary, fallback=backup)).dispatch(
        [Joined(user_id="u1")]
    )

    assert log == ["Primary start u1", "Primary end u1", "Backup start u1", "Backup end u1"]


async def test_event_handler_fallback_skips_the_fallback_when_primary_succeeds() -> None:
    log: list[str] = []
    binding = cqrs.EventHandlerFallback(
        primary=recorder("Primary", log), fallback=recorder("Backup", log)
    )

    await dispatcher(binding).dispatch([Joined(user_id="u1")])

    assert log == ["Primary start u1", "Primary end u1"]


async def test_event_handler_fallback_only_catches_its_failure_exceptions() -> None:
    log: list[str] = []
    error = ValueError("not a connection problem")
    primary = recorder("Primary", log, error)
    binding = cqrs.EventHandlerFallback(
        primary=primary,
        fallback=recorder("Backup", log),
        failure_exceptions=(ConnectionError,),
    )

    with pytest.raises(ValueError, match="not a connection problem") as caught:
        await dispatcher(binding).dispatch([Joined(user_id="u1")])

    assert "Backup start u1" not in log
    assert report_of(caught.value).failures[0][1:] == (primary, error)


async def test_event_handler_fallback_goes_straight_to_fallback_when_breaker_open() -> None:
    log: list[str] = []
    binding = cqrs.EventHandlerFallback(
        primary=recorder("Primary", log, ConnectionError("down")),
        fallback=recorder("Backup", log),
        circuit_breaker=AioBreakerAdapter(fail_max=1, timeout_duration=600),
    )
    events_dispatcher = dispatcher(binding)

    await events_dispatcher.dispatch([Joined(user_id="a")])
    await events_dispatcher.dispatch([Joined(user_id="b")])

    assert "Primary start b" not in log
    assert "Backup end b" in log


class SyncAudit(cqrs.SyncEventHandler[Joined]):
    seen: typing.ClassVar[list[str]] = []

    def handle(self, event: Joined) -> None:
        self.seen.append(event.user_id)


async def test_sync_event_handler_is_called() -> None:
    SyncAudit.seen.clear()

    await dispatcher(SyncAudit).dispatch([Joined(user_id="u1"), Joined(user_id="u2")])

    assert SyncAudit.seen == ["u1", "u2"]


async def test_sync_event_handler_failure_is_reported() -> None:
    error = RuntimeError("sync broke")

    class BrokenSync(cqrs.SyncEventHandler[Joined]):
        def handle(self, event: Joined) -> None:
            raise error

    with pytest.raises(RuntimeError) as caught:
        await dispatcher(BrokenSync).dispatch([Joined(user_id="u1")])

    assert caught.value is error
    assert report_of(caught.value).failures[0][1:] == (BrokenSync, error)


async def test_each_dispatch_resolves_a_fresh_handler() -> None:
    instances: list[object] = []

    class Counting(cqrs.EventHandler[Joined]):
        async def handle(self, event: Joined) -> None:
            instances.append(self)

    events_dispatcher = dispatcher(Counting)
    await events_dispatcher.dispatch([Joined(user_id="a")])
    await events_dispatcher.dispatch([Joined(user_id="b")])

    assert len(instances) == 2
    assert instances[0] is not instances[1]
