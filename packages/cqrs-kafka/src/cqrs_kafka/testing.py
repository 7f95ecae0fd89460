"""pytest fixtures for code that talks to Kafka, on a local broker started once per run.

Enable them in a `conftest.py`:

```
pytest_plugins = ["cqrs_kafka.testing"]

async def test_publish(kafka_bootstrap_servers: str) -> None:
    ...
```

`kafka_bootstrap_servers` is `$CQRS_TEST_KAFKA_BOOTSTRAP_SERVERS` when set (an
external Kafka), else the address of `local_kafka`, a `LocalKafkaBroker`
(needs `cqrs-kafka[local]`). `kafka_topic` makes a fresh topic name per test,
`read_records` reads what a test published back from the topic, `json_value`
decodes a record's value, and `committed_offset` tells how far a consumer
group has committed.

For the TLS and SASL settings (`cqrs_kafka.security`), checked without a
broker that speaks them: `sasl_ssl_environment` sets the `KAFKA_*` variables
of a SASL_SSL (SCRAM-SHA-512) deployment trusting `kafka_ca_file`, a CA made
for the test, and `plaintext_environment` removes them all; `client_security`
reads what an aiokafka client will connect with (`SASL_SSL_CLIENT` under
`sasl_ssl_environment`, `PLAINTEXT_CLIENT` under `plaintext_environment`), and
`broker_security` what a FastStream `KafkaBroker`'s consumers and producer will.
"""

from __future__ import annotations

import asyncio
import collections.abc
import json
import os
import pathlib
import subprocess
import typing
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord, TopicPartition

from cqrs_kafka.local import LocalKafkaBroker

if typing.TYPE_CHECKING:
    from faststream.kafka import KafkaBroker

__all__ = (
    "BOOTSTRAP_ENV",
    "local_kafka",
    "kafka_bootstrap_servers",
    "kafka_topic",
    "read_records",
    "json_value",
    "committed_offset",
    "SASL_SSL_USERNAME",
    "SASL_SSL_PASSWORD",
    "CA_NAME",
    "SASL_SSL_CLIENT",
    "PLAINTEXT_CLIENT",
    "kafka_ca_file",
    "sasl_ssl_environment",
    "plaintext_environment",
    "client_security",
    "broker_security",
)

Record: typing.TypeAlias = ConsumerRecord[bytes, bytes]

#: Environment variable naming an external broker for the tests.
BOOTSTRAP_ENV = "CQRS_TEST_KAFKA_BOOTSTRAP_SERVERS"


@pytest.fixture(scope="session")
def local_kafka() -> collections.abc.Iterator[LocalKafkaBroker]:
    """A local broker on a free port, for the whole test session."""
    with LocalKafkaBroker() as broker:
        yield broker


@pytest.fixture(scope="session")
def kafka_bootstrap_servers(request: pytest.FixtureRequest) -> str:
    """Where the tests' Kafka is: the external one, else the local broker."""
    external = os.environ.get(BOOTSTRAP_ENV)
    if external:
        return external
    broker: LocalKafkaBroker = request.getfixturevalue("local_kafka")
    return broker.bootstrap_servers


@pytest.fixture
def kafka_topic(request: pytest.FixtureRequest) -> str:
    """A topic name no other test uses (the topic itself is not created)."""
    return f"test.{request.node.name[:40]}.{uuid.uuid4().hex[:8]}".replace("[", "-").replace(
        "]", ""
    )


async def read_records(
    bootstrap_servers: str, topic: str, count: int, timeout: float = 30.0
) -> list[Record]:
    """The first `count` records of `topic`, from all partitions, from the start.

    Raises `AssertionError` when fewer arrive within `timeout` seconds. Records
    of one partition come in their order; partitions interleave.
    """
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    records: list[Record] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(records) < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"{len(records)} of {count} records arrived on {topic} in {timeout}s"
                )
            getmany = typing.cast(
                "typing.Callable[..., typing.Awaitable[dict[typing.Any, list[Record]]]]",
                consumer.getmany,  # pyright: ignore[reportUnknownMemberType]
            )
            batches = await getmany(timeout_ms=int(min(remaining, 1.0) * 1000))
            for batch in batches.values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records[:count]


def json_value(record: Record) -> typing.Any:
    """The record's value decoded from JSON; `AssertionError` for a record without one.

    >>> record = ConsumerRecord("orders", 0, 7, 0, 0, None, b'{"order_id": "o1"}', None, 0, 18, [])
    >>> json_value(record)
    {'order_id': 'o1'}
    """
    assert record.value is not None, f"no value in {record.topic} at offset {record.offset}"
    return json.loads(record.value)


async def committed_offset(
    bootstrap_servers: str, group: str, topic: str, partition: int = 0
) -> int | None:
    """The offset `group` has committed on `topic`'s `partition` (None if none yet),
    read without joining the group."""
    reader = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await reader.start()
    try:
        committed = typing.cast(
            "typing.Callable[[TopicPartition], typing.Awaitable[int | None]]",
            reader.committed,  # pyright: ignore[reportUnknownMemberType]
        )
        return await committed(TopicPartition(topic, partition))
    finally:
        await reader.stop()


#: The SASL user and password `sasl_ssl_environment` sets.
SASL_SSL_USERNAME = "orders"
SASL_SSL_PASSWORD = "s3cret"
#: The common name of `kafka_ca_file`'s CA.
CA_NAME = "cqrs-test-ca"
#: `client_security` of a client made under `sasl_ssl_environment`.
SASL_SSL_CLIENT: typing.Final[dict[str, typing.Any]] = {
    "protocol": "SASL_SSL",
    "mechanism": "SCRAM-SHA-512",
    "username": SASL_SSL_USERNAME,
    "password": SASL_SSL_PASSWORD,
    "trusted_cas": [CA_NAME],
}
#: `client_security` of a client made under `plaintext_environment` (aiokafka's
#: mechanism default is left, unused).
PLAINTEXT_CLIENT: typing.Final[dict[str, typing.Any]] = {
    "protocol": "PLAINTEXT",
    "mechanism": "PLAIN",
    "username": None,
    "password": None,
    "trusted_cas": None,
}


@pytest.fixture
def kafka_ca_file(tmp_path: pathlib.Path) -> pathlib.Path:
    """A self-signed CA certificate (`CA_NAME`), made with the `openssl` command."""
    cert, key = tmp_path / "ca.pem", tmp_path / "ca.key"
    request = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    subject = ["-subj", f"/CN={CA_NAME}", "-keyout", str(key), "-out", str(cert)]
    subprocess.run([*request, *subject], check=True, capture_output=True)
    return cert


@pytest.fixture
def sasl_ssl_environment(
    monkeypatch: pytest.MonkeyPatch, kafka_ca_file: pathlib.Path
) -> dict[str, str]:
    """The `KAFKA_*` security variables of a SASL_SSL deployment, set for the test:
    SCRAM-SHA-512 as `SASL_SSL_USERNAME`, trusting `kafka_ca_file`."""
    environment = {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": SASL_SSL_USERNAME,
        "KAFKA_SASL_PASSWORD": SASL_SSL_PASSWORD,
        "KAFKA_SSL_CAFILE": str(kafka_ca_file),
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


@pytest.fixture
def plaintext_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No `KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*` or `KAFKA_SSL_*` variable for the test."""
    for name in list(os.environ):
        if name == "KAFKA_SECURITY_PROTOCOL" or name.startswith(("KAFKA_SASL_", "KAFKA_SSL_")):
            monkeypatch.delenv(name)


def client_security(client: AIOKafkaProducer | AIOKafkaConsumer) -> dict[str, typing.Any]:
    """What an aiokafka client (connected or not) will connect with: the protocol, the
    SASL mechanism, user and password, and the common names of the CAs its TLS context
    trusts (`None` without TLS; the hosts' names are checked whenever there is one).

    >>> import asyncio
    >>> async def plain() -> dict[str, typing.Any]:
    ...     producer = AIOKafkaProducer(bootstrap_servers="localhost:9092")
    ...     try:
    ...         return client_security(producer)
    ...     finally:
    ...         await producer.stop()
    >>> asyncio.run(plain())["protocol"]
    'PLAINTEXT'
    """
    # The producer's client is public, the consumer's is not.
    inner = typing.cast(typing.Any, client)
    inner = getattr(inner, "client", None) or inner._client
    context = inner._ssl_context
    trusted = None
    if context is not None:
        assert context.check_hostname, "a TLS context that does not check host names"
        trusted = sorted(
            value
            for ca in context.get_ca_certs()
            for part in ca["subject"]
            for name, value in part
            if name == "commonName"
        )
    return {
        "protocol": inner._security_protocol,
        "mechanism": inner._sasl_mechanism,
        "username": inner._sasl_plain_username,
        "password": inner._sasl_plain_password,
        "trusted_cas": trusted,
    }


async def broker_security(broker: KafkaBroker) -> dict[str, dict[str, typing.Any]]:
    """`client_security` of the consumer and of the producer that `broker` (a FastStream
    `KafkaBroker`, not connected) would make: its subscribers' and its dead letters'.

    Built the way FastStream builds them when the broker connects, and never connected.
    """
    config = typing.cast(typing.Any, broker).config
    consumer: AIOKafkaConsumer = config.builder()
    producer = AIOKafkaProducer(**typing.cast(typing.Any, broker)._connection_kwargs)
    try:
        return {"consumer": client_security(consumer), "producer": client_security(producer)}
    finally:
        await consumer.stop()
        await producer.stop()
