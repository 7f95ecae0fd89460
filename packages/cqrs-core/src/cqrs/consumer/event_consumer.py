"""`EventConsumer`: an `EventPipeline` run over a `ConsumerTransport`, partitions side by side.

- Each partition has its own worker, which settles the partition's records
  one after another, in offset order. A record being retried (or whose dead
  letter the broker refuses) holds up its own partition only: the others'
  workers carry on.
- A worker holds at most `max_buffered` records waiting; beyond that its
  partition is paused at the transport, and resumed once half are settled.
- Positions are committed in batches, at most once per `commit_interval`
  seconds: for each partition, one past its last settled record. A record
  that is neither handled nor dead-lettered is never passed over, since a
  partition's records are settled in order.
- `release(partitions)` (a rebalance) and `stop()` let the tries in
  progress finish for up to `timeout` seconds (then cancel them: their
  transactions roll back), commit what was settled and drop the rest, which
  the partitions' next owner consumes again.

>>> import asyncio
>>> from cqrs.consumer.memory import MemoryBroker
>>> from cqrs.consumer.pipeline import EventPipeline
>>> from cqrs.container.di import DIContainer
>>> from cqrs.events import EventMap, EventMediator
>>> async def consume_one_bad_record() -> int | None:
...     broker = MemoryBroker()
...     broker.append("orders", b"{not json")
...     pipeline = EventPipeline(
...         mediator=EventMediator(EventMap(), DIContainer()),
...         dead_letters=broker,
...         consumer_name="inventory",
...     )
...     async with EventConsumer(broker.transport(["orders"], "inventory"), pipeline):
...         await broker.wait_for_position("inventory", "orders", 0, 1)
...     return broker.position("inventory", "orders", 0)
>>> asyncio.run(consume_one_bad_record())
1
"""

from __future__ import annotations

import asyncio
import collections
import collections.abc
import logging
import types

from typing_extensions import Self

from cqrs.consumer.pipeline import EventPipeline
from cqrs.consumer.record import Partition, Record, partition_of
from cqrs.consumer.transport import ConsumerTransport, EndOffsets
from cqrs.exceptions import ConfigurationError
from cqrs.tracing import opentelemetry_installed

__all__ = ("EventConsumer",)

logger = logging.getLogger("cqrs.consumer")

#: The longest pause after a failed fetch or commit, in seconds.
_MAX_PAUSE = 5.0


class _PartitionWorker:
    """Settles one partition's records in order, in a task of its own."""

    def __init__(self, partition: Partition, consumer: EventConsumer) -> None:
        self.partition = partition
        self.consumer = consumer
        self.waiting: collections.deque[Record] = collections.deque()
        self.arrived = asyncio.Event()
        self.released = asyncio.Event()
        self.paused = False
        self.task = asyncio.get_running_loop().create_task(
            self._run(), name=f"cqrs consumer {partition.topic}[{partition.partition}]"
        )
        self.task.add_done_callback(self._ended)

    def put(self, record: Record) -> None:
        self.waiting.append(record)
        self.arrived.set()
        if not self.paused and len(self.waiting) >= self.consumer.max_buffered:
            self.paused = True
            self.consumer.transport.pause(self.partition)

    async def _run(self) -> None:
        pipeline = self.consumer.pipeline
        while not self.released.is_set():
            if not self.waiting:
                self.arrived.clear()
                await self.arrived.wait()
                continue
            record = self.waiting.popleft()
            if self.paused and len(self.waiting) <= self.consumer.max_buffered // 2:
                self.paused = False
                self.consumer.transport.resume(self.partition)
            outcome = await pipeline.settle(record, self.released)
            if not outcome.settled:
                return
            self.consumer.settled(self.partition, record.offset + 1)

    def _ended(self, task: asyncio.Task[None]) -> None:
        # The pipeline settles every failure itself: a worker ends before its release
        # only on a cancellation that did not come from the consumer (a handler's stray
        # CancelledError, the event loop closing). Its partition stops where it is, and
        # says so; the records it holds are consumed again after a restart.
        if self.released.is_set():
            return
        why = "cancelled" if task.cancelled() else repr(task.exception())
        where = f"{self.partition.topic}[{self.partition.partition}]"
        self.consumer.pipeline.health.trouble(
            f"worker {where}", f"its worker ended ({why}); restart the consumer"
        )
        logger.error("the worker of %s ended (%s); the partition waits for a restart", where, why)

    def release(self) -> None:
        """Start no other record: drop those waiting, end once the try in progress ends."""
        self.released.set()
        self.arrived.set()  # wakes a worker waiting for records
        self.waiting.clear()

    async def finished(self, timeout: float) -> None:
        """Wait for the try in progress to finish; cancel it after `timeout` seconds."""
        if timeout > 0:
            await asyncio.wait({self.task}, timeout=timeout)
        if not self.task.done():
            await _cancelled(self.task)


class EventConsumer:
    """Consumes `transport`'s records through `pipeline`; see the module docstring.

    Use it as an async context manager, or call `start()` and `stop()`.
    `max_records` bounds one fetch. Raises `ConfigurationError` for bounds
    that cannot work.
    """

    def __init__(
        self,
        transport: ConsumerTransport,
        pipeline: EventPipeline,
        *,
        max_buffered: int = 100,
        max_records: int = 500,
        commit_interval: float = 0.1,
        stop_timeout: float = 15.0,
    ) -> None:
        if max_buffered < 2 or max_records < 1 or commit_interval < 0 or stop_timeout < 0:
            raise ConfigurationError(
                "EventConsumer needs max_buffered >= 2, max_records >= 1, commit_interval >= 0 "
                f"and stop_timeout >= 0; got {max_buffered}, {max_records}, {commit_interval} "
                f"and {stop_timeout}."
            )
        self.transport = transport
        self.pipeline = pipeline
        self.max_buffered = max_buffered
        self.max_records = max_records
        self.commit_interval = commit_interval
        self.stop_timeout = stop_timeout
        self._workers: dict[Partition, _PartitionWorker] = {}
        self._positions: dict[Partition, int] = {}
        # One past each partition's last settled record, kept after commits (for `lag`).
        self._settled: dict[Partition, int] = {}
        self._to_commit = asyncio.Event()
        self._commit_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False
        _watch_lag(self)

    @property
    def running(self) -> bool:
        """Whether records are being fetched: from `start` until `stop` begins."""
        return self._running

    def start(self) -> None:
        """Start fetching and committing in tasks of the running event loop."""
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        self._running = True
        self._tasks = [
            loop.create_task(self._fetch_forever(), name="cqrs consumer fetch"),
            loop.create_task(self._commit_forever(), name="cqrs consumer commit"),
        ]

    async def stop(self, timeout: float | None = None) -> None:
        """Stop fetching, release every partition (see `release`), commit, and return.

        `timeout` defaults to `stop_timeout`.
        """
        if not self._tasks:
            return
        self._running = False
        (fetching, committing), self._tasks = self._tasks, []
        await _cancelled(fetching)
        await self.release(list(self._workers), self.stop_timeout if timeout is None else timeout)
        await _cancelled(committing)

    async def release(
        self, partitions: collections.abc.Collection[Partition], timeout: float | None = None
    ) -> None:
        """Give up `partitions`: their tries in progress finish (or are cancelled after
        `timeout` seconds, `stop_timeout` by default), their settled positions are
        committed, and their other records are dropped, to be consumed again."""
        workers = [self._workers.pop(p) for p in partitions if p in self._workers]
        for partition in partitions:
            self._settled.pop(partition, None)
        for worker in workers:
            worker.release()
        wait = self.stop_timeout if timeout is None else timeout
        await asyncio.gather(*(worker.finished(wait) for worker in workers))
        async with self._commit_lock:
            positions = {
                partition: self._positions.pop(partition)
                for partition in partitions
                if partition in self._positions
            }
            if positions:
                try:
                    await self.transport.commit(positions)
                except Exception as error:
                    # The next owner consumes these records again; the inbox drops
                    # the ones that were handled.
                    logger.warning("could not commit %s on release: %s", positions, error)

    def settled(self, partition: Partition, position: int) -> None:
        """Note that `partition`'s records before `position` are settled."""
        self._positions[partition] = position
        self._settled[partition] = position
        self._to_commit.set()

    def lag(self) -> dict[Partition, int]:
        """Per partition this consumer holds, how many records wait after its last settled
        one; empty when the transport does not know its end offsets (`EndOffsets`)."""
        transport = self.transport
        if not isinstance(transport, EndOffsets):
            return {}
        lags: dict[Partition, int] = {}
        for partition, position in self._settled.items():
            end = transport.end_offset(partition)
            if end is not None:
                lags[partition] = max(end - position, 0)
        return lags

    def _dispatch(self, records: collections.abc.Iterable[Record]) -> None:
        for record in records:
            partition = partition_of(record)
            worker = self._workers.get(partition)
            if worker is None:
                worker = self._workers[partition] = _PartitionWorker(partition, self)
            worker.put(record)

    async def _fetch_forever(self) -> None:
        health = self.pipeline.health
        pause = 0.0
        while True:
            try:
                records = await self.transport.fetch(self.max_records)
            except Exception as error:
                pause = min(max(pause * 2, 0.1), _MAX_PAUSE)
                health.trouble("fetch", f"{type(error).__name__}: {error}")
                logger.error("fetching records failed, trying again in %.1fs: %s", pause, error)
                await asyncio.sleep(pause)
                continue
            pause = 0.0
            health.cleared("fetch")
            self._dispatch(records)

    async def _commit_forever(self) -> None:
        health = self.pipeline.health
        pause = self.commit_interval
        while True:
            await self._to_commit.wait()
            self._to_commit.clear()
            async with self._commit_lock:
                positions, self._positions = self._positions, {}
                if not positions:  # a release committed them
                    continue
                try:
                    await self.transport.commit(positions)
                except Exception as error:
                    # Keep them for the next try, unless later ones came meanwhile.
                    self._positions = {**positions, **self._positions}
                    self._to_commit.set()
                    pause = min(max(pause * 2, 0.1), _MAX_PAUSE)
                    health.trouble("commit", f"{type(error).__name__}: {error}")
                    logger.error(
                        "committing positions failed, trying again in %.1fs: %s", pause, error
                    )
                else:
                    pause = self.commit_interval
                    health.cleared("commit")
            # Settlements during the pause ride along with the next commit.
            await asyncio.sleep(pause)

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        await self.stop()


def _watch_lag(consumer: EventConsumer) -> None:
    """Report `consumer.lag()` as a gauge, when OpenTelemetry is installed."""
    if opentelemetry_installed():
        from cqrs.telemetry.consumer import watch_lag  # the `otel` extra: imported only with it

        watch_lag(consumer.pipeline.consumer_name, consumer)


async def _cancelled(task: asyncio.Task[None]) -> None:
    """Cancel `task` and wait until it ends (a cancellation of the caller still counts)."""
    task.cancel()
    await asyncio.wait({task})
