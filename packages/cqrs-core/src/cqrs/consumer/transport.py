"""`ConsumerTransport`: the port a broker adapter implements to run an `EventConsumer`.

The adapter owns the connection and the partitions assigned to it; the
consumer owns everything else: one worker per partition, the pipeline,
retries, dead letters and which positions are safe to commit. An adapter for
a new broker implements this protocol and `DeadLetterPublisher`, then proves
itself with `cqrs.testing.consumer.ConsumerContract`; the in-memory one is
`cqrs.consumer.memory.MemoryTransport`.

Partitions that move to another consumer (a group rebalance) must first be
given up: before they go, the adapter awaits `EventConsumer.release(them)`,
which lets the records in progress finish, commits what was settled, and
drops the rest to be consumed again by the next owner.
"""

from __future__ import annotations

import collections.abc
import typing

from cqrs.consumer.record import Partition, Record

__all__ = ("ConsumerTransport", "EndOffsets")


class ConsumerTransport(typing.Protocol):
    """Records of the assigned partitions, flow control per partition, and positions."""

    async def fetch(self, max_records: int) -> collections.abc.Sequence[Record]:
        """The next records (at most `max_records`) of the assigned partitions that are
        not paused: each partition's in offset order, following those fetched before.

        Returns an empty sequence when none came within a short wait (at most
        a second or so). Raises the broker's error when fetching failed; the
        consumer logs it and tries again after a pause.
        """
        ...

    def pause(self, partition: Partition) -> None:
        """Return no more records of `partition` until `resume`; those not yet returned
        come later, from where it stopped. Nothing happens if it is not assigned."""
        ...

    def resume(self, partition: Partition) -> None:
        """Return records of `partition` again (nothing happens if it was not paused)."""
        ...

    async def commit(self, positions: collections.abc.Mapping[Partition, int]) -> None:
        """Store, for each partition, the offset of the next record to consume: one past
        its last settled record. A new owner of the partition starts there.

        Positions of partitions no longer assigned are ignored. Raises the
        broker's error when the commit failed; the consumer commits the same
        positions (or later ones) again.
        """
        ...


@typing.runtime_checkable
class EndOffsets(typing.Protocol):
    """A transport that knows where its partitions end, so a consumer can tell its lag.

    Optional: `EventConsumer.lag` reports nothing for a transport without it.
    """

    def end_offset(self, partition: Partition) -> int | None:
        """The offset `partition`'s next new record will get (Kafka's high watermark),
        as last seen; `None` when not known yet."""
        ...
