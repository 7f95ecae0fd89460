"""Saga engine throughput on memory storage, against a minimal hand-written runner.

Run with `uv run python bench/saga.py [--reps 7] [--n 5000]`.

Both sides run the same three steps over the same context, one saga after
another:

* runner   a hand-written loop: save the context as a dict before the first
           step and after every step (the least a crash-safe runner must
           do), build each step, `act`, and compensate in reverse on failure
           (never triggered here);
* engine   `mediator.stream(context, saga_id=...)` from `cqrs.saga.bootstrap`
           on `MemorySagaStorage`: lease, step log, versioned context, statuses.

An informational second case, `storage writes alone`, makes the same
storage calls the engine makes for one saga (create it claimed, one
`record_step` per step) inline, with no engine around them: the part of the
gap that the storage's guarantees cost, whatever the engine does.

Target: the engine's throughput is at least half the runner's, so the last
line `ratio_saga_over_runner` (engine sagas/s over runner sagas/s) is >= 0.5.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import os
import platform
import typing
import uuid

import di
from harness import Case, Result, measure, print_table

import cqrs
from cqrs.saga import bootstrap
from cqrs.saga.models import SagaContext, SagaStatus, SagaStepAction, SagaStepStatus
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage

TARGET = 0.5  # engine throughput / runner throughput


@dataclasses.dataclass
class TripContext(SagaContext):
    trip_id: str
    flight: str | None = None
    hotel: str | None = None
    charged: bool = False


class BookFlight(SagaStepHandler[TripContext, None]):
    async def act(self, context: TripContext) -> SagaStepResult[TripContext, None]:
        context.flight = f"F-{context.trip_id}"
        return self._generate_step_result(None)

    async def compensate(self, context: TripContext) -> None:
        context.flight = None


class BookHotel(SagaStepHandler[TripContext, None]):
    async def act(self, context: TripContext) -> SagaStepResult[TripContext, None]:
        context.hotel = f"H-{context.trip_id}"
        return self._generate_step_result(None)

    async def compensate(self, context: TripContext) -> None:
        context.hotel = None


class ChargeCard(SagaStepHandler[TripContext, None]):
    async def act(self, context: TripContext) -> SagaStepResult[TripContext, None]:
        context.charged = True
        return self._generate_step_result(None)

    async def compensate(self, context: TripContext) -> None:
        context.charged = False


STEPS: tuple[type[SagaStepHandler[TripContext, None]], ...] = (BookFlight, BookHotel, ChargeCard)


class TripSaga(Saga[TripContext]):
    steps: typing.ClassVar = [BookFlight, BookHotel, ChargeCard]


async def run_by_hand(context: TripContext, store: dict[uuid.UUID, dict[str, typing.Any]]) -> None:
    """The baseline: the smallest runner that could survive a crash."""
    saga_id = uuid.uuid4()
    # Saved before the first act as well: without it, a crash inside that act
    # leaves no trace of the saga, so its effect is never retried nor undone.
    store[saga_id] = {"step": 0, "context": context.to_dict()}
    done: list[SagaStepHandler[TripContext, None]] = []
    try:
        for step_type in STEPS:
            step = step_type()
            await step.act(context)
            done.append(step)
            store[saga_id] = {"step": len(done), "context": context.to_dict()}
    except Exception:
        for step in reversed(done):
            await step.compensate(context)
        raise


def saga_case() -> Case:
    mediator = bootstrap.bootstrap(
        di_container=di.Container(),
        sagas_mapper=lambda sagas: sagas.bind(TripContext, TripSaga),
        saga_storage=MemorySagaStorage(),
    )
    store: dict[uuid.UUID, dict[str, typing.Any]] = {}

    async def runner(n: int) -> int:
        for index in range(n):
            await run_by_hand(TripContext(trip_id=str(index)), store)
        return n

    async def engine(n: int) -> int:
        for index in range(n):
            context = TripContext(trip_id=str(index))
            async for _ in mediator.stream(context, saga_id=uuid.uuid4()):
                pass
        return n

    # The harness reports time ratios (engine / runner); the target is on throughput.
    return Case("3-step saga", runner, engine, target=1 / TARGET)


def storage_floor_case() -> Case:
    storage = MemorySagaStorage()
    store: dict[uuid.UUID, dict[str, typing.Any]] = {}
    lease = datetime.timedelta(seconds=60)
    last = len(STEPS) - 1

    async def runner(n: int) -> int:
        for index in range(n):
            await run_by_hand(TripContext(trip_id=str(index)), store)
        return n

    async def writes_alone(n: int) -> int:
        for index in range(n):
            context, saga_id = TripContext(trip_id=str(index)), uuid.uuid4()
            await storage.create_saga(
                saga_id, "TripSaga", context.to_dict(), owner="bench", lease=lease
            )
            version = 1
            for position, step_type in enumerate(STEPS):
                await step_type().act(context)
                version = await storage.record_step(
                    saga_id,
                    step_type.__name__,
                    SagaStepAction.ACT,
                    SagaStepStatus.COMPLETED,
                    context=context.to_dict(),
                    current_version=version,
                    saga_status=SagaStatus.COMPLETED if position == last else None,
                )
        return n

    return Case("storage writes alone (info)", runner, writes_alone, target=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reps", type=int, default=7, help="reps per side (default 7)")
    parser.add_argument("--n", type=int, default=5_000, help="sagas per rep (default 5000)")
    args = parser.parse_args()
    if args.reps < 1 or args.n < 1:
        parser.error("--reps and --n must be at least 1")
    result: Result = asyncio.run(measure(saga_case(), args.n, args.reps))
    floor: Result = asyncio.run(measure(storage_floor_case(), args.n, args.reps))
    print(
        f"cqrs saga benchmark: cqrs-core {cqrs.__version__}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, median of {args.reps} reps "
        f"x {args.n} sagas (µs per saga; ratio = engine time / runner time)"
    )
    print()
    print_table([result, floor])
    throughput = 1 / result.ratio
    print()
    print(f"engine {1e9 / result.mediator_ns:,.0f} sagas/s, runner {1e9 / result.direct_ns:,.0f}")
    if throughput < TARGET:
        print(
            f"WARNING: engine throughput is {throughput:.0%} of the runner's (target {TARGET:.0%})"
        )
    print(f"ratio_saga_over_runner={throughput:.3f}")


if __name__ == "__main__":
    main()
