"""The raw drivers the benchmarks' hand-written sides use, typed for what they use.

asyncpg and aiokafka annotate their methods only in part (untyped `*args`,
partitions and offsets), which strict type checking cannot see through; the
benchmarks reach them through these protocols instead, cast once here.
"""

from __future__ import annotations

import asyncio
import contextlib
import typing

import aiokafka
import asyncpg
from aiokafka.structs import ConsumerRecord, TopicPartition

__all__ = ("Connection", "Consumer", "Pool", "Producer", "Row", "connect", "create_pool")

Record: typing.TypeAlias = ConsumerRecord[bytes, bytes]


class Row(typing.Protocol):
    """A fetched row, read by column name (asyncpg's `Record`)."""

    def __getitem__(self, column: str, /) -> typing.Any: ...


class Connection(typing.Protocol):
    """An asyncpg connection."""

    async def execute(self, query: str, *args: object) -> str: ...

    async def executemany(
        self, command: str, args: typing.Iterable[typing.Sequence[object]]
    ) -> None: ...

    async def fetch(self, query: str, *args: object) -> list[Row]: ...

    def transaction(self) -> contextlib.AbstractAsyncContextManager[object]: ...

    def is_in_transaction(self) -> bool: ...

    async def close(self) -> None: ...


class Pool(typing.Protocol):
    """An asyncpg connection pool."""

    def acquire(self) -> contextlib.AbstractAsyncContextManager[Connection]: ...

    async def close(self) -> None: ...


class Producer(typing.Protocol):
    """A started aiokafka producer."""

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        *,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[object]: ...

    async def stop(self) -> None: ...


class Consumer(typing.Protocol):
    """An aiokafka consumer."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def getmany(self, *, timeout_ms: int) -> dict[TopicPartition, list[Record]]: ...

    async def commit(self, offsets: dict[TopicPartition, int] | None = None) -> None: ...


connect = typing.cast(
    "typing.Callable[[str], typing.Awaitable[Connection]]",
    asyncpg.connect,  # pyright: ignore[reportUnknownMemberType]
)


async def create_pool(dsn: str, *, min_size: int, max_size: int) -> Pool:
    """asyncpg's `create_pool(dsn)`, started."""
    pool: Pool = await typing.cast(
        "typing.Callable[..., typing.Awaitable[Pool]]",
        asyncpg.create_pool,  # pyright: ignore[reportUnknownMemberType]
    )(dsn, min_size=min_size, max_size=max_size)
    return pool


def producer(started: aiokafka.AIOKafkaProducer) -> Producer:
    """The producer as `Producer`."""
    return typing.cast(Producer, started)


def consumer(consumer: aiokafka.AIOKafkaConsumer) -> Consumer:
    """The consumer as `Consumer`."""
    return typing.cast(Consumer, consumer)
