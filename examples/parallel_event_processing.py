"""Parallel domain event processing, with a cap on concurrency.

A weather network ingests batches of sensor readings. Each reading becomes a
`ReadingStored` domain event whose handler does slow I/O (simulated with a
sleep) and reports how many handlers are running at that moment, so the
example can show the effect of the two bootstrap options:

* `max_concurrent_event_handlers`: how many handlers may run at once;
* `concurrent_event_handle_enable`: `False` runs them one after another.

Both `bootstrap.bootstrap_streaming` (default limit 10) and
`bootstrap.bootstrap` (default limit 1, i.e. sequential) accept them.

Run: `python examples/parallel_event_processing.py`
"""

from __future__ import annotations

import asyncio
import typing

import di

import cqrs
from cqrs.message_brokers import devnull
from cqrs.requests import bootstrap
from cqrs.requests.request_handler import StreamingRequestHandler

READINGS_PER_BATCH = 6


class ConcurrencyGauge:
    def __init__(self) -> None:
        self.active = 0
        self.peak = 0
        self.handled = 0

    def reset(self) -> None:
        self.active = self.peak = self.handled = 0


GAUGE = ConcurrencyGauge()


class IngestBatchesCommand(cqrs.Request):
    station: str
    batches: int


class IngestBatchCommand(cqrs.Request):
    station: str


class BatchIngested(cqrs.Response):
    station: str
    batch_no: int
    readings: int


class ReadingStored(cqrs.DomainEvent):
    station: str
    batch_no: int
    index: int


def readings_for(station: str, batch_no: int) -> list[ReadingStored]:
    return [
        ReadingStored(station=station, batch_no=batch_no, index=i)
        for i in range(READINGS_PER_BATCH)
    ]


class IngestBatchesHandler(StreamingRequestHandler[IngestBatchesCommand, BatchIngested]):
    def __init__(self) -> None:
        self._events: list[cqrs.Event] = []

    @property
    def events(self) -> list[cqrs.Event]:
        return self._events.copy()

    def clear_events(self) -> None:
        self._events.clear()

    async def handle(self, request: IngestBatchesCommand) -> typing.AsyncIterator[BatchIngested]:
        for batch_no in range(1, request.batches + 1):
            self._events.extend(readings_for(request.station, batch_no))
            yield BatchIngested(
                station=request.station, batch_no=batch_no, readings=READINGS_PER_BATCH
            )


class IngestBatchHandler(cqrs.RequestHandler[IngestBatchCommand, BatchIngested]):
    def __init__(self) -> None:
        self._events: list[cqrs.Event] = []

    @property
    def events(self) -> list[cqrs.Event]:
        return self._events

    async def handle(self, request: IngestBatchCommand) -> BatchIngested:
        self._events.extend(readings_for(request.station, 1))
        return BatchIngested(station=request.station, batch_no=1, readings=READINGS_PER_BATCH)


class IndexReading(cqrs.EventHandler[ReadingStored]):
    async def handle(self, event: ReadingStored) -> None:
        GAUGE.active += 1
        GAUGE.peak = max(GAUGE.peak, GAUGE.active)
        await asyncio.sleep(0.005)  # write to the time-series store
        GAUGE.active -= 1
        GAUGE.handled += 1


# A streaming mediator only serves streaming handlers, so each mediator
# gets its own commands mapper.
def streaming_commands_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(IngestBatchesCommand, IngestBatchesHandler)


def commands_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(IngestBatchCommand, IngestBatchHandler)


def domain_events_mapper(mapper: cqrs.EventMap) -> None:
    mapper.bind(ReadingStored, IndexReading)


async def run_streaming(**options: typing.Any) -> tuple[int, int]:
    GAUGE.reset()
    mediator = bootstrap.bootstrap_streaming(
        di_container=di.Container(),
        commands_mapper=streaming_commands_mapper,
        domain_events_mapper=domain_events_mapper,
        message_broker=devnull.DevnullMessageBroker(),
        **options,
    )
    async for _ in mediator.stream(IngestBatchesCommand(station="ridge-3", batches=2)):
        pass
    return GAUGE.peak, GAUGE.handled


async def run_plain(**options: typing.Any) -> tuple[int, int]:
    GAUGE.reset()
    mediator = bootstrap.bootstrap(
        di_container=di.Container(),
        commands_mapper=commands_mapper,
        domain_events_mapper=domain_events_mapper,
        **options,
    )
    await mediator.send(IngestBatchCommand(station="ridge-3"))
    return GAUGE.peak, GAUGE.handled


async def main() -> dict[str, tuple[int, int]]:
    """Return, per configuration, (peak concurrent handlers, handlers run)."""
    results = {
        "streaming, limit 3": await run_streaming(
            max_concurrent_event_handlers=3,  # up to 3 handlers at once
            concurrent_event_handle_enable=True,
        ),
        "streaming, parallelism disabled": await run_streaming(
            max_concurrent_event_handlers=3,
            concurrent_event_handle_enable=False,  # one after another
        ),
        "streaming, defaults": await run_streaming(),
        "request mediator, defaults": await run_plain(),
        "request mediator, limit 4": await run_plain(max_concurrent_event_handlers=4),
    }
    for name, (peak, handled) in results.items():
        print(f"{name:34} peak={peak} handled={handled}")
    return results


if __name__ == "__main__":
    asyncio.run(main())
