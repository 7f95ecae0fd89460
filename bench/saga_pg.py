"""The saga engine on PostgreSQL (`cqrs_sqla.SqlAlchemySagaStorage`) against a raw asyncpg
runner with the same durability.

Run with `uv run python bench/saga_pg.py [--reps 5] [--n 300] [--concurrency 16]`.

The script creates a throwaway database on the PostgreSQL server named by
`BENCH_POSTGRES_URL` (default `postgresql://postgres@127.0.0.1:5432/postgres`)
and drops it at the end. Both sides run bench/saga.py's 3-step saga (each
step sets a field of the context):

* raw      asyncpg by hand: one statement that commits the saga's row (claimed,
           its context as JSON) before the first step, then per step one
           statement that moves the row on, fenced on its version, and appends
           the step's log entry (`WITH moved AS (UPDATE ... RETURNING id) INSERT
           INTO saga_log SELECT ... FROM moved`), committed: a crash at any point
           leaves a saga that can be resumed from its last step. 4 round trips.
* library  `mediator.stream(context, saga_id=...)` from `cqrs.saga.bootstrap` on
           `SqlAlchemySagaStorage` over `cqrs_sqla.create_engine` (pool as large
           as the concurrency), the same tables (`cqrs_sqla.schema`).

Each is timed one saga at a time (one connection each side), then with
`--concurrency` sagas in flight (that many connections each side). Figures
are the median over `--reps` reps of `--n` sagas, the sides alternating
(bench/harness.py). Target: library sagas/s >= 0.7 x raw, in both cases. The
script exits 0 and prints `WARNING:` lines for a missed target; the last two
lines are `ratio_sequential=` and `ratio_concurrent=` (library sagas/s over raw).

It also prints the CPU time this process spent per saga on each side (user
and system, from `getrusage`, over all of a side's reps and warm-up): on a
machine other work is loading, wall-clock ratios swing with the scheduler,
while the CPU a side spends per saga moves much less.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import resource
import typing
import uuid
from collections.abc import Awaitable, Callable

import di
import drivers
import sqlalchemy as sa
from harness import Case, Result, measure, print_table
from outbox_relay import DEFAULT_URL, admin_execute, schema_named, urls
from saga import STEPS, TripContext, TripSaga
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

import cqrs
import cqrs_sqla
from cqrs.saga import bootstrap
from cqrs_sqla.saga_storage import SqlAlchemySagaStorage
from cqrs_sqla.schema import Schema, create_all

TARGET = 0.7  # library sagas/s over raw sagas/s, at least
LEASE = datetime.timedelta(seconds=60)

# Runs one saga.
OneSaga = Callable[[int], Awaitable[None]]


def raw_statements(schema: Schema) -> tuple[str, str, str]:
    """The raw runner's create, step and last-step statements."""
    saga, log = schema.saga.name, schema.saga_log.name
    create = f"""
        INSERT INTO {saga} (id, name, status, context, version, recovery_attempts, owner,
                            lease_until, created_at, updated_at)
        VALUES ($1, 'TripSaga', 'pending', $2::json, 1, 0, $3, $4, $5, $5)
    """

    def step(status: str) -> str:
        return f"""
            WITH moved AS (
                UPDATE {saga} SET context = $2::json, version = version + 1, updated_at = $4,
                    status = {status}
                WHERE id = $1 AND version = $3 AND status NOT IN ('completed', 'failed')
                RETURNING id
            )
            INSERT INTO {log} (saga_id, step_name, action, status, created_at)
            SELECT id, $5, 'act', 'completed', $4 FROM moved
        """

    return create, step("status"), step("'completed'")


def raw_runner(connection: drivers.Connection, schema: Schema) -> OneSaga:
    create, step, last = raw_statements(schema)

    async def run(index: int) -> None:
        context, saga_id = TripContext(trip_id=str(index)), uuid.uuid4()
        now = datetime.datetime.now(datetime.timezone.utc)
        await connection.execute(
            create, saga_id, json.dumps(context.to_dict()), "bench", now + LEASE, now
        )
        for position, step_type in enumerate(STEPS):
            await step_type().act(context)
            statement = last if position == len(STEPS) - 1 else step
            now = datetime.datetime.now(datetime.timezone.utc)
            done = await connection.execute(
                statement,
                saga_id,
                json.dumps(context.to_dict()),
                position + 1,
                now,
                step_type.__name__,
            )
            if done != "INSERT 0 1":
                raise RuntimeError(f"saga {saga_id} moved on under the raw runner")

    return run


def library_runner(engine: AsyncEngine, schema: Schema) -> OneSaga:
    storage = SqlAlchemySagaStorage(async_sessionmaker(engine), schema)
    mediator = bootstrap.bootstrap(
        di_container=di.Container(),
        sagas_mapper=lambda sagas: sagas.bind(TripContext, TripSaga),
        saga_storage=storage,
    )

    async def run(index: int) -> None:
        async for _ in mediator.stream(TripContext(trip_id=str(index)), saga_id=uuid.uuid4()):
            pass

    return run


class CpuMeter:
    """Wraps a side's runner; adds up the CPU time (user and system) of this process
    that its runs took, and the sagas they ran."""

    def __init__(self, run: Callable[[int], Awaitable[int]]) -> None:
        self._run = run
        self.seconds = 0.0
        self.sagas = 0

    async def __call__(self, n: int) -> int:
        before = resource.getrusage(resource.RUSAGE_SELF)
        sagas = await self._run(n)
        after = resource.getrusage(resource.RUSAGE_SELF)
        self.seconds += after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        self.sagas += sagas
        return sagas

    @property
    def us_per_saga(self) -> float:
        return 1e6 * self.seconds / self.sagas


def sequential(one: OneSaga) -> Callable[[int], Awaitable[int]]:
    async def run(n: int) -> int:
        for index in range(n):
            await one(index)
        return n

    return run


def concurrent(ones: list[OneSaga]) -> Callable[[int], Awaitable[int]]:
    """`n` sagas, `len(ones)` at a time: one task per runner, each taking the next index."""

    async def run(n: int) -> int:
        indexes = iter(range(n))

        async def worker(one: OneSaga) -> None:
            for index in indexes:
                await one(index)

        await asyncio.gather(*(worker(one) for one in ones))
        return n

    return run


async def run_all(admin: str, n: int, reps: int, concurrency: int) -> dict[str, typing.Any]:
    database = f"bench_saga_{uuid.uuid4().hex[:12]}"
    await admin_execute(admin, f'CREATE DATABASE "{database}"')
    raw_url, sqla_url = urls(admin, database)
    engine = cqrs_sqla.create_engine(sqla_url, pool_size=concurrency, max_overflow=0)
    connections: list[drivers.Connection] = []
    try:
        raw_schema, lib_schema = schema_named("bench_raw"), schema_named("bench_lib")
        for schema in (raw_schema, lib_schema):
            await create_all(engine, schema)
        async with engine.connect() as connection:
            version = (await connection.execute(sa.text("SHOW server_version"))).scalar_one()
        connections = [await drivers.connect(raw_url) for _ in range(concurrency)]
        library = library_runner(engine, lib_schema)
        one_raw = CpuMeter(sequential(raw_runner(connections[0], raw_schema)))
        many_raw = CpuMeter(concurrent([raw_runner(c, raw_schema) for c in connections]))
        one_library = CpuMeter(sequential(library))
        many_library = CpuMeter(concurrent([library] * concurrency))
        cases = [
            Case("3-step saga, one at a time", one_raw, one_library, 1 / TARGET),
            Case(f"3-step saga, {concurrency} at a time", many_raw, many_library, 1 / TARGET),
        ]
        results = [await measure(case, n, reps) for case in cases]
        cpu = [(one_raw, one_library), (many_raw, many_library)]
    finally:
        for connection in connections:
            await connection.close()
        await engine.dispose()
        await admin_execute(admin, f'DROP DATABASE "{database}" WITH (FORCE)')
    return {"version": version, "results": results, "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="reps per side (default 5)")
    parser.add_argument("--n", type=int, default=300, help="sagas per rep (default 300)")
    parser.add_argument("--concurrency", type=int, default=16, help="sagas in flight (16)")
    args = parser.parse_args()
    if args.reps < 1 or args.n < 1 or args.concurrency < 1:
        parser.error("--reps, --n and --concurrency must be at least 1")
    admin = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_URL)
    figures = asyncio.run(run_all(admin, args.n, args.reps, args.concurrency))
    results: list[Result] = figures["results"]
    cpu: list[tuple[CpuMeter, CpuMeter]] = figures["cpu"]
    print(
        f"cqrs saga on PostgreSQL: cqrs-core {cqrs.__version__}, cqrs-sqla "
        f"{cqrs_sqla.__version__}, PostgreSQL {figures['version']}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, "
        f"median of {args.reps} reps x {args.n} sagas"
    )
    print("(µs per saga; 'direct' = raw asyncpg; ratio = library time / raw time)")
    print()
    print_table(results)
    print()
    ratios = [1 / result.ratio for result in results]
    for result, ratio, (raw, lib) in zip(results, ratios, cpu, strict=True):
        print(
            f"{result.case.name}: library {1e9 / result.mediator_ns:,.0f} sagas/s, "
            f"raw {1e9 / result.direct_ns:,.0f} sagas/s; CPU of this process per saga: "
            f"library {lib.us_per_saga:.0f} µs, raw {raw.us_per_saga:.0f} µs "
            f"(raw / library {raw.us_per_saga / lib.us_per_saga:.2f})"
        )
        if ratio < TARGET:
            print(f"WARNING: {result.case.name} is {ratio:.0%} of raw (target {TARGET:.0%})")
    print(f"ratio_sequential={ratios[0]:.3f}")
    print(f"ratio_concurrent={ratios[1]:.3f}")


if __name__ == "__main__":
    main()
