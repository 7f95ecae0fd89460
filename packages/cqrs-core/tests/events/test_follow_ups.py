"""Follow-up events: what event handlers record in `events` is dispatched too, breadth first."""

from __future__ import annotations

import asyncio
import typing

import pydantic
import pytest

import cqrs
from cqrs.container.di import DIContainer
from cqrs.events import bootstrap as event_bootstrap
from cqrs.events.dispatcher import MAX_FOLLOW_UP_LEVELS
from cqrs.requests import bootstrap as request_bootstrap

GUARD_SECONDS = 5  # only turns a deadlock into a failure; never used to wait for work


class Level(cqrs.DomainEvent):
    """An event of a chain: `depth` 1 is emitted by the command handler."""

    chain: str
    depth: int


class Shout(pydantic.BaseModel):
    chain: str


class Go(cqrs.Request):
    chains: list[str]


def next_level_handler(log: list[str], last_depth: int) -> type[cqrs.EventHandler[Level]]:
    """A handler that logs each level and records the next one, down to `last_depth`."""

    class NextLevel(cqrs.EventHandler[Level]):
        def __init__(self) -> None:
            self._events: list[cqrs.IEvent] = []

        @property
        def events(self) -> list[cqrs.IEvent]:
            return self._events

        async def handle(self, event: Level) -> None:
            log.append(f"{event.chain}{event.depth}")
            if event.depth < last_depth:
                self._events.append(Level(chain=event.chain, depth=event.depth + 1))

    return NextLevel


class StartChains(cqrs.RequestHandler[Go, None]):
    def __init__(self) -> None:
        self._events: list[cqrs.IEvent] = []

    @property
    def events(self) -> list[cqrs.IEvent]:
        return self._events

    async def handle(self, request: Go) -> None:
        self._events.extend(Level(chain=chain, depth=1) for chain in request.chains)


def request_mediator(
    handler: type[cqrs.EventHandler[Level]],
    broker: cqrs.MessageBroker | None = None,
    **options: typing.Any,
) -> cqrs.RequestMediator:
    return request_bootstrap.bootstrap(
        message_broker=broker,
        commands_mapper=lambda mapper: mapper.bind(Go, StartChains),
        domain_events_mapper=lambda mapper: mapper.bind(Level, handler),
        **options,
    )


async def test_a_chain_of_three_levels_is_handled_to_the_end() -> None:
    log: list[str] = []

    await request_mediator(next_level_handler(log, last_depth=3)).send(Go(chains=["a"]))

    assert log == ["a1", "a2", "a3"]


async def test_a_chain_as_deep_as_the_limit_is_handled_to_the_end() -> None:
    log: list[str] = []

    await request_mediator(next_level_handler(log, last_depth=MAX_FOLLOW_UP_LEVELS)).send(
        Go(chains=["a"])
    )

    assert len(log) == MAX_FOLLOW_UP_LEVELS


async def test_handlers_that_feed_each_other_for_ever_are_stopped_at_the_limit() -> None:
    log: list[str] = []
    endless = next_level_handler(log, last_depth=10 * MAX_FOLLOW_UP_LEVELS)

    with pytest.raises(cqrs.FollowUpLimitError, match="Level") as raised:
        await request_mediator(endless).send(Go(chains=["a"]))

    assert len(log) == MAX_FOLLOW_UP_LEVELS
    assert [type(event) for event in raised.value.events] == [Level]


@pytest.mark.parametrize("max_concurrent", [1, 4], ids=["sequential", "parallel"])
async def test_follow_ups_are_dispatched_breadth_first(max_concurrent: int) -> None:
    log: list[str] = []
    mediator = request_mediator(
        next_level_handler(log, last_depth=3), max_concurrent_event_handlers=max_concurrent
    )

    await mediator.send(Go(chains=["a", "b"]))

    # Every event of one level is handled before any event of the next.
    assert [entry[1] for entry in log] == ["1", "1", "2", "2", "3", "3"]
    assert sorted(log) == ["a1", "a2", "a3", "b1", "b2", "b3"]


async def test_follow_ups_run_under_the_same_concurrency_limit() -> None:
    running = 0
    peak = 0
    handled = 0

    class Slow(cqrs.EventHandler[Level]):
        def __init__(self) -> None:
            self._events: list[cqrs.IEvent] = []

        @property
        def events(self) -> list[cqrs.IEvent]:
            return self._events

        async def handle(self, event: Level) -> None:
            nonlocal running, peak, handled
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0)  # let the other handlers of the level start
            running -= 1
            handled += 1
            if event.depth == 1:
                self._events.extend(Level(chain=event.chain, depth=2) for _ in range(5))

    mediator = request_mediator(Slow, max_concurrent_event_handlers=2)

    await asyncio.wait_for(mediator.send(Go(chains=["a", "b", "c"])), GUARD_SECONDS)

    assert handled == 3 + 3 * 5
    assert peak == 2


async def test_notification_follow_ups_go_to_the_broker() -> None:
    broker = cqrs.InMemoryMessageBroker()

    class Announce(cqrs.EventHandler[Level]):
        @property
        def events(self) -> list[cqrs.IEvent]:
            return [
                cqrs.NotificationEvent[Shout](
                    event_name="shouted", topic="shouts", payload=Shout(chain="a")
                )
            ]

        async def handle(self, event: Level) -> None:
            pass

    await request_mediator(Announce, broker).send(Go(chains=["a"]))

    assert [message.message_name for message in broker.messages] == ["shouted"]


async def test_emit_returns_the_follow_ups_without_dispatching_them() -> None:
    log: list[str] = []
    event_map = cqrs.EventMap()
    event_map.bind(Level, next_level_handler(log, last_depth=3))
    emitter = cqrs.EventEmitter(event_map, DIContainer())

    follow_ups = await emitter.emit(Level(chain="a", depth=1))

    assert follow_ups == [Level(chain="a", depth=2)]
    assert log == ["a1"]


async def test_event_mediator_dispatches_follow_ups() -> None:
    log: list[str] = []
    mediator = event_bootstrap.bootstrap(
        events_mapper=lambda mapper: mapper.bind(Level, next_level_handler(log, last_depth=3))
    )

    await mediator.send(Level(chain="a", depth=1))

    assert log == ["a1", "a2", "a3"]


async def test_streaming_mediator_dispatches_follow_ups() -> None:
    log: list[str] = []

    class StreamChains(cqrs.StreamingRequestHandler[Go, str]):
        def __init__(self) -> None:
            self._events: list[cqrs.IEvent] = []

        @property
        def events(self) -> list[cqrs.IEvent]:
            return self._events

        def clear_events(self) -> None:
            self._events.clear()

        async def handle(self, request: Go) -> typing.AsyncIterator[str]:
            for chain in request.chains:
                self._events.append(Level(chain=chain, depth=1))
                yield chain

    mediator = request_bootstrap.bootstrap_streaming(
        commands_mapper=lambda mapper: mapper.bind(Go, StreamChains),
        domain_events_mapper=lambda mapper: mapper.bind(
            Level, next_level_handler(log, last_depth=2)
        ),
    )

    assert [chain async for chain in mediator.stream(Go(chains=["a", "b"]))] == ["a", "b"]
    assert log == ["a1", "a2", "b1", "b2"]


async def test_a_failed_handler_keeps_the_other_chains_going_and_is_raised_at_the_end() -> None:
    log: list[str] = []
    healthy = next_level_handler(log, last_depth=3)

    class BreaksOnB(healthy):
        async def handle(self, event: Level) -> None:
            if event.chain == "b":
                raise LookupError("b is gone")
            await super().handle(event)

    with pytest.raises(LookupError, match="b is gone"):
        await request_mediator(BreaksOnB).send(Go(chains=["a", "b"]))

    assert log == ["a1", "a2", "a3"]
