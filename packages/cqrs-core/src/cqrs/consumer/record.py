"""`Record`: a message as a broker hands it to a consumer, whatever the broker.

A record sits at an `offset` in one `partition` of a `topic`; a consumer
handles a partition's records in offset order and, once a record is settled,
stores the next offset as the partition's position. A Kafka `ConsumerRecord`
is a `Record` as it is; a broker without partitions or offsets (a queue) maps
its own notions onto them.

>>> from cqrs.consumer.memory import MemoryRecord
>>> record = MemoryRecord("orders", 2, 41, b"o-1", b"{}", (("trace", b"t-1"),))
>>> record.topic, record.partition, record.offset
('orders', 2, 41)
>>> partition_of(record), text_headers(record.headers)
(Partition(topic='orders', partition=2), {'trace': 't-1'})
"""

from __future__ import annotations

import collections.abc
import typing

__all__ = ("Record", "Partition", "partition_of", "as_text", "text_headers")


class Partition(typing.NamedTuple):
    """One partition of a topic: the unit of ordering, of assignment and of positions."""

    topic: str
    partition: int


class Record(typing.Protocol):
    """A consumed message: where it sits, its key, its value and its headers."""

    @property
    def topic(self) -> str:
        """The topic it was consumed from."""
        ...

    @property
    def partition(self) -> int:
        """Its partition of `topic`."""
        ...

    @property
    def offset(self) -> int:
        """Its position in the partition; the next record's is larger."""
        ...

    @property
    def key(self) -> bytes | None:
        """The partition key it was published with, if any."""
        ...

    @property
    def value(self) -> bytes | None:
        """The payload: for events, the event's wire dict as UTF-8 JSON."""
        ...

    @property
    def headers(self) -> collections.abc.Sequence[tuple[str, bytes]]:
        """Name and value of each header, in order."""
        ...


def partition_of(record: Record) -> Partition:
    """The partition `record` belongs to."""
    return Partition(record.topic, record.partition)


def as_text(value: bytes | None) -> str:
    """`value` as text: UTF-8, undecodable bytes replaced, `None` as ""."""
    return value.decode("utf-8", "replace") if value else ""


def text_headers(headers: collections.abc.Iterable[tuple[str, bytes]]) -> dict[str, str]:
    """Record headers as a dict of text (the last value wins for a repeated name)."""
    return {name: as_text(value) for name, value in headers}
