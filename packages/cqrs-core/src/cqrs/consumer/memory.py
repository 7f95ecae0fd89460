"""The in-memory transport: topics of partitions, consumer groups' positions and dead
letters in process memory, for unit tests and for trying a pipeline out.

`MemoryBroker` keeps the records; `broker.transport(topics, group)` is a
`ConsumerTransport` over them for an `EventConsumer` (one consumer per group:
it is assigned every partition), and the broker itself is the
`DeadLetterPublisher`. It is a `MessageBroker` too: a mediator or an outbox
relay publishing to it writes records as a broker adapter does. Like a real
broker it has a record size limit (`max_record_size`, the dead letters fit
it) and it can be told to refuse a topic's records (`refuse`), to see what a
consumer does when its dead-letter topic cannot be written.

>>> import asyncio
>>> broker = MemoryBroker(partitions=2)
>>> broker.append("orders", b"{}", key=b"o-1", partition=1).offset
0
>>> async def first_fetch() -> list[tuple[int, int]]:
...     transport = broker.transport(["orders"], group="billing")
...     return [(r.partition, r.offset) for r in await transport.fetch(max_records=10)]
>>> asyncio.run(first_fetch())
[(1, 0)]
"""

from __future__ import annotations

import asyncio
import collections.abc
import dataclasses
import zlib

from cqrs.consumer.dead_letter import DeadLetter, record_size
from cqrs.consumer.record import Partition, text_headers
from cqrs.exceptions import ConfigurationError, RecordRefusedError
from cqrs.message_brokers.protocol import (
    EVENT_NAME_HEADER,
    MESSAGE_ID_HEADER,
    Message,
    payload_json,
)

__all__ = ("MemoryBroker", "MemoryRecord", "MemoryTransport")

#: How long an empty fetch waits for a record, in seconds.
_FETCH_WAIT = 0.1


@dataclasses.dataclass(frozen=True)
class MemoryRecord:
    """A record of a `MemoryBroker` topic (a `cqrs.consumer.record.Record`)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: collections.abc.Sequence[tuple[str, bytes]] = ()


class MemoryBroker:
    """Topics, consumer group positions and dead letters in memory; see the module docstring.

    New topics get `partitions` partitions unless made with `create_topic`.
    A record whose key, value and headers take more than `max_record_size`
    bytes (or its topic's own limit) is refused.
    """

    def __init__(self, *, partitions: int = 1, max_record_size: int = 1024 * 1024) -> None:
        self.default_partitions = partitions
        self.max_record_size = max_record_size
        self._topics: dict[str, list[list[MemoryRecord]]] = {}
        self._limits: dict[str, int] = {}
        self._positions: dict[tuple[str, Partition], int] = {}
        self._refused: set[str] = set()
        self._waiters: list[asyncio.Future[None]] = []

    def create_topic(
        self, topic: str, partitions: int, *, max_record_size: int | None = None
    ) -> None:
        """Make `topic` with `partitions` partitions, and its own record size limit if
        given; raise `ConfigurationError` if it exists with another partition count."""
        existing = self._topics.get(topic)
        if existing is not None and len(existing) != partitions:
            raise ConfigurationError(
                f"topic {topic!r} has {len(existing)} partitions already, not {partitions}."
            )
        self._topics.setdefault(topic, [[] for _ in range(partitions)])
        if max_record_size is not None:
            self._limits[topic] = max_record_size

    def max_size(self, topic: str) -> int:
        """The largest record `topic` takes, in bytes."""
        return self._limits.get(topic, self.max_record_size)

    def partitions(self, topic: str) -> int:
        """How many partitions `topic` has (creating it with the default count)."""
        return len(self._partitions(topic))

    def append(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: collections.abc.Sequence[tuple[str, bytes]] = (),
        partition: int | None = None,
    ) -> MemoryRecord:
        """Add a record to `topic` and return it. Without `partition`, the key picks one
        (the same key, the same partition), else partition 0.

        Raises `RecordRefusedError` for a topic that refuses records or a record
        over the topic's `max_size`.
        """
        partitions = self._partitions(topic)
        if topic in self._refused:
            raise RecordRefusedError(f"topic {topic!r} refuses records (MemoryBroker.refuse).")
        size = record_size(key, value or b"", text_headers(headers))
        if size > self.max_size(topic):
            raise RecordRefusedError(
                f"a record of {size} bytes is over {topic!r}'s limit of {self.max_size(topic)}."
            )
        if partition is None:
            # crc32, not hash(): the same key must pick the same partition in every run.
            partition = 0 if key is None else zlib.crc32(key) % len(partitions)
        log = partitions[partition]
        record = MemoryRecord(topic, partition, len(log), key, value, tuple(headers))
        log.append(record)
        self._notify()
        return record

    async def send_message(self, message: Message) -> None:
        """Append `message` as broker adapters write it (`MessageBroker`): the payload as
        JSON, the partition key as key, the id, the name and the message's own
        headers as headers."""
        value = message.body if message.body is not None else payload_json(message.payload)
        headers = [
            (MESSAGE_ID_HEADER, str(message.message_id).encode()),
            (EVENT_NAME_HEADER, message.message_name.encode()),
            *((name, text.encode()) for name, text in message.headers.items()),
        ]
        key = None if message.key is None else message.key.encode()
        self.append(message.topic, value, key=key, headers=headers)

    def records(self, topic: str) -> list[MemoryRecord]:
        """Every record of `topic`, partition by partition, each in offset order."""
        return [record for log in self._partitions(topic) for record in log]

    async def publish(self, letter: DeadLetter) -> None:
        """Append the fullest shape of `letter` that fits (`DeadLetterPublisher`)."""
        shape = letter.fitting(self.max_size(letter.topic), record_size)[0]
        self.append(
            shape.topic,
            shape.value,
            key=shape.key,
            headers=[(name, text.encode()) for name, text in shape.headers.items()],
        )

    def refuse(self, topic: str, refusing: bool = True) -> None:
        """Make `topic` refuse every new record (or, with `refusing=False`, take them again)."""
        if refusing:
            self._refused.add(topic)
        else:
            self._refused.discard(topic)

    def position(self, group: str, topic: str, partition: int) -> int | None:
        """The offset `group` committed for `topic`'s `partition`; `None` if none yet."""
        return self._positions.get((group, Partition(topic, partition)))

    async def wait_for_position(
        self, group: str, topic: str, partition: int, offset: int, timeout: float = 10.0
    ) -> None:
        """Wait until `group` committed `offset` or more; `TimeoutError` after `timeout` seconds."""

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (self.position(group, topic, partition) or 0) < offset:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"{group} did not commit offset {offset} of {topic}[{partition}]"
                )
            await self.changed(remaining)

    def transport(self, topics: collections.abc.Iterable[str], group: str) -> MemoryTransport:
        """A `ConsumerTransport` over `topics` for consumer group `group`."""
        return MemoryTransport(self, list(topics), group)

    def commit(self, group: str, positions: collections.abc.Mapping[Partition, int]) -> None:
        """Store `positions` as `group`'s."""
        for partition, offset in positions.items():
            self._positions[(group, partition)] = offset
        self._notify()

    def log(self, partition: Partition) -> list[MemoryRecord]:
        """The records of one partition, in offset order."""
        return self._partitions(partition.topic)[partition.partition]

    async def changed(self, timeout: float) -> None:
        """Wait until a record is added or positions are committed, at most `timeout` seconds."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            # Not asyncio.wait_for: before Python 3.12 it can swallow a cancellation
            # that comes as the waiter completes, and a stopping consumer would not stop.
            await asyncio.wait({waiter}, timeout=timeout)
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _partitions(self, topic: str) -> list[list[MemoryRecord]]:
        if topic not in self._topics:
            self.create_topic(topic, self.default_partitions)
        return self._topics[topic]

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


class MemoryTransport:
    """The `ConsumerTransport` of one consumer group on a `MemoryBroker`.

    It is assigned every partition of its topics and starts each at the
    group's committed position (the first record if there is none).
    """

    def __init__(self, broker: MemoryBroker, topics: list[str], group: str) -> None:
        self.broker = broker
        self.group = group
        self.assigned = [
            Partition(topic, number)
            for topic in topics
            for number in range(broker.partitions(topic))
        ]
        self._next = {
            partition: broker.position(group, partition.topic, partition.partition) or 0
            for partition in self.assigned
        }
        self._paused: set[Partition] = set()
        self._turn = 0  # the partition served first, in turn, so none starves the others

    async def fetch(self, max_records: int) -> list[MemoryRecord]:
        records = self._available(max_records)
        if not records:
            await self.broker.changed(_FETCH_WAIT)
            records = self._available(max_records)
        return records

    def pause(self, partition: Partition) -> None:
        if partition in self._next:
            self._paused.add(partition)

    def resume(self, partition: Partition) -> None:
        self._paused.discard(partition)

    async def commit(self, positions: collections.abc.Mapping[Partition, int]) -> None:
        self.broker.commit(
            self.group,
            {
                partition: offset
                for partition, offset in positions.items()
                if partition in self._next
            },
        )

    def end_offset(self, partition: Partition) -> int | None:
        """The offset of `partition`'s next record (`cqrs.consumer.transport.EndOffsets`)."""
        return len(self.broker.log(partition)) if partition in self._next else None

    def _available(self, max_records: int) -> list[MemoryRecord]:
        records: list[MemoryRecord] = []
        self._turn = (self._turn + 1) % max(len(self.assigned), 1)
        for partition in self.assigned[self._turn :] + self.assigned[: self._turn]:
            if partition in self._paused:
                continue
            start = self._next[partition]
            taken = self.broker.log(partition)[start : start + max_records - len(records)]
            self._next[partition] = start + len(taken)
            records.extend(taken)
            if len(records) >= max_records:
                break
        return records
