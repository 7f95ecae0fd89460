"""Create the topics a service needs, with their partition counts, before it runs.

Brokers that auto-create topics give them one partition (or the broker's
default), which caps a consumer group at one consumer; create them explicitly.

```
await ensure_topics("localhost:9092", {"orders": 6, "orders.dlq": 1})
```
"""

from __future__ import annotations

import typing

import aiokafka.errors
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from cqrs_kafka.errors import BrokerUnavailableError
from cqrs_kafka.security import KafkaSecurity

__all__ = ("ensure_topics",)


async def ensure_topics(
    bootstrap_servers: str,
    partitions: typing.Mapping[str, int],
    *,
    replication_factor: int = 1,
    security: KafkaSecurity | None = None,
) -> list[str]:
    """Create each topic of `partitions` (name -> partition count) that does not exist.

    Existing topics are left as they are. Returns the names created. `security`
    is read from the environment when not given (`cqrs_kafka.security`).
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="cqrs-kafka-admin",
        **(security or KafkaSecurity.from_env()).client_options(),
    )
    try:
        await admin.start()
    except aiokafka.errors.KafkaConnectionError as exc:
        await admin.close()
        raise BrokerUnavailableError(
            f"no Kafka broker answered at {bootstrap_servers}: {exc}. Check "
            "KAFKA_BOOTSTRAP_SERVERS and that the broker runs "
            "(python -m cqrs_kafka.local starts a local one)."
        ) from exc
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=count, replication_factor=replication_factor)
            for name, count in partitions.items()
            if name not in existing
        ]
        if missing:
            response: typing.Any = await admin.create_topics(missing)
            _check_created(response.topic_errors)
        return [topic.name for topic in missing]
    finally:
        await admin.close()


def _check_created(topic_errors: typing.Iterable[typing.Sequence[typing.Any]]) -> None:
    """Raise for a topic the broker refused; one that exists already is fine (a
    concurrent start created it)."""
    for name, code, *rest in topic_errors:
        if code in (0, aiokafka.errors.TopicAlreadyExistsError.errno):
            continue
        message = rest[0] if rest else None
        error = aiokafka.errors.for_code(code)
        raise error(f"could not create topic {name!r}: {message or error.__name__}")
