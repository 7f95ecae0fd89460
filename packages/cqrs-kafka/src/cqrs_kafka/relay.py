"""`running_relay`: an outbox relay publishing to Kafka for as long as a block runs.

The relay (`cqrs.outbox.relay.OutboxRelay`) runs in a task of its own; when
the block ends it finishes the batch in hand, the producer flushes what it
buffered and disconnects. A broker that is down when the relay starts, or
goes down later, is retried with the relay's backoff: the block outlives it.
The store stays open: whoever made it closes it.

>>> import asyncio
>>> from cqrs.outbox.memory import MemoryOutbox
>>> async def main() -> int:
...     outbox = MemoryOutbox()
...     async with running_relay(outbox, "127.0.0.1:9") as relay:
...         pass  # nothing staged, so nothing is sent (nor connected)
...     return relay.batch_size
>>> asyncio.run(main())
100
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import typing

from cqrs.outbox.relay import OutboxRelay, OutboxStore
from cqrs.signing import Keyring
from cqrs_kafka.broker import KafkaMessageBroker
from cqrs_kafka.producer import kafka_producer_factory

__all__ = ("running_relay",)


@contextlib.asynccontextmanager
async def running_relay(
    store: OutboxStore,
    bootstrap_servers: str,
    *,
    keyring: Keyring | None = None,
    **relay_options: typing.Any,
) -> collections.abc.AsyncGenerator[OutboxRelay, None]:
    """Relay `store` to the Kafka cluster at `bootstrap_servers` until the block ends,
    signing each record with `keyring`'s signing key when given (`KafkaMessageBroker`).

    `relay_options` go to `OutboxRelay` (`batch_size`, `poll_interval`, `retry`,
    `retention`...).
    """
    broker = KafkaMessageBroker(kafka_producer_factory(bootstrap_servers), keyring=keyring)
    relay = OutboxRelay(store, broker, **relay_options)
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(relay.run_forever(stop), name="outbox-relay")
    try:
        yield relay
    finally:
        stop.set()
        try:
            await task
        finally:
            await broker.close()
