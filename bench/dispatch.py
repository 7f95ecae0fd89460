"""Dispatch overhead of the cqrs mediators, against calling the handlers directly.

Run with `uv run python bench/dispatch.py [--reps 7] [--n 50000]` (or `make bench`).

Each case pairs a direct baseline (what a hand-written call site would do) with
the same work sent through a mediator built by `cqrs.requests.bootstrap`:

* send       `await mediator.send(cmd)` vs `await Handler().handle(cmd)`
* events     the same, the handler recording 3 domain events with 2 handlers
             each, vs handling them inline in a loop
* streaming  per chunk of `async for c in mediator.stream(req)` vs iterating
             `Handler().handle(req)`
* di         (informational) a handler with one dependency bound in a
             `di.Container`, vs `Handler(Impl())`
* send traced  `send` through a mediator with `cqrs.telemetry.TracingMiddleware`
             and no OpenTelemetry SDK configured, vs the same `send` without it
             (its baseline is the mediator, not the handler)

Every figure is the median over `--reps` reps of the time per call of a rep of
`--n` calls. Baseline and mediator reps alternate (and swap order every rep) so
they share the machine's noise; the garbage collector is off while a rep runs.
Only the ratios are comparable between machines. The script always exits 0: it
warns, it does not fail.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import typing
from collections.abc import AsyncIterator

import di
from di.dependent import Dependent
from harness import Case, Result, measure, print_table

import cqrs
from cqrs.events.map import EventMap
from cqrs.requests.bootstrap import bootstrap, bootstrap_streaming
from cqrs.requests.map import RequestMap
from cqrs.telemetry import TracingMiddleware

STREAM_CHUNKS = 100  # responses per stream in the streaming case


# --- messages and handlers ---------------------------------------------------


class Res(cqrs.Response):
    value: int


class Cmd(cqrs.Request[Res]):
    value: int


class CmdHandler(cqrs.RequestHandler[Cmd, Res]):
    async def handle(self, request: Cmd) -> Res:
        return Res(value=request.value)


class OrderPlaced(cqrs.DomainEvent):
    order_id: int


class OrderPaid(cqrs.DomainEvent):
    order_id: int


class OrderShipped(cqrs.DomainEvent):
    order_id: int


class PlaceOrder(cqrs.Request[Res]):
    order_id: int


class PlaceOrderHandler(cqrs.RequestHandler[PlaceOrder, Res]):
    def __init__(self) -> None:
        self._events: list[cqrs.DomainEvent] = []

    @property
    def events(self) -> list[cqrs.DomainEvent]:
        return self._events

    async def handle(self, request: PlaceOrder) -> Res:
        order_id = request.order_id
        self._events += (
            OrderPlaced(order_id=order_id),
            OrderPaid(order_id=order_id),
            OrderShipped(order_id=order_id),
        )
        return Res(value=order_id)


class Projection(cqrs.EventHandler[cqrs.DomainEvent]):
    async def handle(self, event: cqrs.DomainEvent) -> None:
        pass


class Audit(cqrs.EventHandler[cqrs.DomainEvent]):
    async def handle(self, event: cqrs.DomainEvent) -> None:
        pass


EVENT_TYPES = (OrderPlaced, OrderPaid, OrderShipped)
EVENT_HANDLERS = (Projection, Audit)  # both bound to every event type


class Chunk(cqrs.Response):
    index: int


class Download(cqrs.Request[Chunk]):
    chunks: int


class DownloadHandler(cqrs.StreamingRequestHandler[Download, Chunk]):
    async def handle(self, request: Download) -> AsyncIterator[Chunk]:
        for index in range(request.chunks):
            yield Chunk(index=index)


class Repository(typing.Protocol):
    def get(self, key: int) -> int: ...


class MemoryRepository:
    def get(self, key: int) -> int:
        return key


class GetItem(cqrs.Request[Res]):
    key: int


class GetItemHandler(cqrs.RequestHandler[GetItem, Res]):
    def __init__(self, repository: Repository) -> None:
        self._repository = repository

    async def handle(self, request: GetItem) -> Res:
        return Res(value=self._repository.get(request.key))


# --- cases -------------------------------------------------------------------


def send_case() -> Case:
    mediator = bootstrap(
        di_container=di.Container(),
        commands_mapper=lambda requests: requests.bind(Cmd, CmdHandler),
    )
    cmd = Cmd(value=1)

    async def direct(n: int) -> int:
        for _ in range(n):
            await CmdHandler().handle(cmd)
        return n

    async def mediated(n: int) -> int:
        for _ in range(n):
            await mediator.send(cmd)
        return n

    return Case("send", direct, mediated, target=3.0)


def send_traced_case() -> Case:
    def bind(requests: RequestMap) -> None:
        requests.bind(Cmd, CmdHandler)

    plain = bootstrap(di_container=di.Container(), commands_mapper=bind)
    traced = bootstrap(
        di_container=di.Container(), commands_mapper=bind, middlewares=[TracingMiddleware()]
    )
    cmd = Cmd(value=1)

    async def untraced(n: int) -> int:
        for _ in range(n):
            await plain.send(cmd)
        return n

    async def with_middleware(n: int) -> int:
        for _ in range(n):
            await traced.send(cmd)
        return n

    return Case("send traced (no SDK)", untraced, with_middleware, target=1.1)


def bind_order_events(events: EventMap) -> None:
    for event_type in EVENT_TYPES:
        for handler_type in EVENT_HANDLERS:
            events.bind(event_type, handler_type)


def events_case() -> Case:
    mediator = bootstrap(
        di_container=di.Container(),
        commands_mapper=lambda requests: requests.bind(PlaceOrder, PlaceOrderHandler),
        domain_events_mapper=bind_order_events,
    )
    cmd = PlaceOrder(order_id=1)

    async def direct(n: int) -> int:
        for _ in range(n):
            handler = PlaceOrderHandler()
            await handler.handle(cmd)
            for event in handler.events:
                for handler_type in EVENT_HANDLERS:
                    await handler_type().handle(event)
        return n

    async def mediated(n: int) -> int:
        for _ in range(n):
            await mediator.send(cmd)
        return n

    return Case("events", direct, mediated, target=3.0)


def streaming_case() -> Case:
    mediator = bootstrap_streaming(
        di_container=di.Container(),
        commands_mapper=lambda requests: requests.bind(Download, DownloadHandler),
    )
    request = Download(chunks=STREAM_CHUNKS)

    async def direct(n: int) -> int:
        streams = max(1, n // STREAM_CHUNKS)
        for _ in range(streams):
            async for _chunk in DownloadHandler().handle(request):
                pass
        return streams * STREAM_CHUNKS

    async def mediated(n: int) -> int:
        streams = max(1, n // STREAM_CHUNKS)
        for _ in range(streams):
            async for _chunk in mediator.stream(request):
                pass
        return streams * STREAM_CHUNKS

    return Case("streaming (per chunk)", direct, mediated, target=1.5)


def bind_get_item(requests: RequestMap) -> None:
    requests.bind(GetItem, GetItemHandler)


def di_case() -> Case:
    container = di.Container()
    container.bind(di.bind_by_type(Dependent(MemoryRepository, scope="request"), Repository))
    mediator = bootstrap(di_container=container, commands_mapper=bind_get_item)
    query = GetItem(key=1)

    async def direct(n: int) -> int:
        for _ in range(n):
            await GetItemHandler(MemoryRepository()).handle(query)
        return n

    async def mediated(n: int) -> int:
        for _ in range(n):
            await mediator.send(query)
        return n

    return Case("di dependency (info)", direct, mediated, target=None)


# --- measurement -------------------------------------------------------------


# --- report ------------------------------------------------------------------


def print_report(results: list[Result], args: argparse.Namespace) -> None:
    print(
        f"cqrs dispatch benchmark: Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, median of {args.reps} reps x {args.n} calls "
        f"(streaming: {STREAM_CHUNKS} chunks per stream)"
    )
    print()
    print_table(results)
    print()
    for result in results:
        if result.ok is False:
            print(
                f"WARNING: {result.case.name} ratio {result.ratio:.2f} "
                f"is above its target {result.case.target:.1f}"
            )
    by_name = {"_".join(result.case.name.split()[:2]): result for result in results}
    for key, name in (
        ("send", "send"),
        ("events", "events"),
        ("streaming", "streaming_(per"),
        ("send_traced", "send_traced"),
    ):
        print(f"ratio_{key}={by_name[name].ratio:.3f}")


# --- main --------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reps", type=int, default=7, help="reps per side (default 7)")
    parser.add_argument("--n", type=int, default=50_000, help="calls per rep (default 50000)")
    args = parser.parse_args()
    if args.reps < 1 or args.n < 1:
        parser.error("--reps and --n must be at least 1")
    return args


async def run_all(n: int, reps: int) -> list[Result]:
    cases = [send_case(), events_case(), streaming_case(), di_case(), send_traced_case()]
    return [await measure(case, n, reps) for case in cases]


def main() -> None:
    args = parse_args()
    results = asyncio.run(run_all(args.n, args.reps))
    print_report(results, args)


if __name__ == "__main__":
    main()
