"""`EventConsumer`: an `EventPipeline` run over a `ConsumerTransport`, partitions side by side.

- Each partition has its own worker, which settles the partition's records
  in offset order, one at a time by default. A record being retried (or
  whose dead letter the broker refuses) holds up its own partition only: the
  others' workers carry on.
- With `max_in_flight` above 1, a worker settles up to that many of its
  partition's records at once, but never two with the same key: each key's
  records are still settled one after another in offset order (records
  without a key count as one key). A record being retried then holds up the
  records of its own key, and the position (below); the other keys carry on
  until `max_buffered` records wait behind it. Use it when the handlers of
  different keys do not depend on each other's order (replies to different
  sagas, say) and a record's handling mostly waits (on a database, a
  service): the waits then overlap.
- A worker holds at most `max_buffered` records taken and not yet committed
  (waiting, in progress, or settled after one that is not); beyond that its
  partition is paused at the transport, and resumed once half are passed.
- Positions are committed in batches, at most once per `commit_interval`
  seconds: for each partition, one past the last record of its settled
  prefix (every record before it settled too). A record that is neither
  handled nor dead-lettered is never passed over, even when later records
  of other keys are settled: they are committed once it is, or consumed
  again after a restart (the inbox drops those handled).
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
import dataclasses
import heapq
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


@dataclasses.dataclass(eq=False, slots=True)
class _Taken:
    """A record a worker took from its partition, the lane it waits in (its key's), and
    whether it is settled yet."""

    record: Record
    lane: bytes | None
    settled: bool = False


def _record_key(record: Record) -> bytes | None:
    return record.key


def _one_lane(record: Record) -> None:
    return None


class _PartitionWorker:
    """Settles one partition's records with `max_in_flight` runners, tasks of its own:
    never two records of one key at once, each key's in offset order."""

    def __init__(self, partition: Partition, consumer: EventConsumer) -> None:
        self.partition = partition
        self.consumer = consumer
        # The records taken and not yet behind the partition's position, in offset order:
        # its head is the first unsettled one, where the position stops.
        self.taken: collections.deque[_Taken] = collections.deque()
        # Per lane (a key), its records not yet settled, in offset order: the head is
        # the one running or ready to run, the others wait for it.
        self.lanes: dict[bytes | None, collections.deque[_Taken]] = {}
        # The heads ready to run, the lowest offset first (with one runner, this is the
        # partition's order).
        self.ready: list[tuple[int, _Taken]] = []
        # The runners waiting for a ready record: each ready record wakes one of them,
        # not all.
        self.idle: collections.deque[asyncio.Future[None]] = collections.deque()
        self.released = asyncio.Event()
        self.stopped = False
        self.paused = False
        loop = asyncio.get_running_loop()
        where = f"{partition.topic}[{partition.partition}]"
        self.runners = [
            loop.create_task(self._run(), name=f"cqrs consumer {where} #{n}")
            for n in range(consumer.max_in_flight)
        ]
        for runner in self.runners:
            runner.add_done_callback(self._ended)
        # With one runner every record waits for the one before it anyway: one lane
        # for all spares a lane per key.
        self.lane_of: collections.abc.Callable[[Record], bytes | None] = (
            _record_key if consumer.max_in_flight > 1 else _one_lane
        )

    def put(self, record: Record) -> None:
        taken = _Taken(record, self.lane_of(record))
        self.taken.append(taken)
        lane = self.lanes.get(taken.lane)
        if lane is None:
            self.lanes[taken.lane] = collections.deque((taken,))
            self._ready(taken)
        else:
            lane.append(taken)
        if not self.paused and len(self.taken) >= self.consumer.max_buffered:
            self.paused = True
            self.consumer.transport.pause(self.partition)

    def _ready(self, taken: _Taken) -> None:
        heapq.heappush(self.ready, (taken.record.offset, taken))
        while self.idle:
            waiting = self.idle.popleft()
            if not waiting.done():  # else its runner was cancelled
                waiting.set_result(None)
                return

    def _wake_all(self) -> None:
        for waiting in self.idle:
            if not waiting.done():
                waiting.set_result(None)
        self.idle.clear()

    async def _run(self) -> None:
        pipeline = self.consumer.pipeline
        loop = asyncio.get_running_loop()
        while not self.stopped:
            if not self.ready:
                waiting = loop.create_future()
                self.idle.append(waiting)
                await waiting
                continue
            _, taken = heapq.heappop(self.ready)
            outcome = await pipeline.settle(taken.record, self.released)
            if not outcome.settled:
                return
            self._passed(taken)

    def _passed(self, taken: _Taken) -> None:
        """Note `taken` settled: its key's next record gets ready, and the position
        moves past every settled record at the head of the partition."""
        taken.settled = True
        lane = self.lanes[taken.lane]
        lane.popleft()
        if lane:
            self._ready(lane[0])
        else:
            del self.lanes[taken.lane]
        last: _Taken | None = None
        while self.taken and self.taken[0].settled:
            last = self.taken.popleft()
        if last is not None:
            self.consumer.settled(self.partition, last.record.offset + 1)
        if self.paused and len(self.taken) <= self.consumer.max_buffered // 2:
            self.paused = False
            self.consumer.transport.resume(self.partition)

    def _ended(self, task: asyncio.Task[None]) -> None:
        # The pipeline settles every failure itself: a runner ends before its release
        # only on a cancellation that did not come from the consumer (a handler's stray
        # CancelledError, the event loop closing). Its partition stops where it is, and
        # says so; the records it holds are consumed again after a restart.
        if self.released.is_set() or not (task.cancelled() or task.exception()):
            return
        self.stopped = True
        self._wake_all()  # the other runners end too
        why = "cancelled" if task.cancelled() else repr(task.exception())
        where = f"{self.partition.topic}[{self.partition.partition}]"
        self.consumer.pipeline.health.trouble(
            f"worker {where}", f"its worker ended ({why}); restart the consumer"
        )
        logger.error("the worker of %s ended (%s); the partition waits for a restart", where, why)

    def release(self) -> None:
        """Start no other record; the tries in progress go on until they end."""
        self.released.set()
        self.stopped = True
        self.ready.clear()
        self._wake_all()  # the runners waiting for records end

    async def finished(self, timeout: float) -> None:
        """Wait for the tries in progress to finish; cancel them after `timeout` seconds."""
        if timeout > 0:
            await asyncio.wait(self.runners, timeout=timeout)
        for runner in self.runners:
            if not runner.done():
                await _cancelled(runner)


class EventConsumer:
    """Consumes `transport`'s records through `pipeline`; see the module docstring.

    Use it as an async context manager, or call `start()` and `stop()`.
    `max_records` bounds one fetch; `max_in_flight`, the records of one
    partition settled at once (with different keys). Raises
    `ConfigurationError` for bounds that cannot work.
    """

    def __init__(
        self,
        transport: ConsumerTransport,
        pipeline: EventPipeline,
        *,
        max_buffered: int = 100,
        max_records: int = 500,
        max_in_flight: int = 1,
        commit_interval: float = 0.1,
        stop_timeout: float = 15.0,
    ) -> None:
        if (
            max_buffered < 2
            or max_records < 1
            or max_in_flight < 1
            or commit_interval < 0
            or stop_timeout < 0
        ):
            raise ConfigurationError(
                "EventConsumer needs max_buffered >= 2, max_records >= 1, max_in_flight >= 1, "
                f"commit_interval >= 0 and stop_timeout >= 0; got {max_buffered}, "
                f"{max_records}, {max_in_flight}, {commit_interval} and {stop_timeout}."
            )
        self.transport = transport
        self.pipeline = pipeline
        self.max_buffered = max_buffered
        self.max_in_flight = max_in_flight
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
        for worker in workers:
            worker.release()
        wait = self.stop_timeout if timeout is None else timeout
        await asyncio.gather(*(worker.finished(wait) for worker in workers))
        for partition in partitions:  # after the tries that finished noted their records
            self._settled.pop(partition, None)
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
