"""Shared timing harness of the benchmarks: paired cases, alternating reps, medians.

A case pairs a baseline (hand-written code) with the same work through the
library. Reps of the two alternate and swap order every rep so both see the
same machine noise; the garbage collector is off during a rep; each side's
figure is the median over the reps of the time per unit (call, chunk, saga).
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

WARMUP_FRACTION = 10  # warm-up runs --n // WARMUP_FRACTION calls of each side


# Runs `n` calls and returns how many units (calls, or chunks) it timed.
Runner = Callable[[int], Awaitable[int]]


@dataclass(frozen=True)
class Case:
    name: str
    direct: Runner
    mediator: Runner
    target: float | None  # None: informational


@dataclass(frozen=True)
class Result:
    case: Case
    direct_ns: float
    mediator_ns: float

    @property
    def ratio(self) -> float:
        return self.mediator_ns / self.direct_ns

    @property
    def ok(self) -> bool | None:
        return None if self.case.target is None else self.ratio <= self.case.target


async def time_per_unit(run: Runner, n: int) -> float:
    """Run one rep of `n` calls with the GC off; return nanoseconds per unit."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        units = await run(n)
        elapsed = time.perf_counter_ns() - start
    finally:
        gc.enable()
    return elapsed / units


async def measure(case: Case, n: int, reps: int) -> Result:
    """Warm both sides up, then alternate their reps; return the medians."""
    warmup = max(1, n // WARMUP_FRACTION)
    await case.direct(warmup)
    await case.mediator(warmup)
    samples: dict[Runner, list[float]] = {case.direct: [], case.mediator: []}
    order = [case.direct, case.mediator]
    for _ in range(reps):
        for run in order:
            samples[run].append(await time_per_unit(run, n))
        order.reverse()
    return Result(
        case,
        statistics.median(samples[case.direct]),
        statistics.median(samples[case.mediator]),
    )


HEADER = ("case", "direct µs/call", "mediator µs/call", "ratio", "target", "ok")


def table_rows(results: list[Result]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [HEADER]
    for result in results:
        target = result.case.target
        rows.append(
            (
                result.case.name,
                f"{result.direct_ns / 1000:.3f}",
                f"{result.mediator_ns / 1000:.3f}",
                f"{result.ratio:.2f}",
                "-" if target is None else f"<= {target:.2f}",
                {None: "info", True: "yes", False: "NO"}[result.ok],
            )
        )
    return rows


def print_table(results: list[Result]) -> None:
    rows = table_rows(results)
    widths = [max(len(row[col]) for row in rows) for col in range(len(HEADER))]
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        print("  ".join(cells))
        if index == 0:
            print("  ".join("-" * width for width in widths))
