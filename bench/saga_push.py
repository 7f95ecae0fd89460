"""How soon a saga's transition reaches a follower in another process: pushed against polled.

Run with `uv run python bench/saga_push.py [--n 40]` (PostgreSQL on 127.0.0.1:5432,
or `CQRS_TEST_POSTGRES_URL`; a throwaway database is created and dropped).

Two engines on the same database stand for two processes: the writer logs a
step of a saga through `NotifyingSagaStorage`; the follower, which reads the
step log as the orders service's event stream does, notes when it sees it.

* poll   the follower reads the log every 250 ms (the event stream before
         `cqrs_sqla.saga_changes`);
* push   the follower waits on `SagaChanges.following` (LISTEN/NOTIFY) and
         reads the log when woken (the slow fallback poll never fires here).

The figure per side is the median, over `--n` transitions, of the time from
the write's return to the follower seeing it. The last line,
`ratio_push_over_poll`, is push median / poll median (lower is better; the
target is below 0.2). The push median in milliseconds is printed too (the
issue's goal is within 50 ms), but compare the ratio: absolute figures
depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
import uuid

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from cqrs.saga.models import SagaStepAction, SagaStepStatus
from cqrs_sqla.engine import create_engine
from cqrs_sqla.saga_changes import NotifyingSagaStorage, SagaChanges
from cqrs_sqla.saga_storage import SqlAlchemySagaStorage
from cqrs_sqla.schema import Schema, create_all
from cqrs_sqla.testing import throwaway_postgres_database

POLL_INTERVAL = 0.25  # seconds: the event stream's poll before the push
FALLBACK_POLL = 30.0  # seconds: the pushed follower's slow fallback, never reached here
TARGET = 0.2


async def follow(
    storage: SqlAlchemySagaStorage, changes: SagaChanges | None, saga_id: uuid.UUID, steps: int
) -> float:
    """Wait until the saga's log has `steps` entries; return when (perf_counter)."""
    if changes is None:
        # The polling baseline itself: what the event stream did before the push.
        while len(await storage.get_step_history(saga_id)) < steps:  # noqa: ASYNC110
            await asyncio.sleep(POLL_INTERVAL)
        return time.perf_counter()
    async with changes.following(saga_id) as changed:
        while True:
            changed.clear()
            if len(await storage.get_step_history(saga_id)) >= steps:
                return time.perf_counter()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(changed.wait(), FALLBACK_POLL)


async def latencies(
    writer_engine: AsyncEngine, follower_engine: AsyncEngine, n: int
) -> dict[str, list[float]]:
    schema = Schema()
    await create_all(writer_engine, schema)
    writer_changes = SagaChanges(writer_engine, schema)
    follower_changes = SagaChanges(follower_engine, schema)
    writer = NotifyingSagaStorage(
        SqlAlchemySagaStorage(async_sessionmaker(writer_engine), schema), writer_changes
    )
    reader = SqlAlchemySagaStorage(async_sessionmaker(follower_engine), schema)
    seen: dict[str, list[float]] = {"poll": [], "push": []}
    try:
        for index in range(n):
            for side, changes in (("poll", None), ("push", follower_changes)):
                saga_id = uuid.uuid4()
                await writer.create_saga(saga_id, "bench", {})
                following = asyncio.ensure_future(follow(reader, changes, saga_id, 1))
                # Let the follower read the empty log and start waiting, as a stream would.
                await asyncio.sleep(0.05 + (index % 5) * 0.01)
                await writer.log_step(saga_id, "Step", SagaStepAction.ACT, SagaStepStatus.COMPLETED)
                written = time.perf_counter()
                seen[side].append(await following - written)
    finally:
        await writer_changes.close()
        await follower_changes.close()
    return seen


async def main(url: str, n: int) -> None:
    writer_engine, follower_engine = create_engine(url), create_engine(url)
    try:
        seen = await latencies(writer_engine, follower_engine, n)
    finally:
        await writer_engine.dispose()
        await follower_engine.dispose()
    poll, push = statistics.median(seen["poll"]), statistics.median(seen["push"])
    ratio = push / poll
    print(f"transitions per side: {n}")
    print(f"poll every {POLL_INTERVAL * 1000:.0f} ms: median {poll * 1000:.1f} ms")
    print(
        f"push (LISTEN/NOTIFY): median {push * 1000:.1f} ms, max {max(seen['push']) * 1000:.1f} ms"
    )
    if ratio > TARGET:
        print(f"WARNING: push is not five times faster than polling (ratio {ratio:.3f})")
    print(f"push_median_ms={push * 1000:.2f}")
    print(f"ratio_push_over_poll={ratio:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description="How soon a saga's transition reaches a follower: pushed against polled."
    )
    parser.add_argument("--n", type=int, default=40, help="transitions per side (40)")
    options = parser.parse_args()
    with throwaway_postgres_database("bench_push") as database_url:
        asyncio.run(main(database_url, options.n))
