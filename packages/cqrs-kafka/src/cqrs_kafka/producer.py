"""`KafkaProducerAdapter`: an aiokafka producer that starts itself on first use.

It can be built anywhere, also outside a running event loop (at import time,
in a DI container): the aiokafka producer is created and connected on the
first send, or by `start()`. Settings not passed come from the environment:

| Variable                   | Default          | Meaning                                   |
|----------------------------|------------------|-------------------------------------------|
| `KAFKA_BOOTSTRAP_SERVERS`  | `localhost:9092` | comma-separated `host:port` list          |
| `KAFKA_CLIENT_ID`          | `cqrs-kafka`     | client id shown in broker logs            |
| `KAFKA_ACKS`               | `all`            | `0`, `1` or `all`                         |
| `KAFKA_COMPRESSION`        | `none`           | `none`, `gzip`, `snappy`, `lz4` or `zstd` |
| `KAFKA_ENABLE_IDEMPOTENCE` | `false`          | `true` for exactly-once per partition     |
| `KAFKA_LINGER_MS`          | `0`              | how long a batch waits to fill up         |

TLS and SASL come from the `KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*` and
`KAFKA_SSL_*` variables (`cqrs_kafka.security.KafkaSecurity`).

Idempotence is off by default because the local broker (`cqrs_kafka.local`)
does not support it. On Apache Kafka turn it on (`KAFKA_ENABLE_IDEMPOTENCE=true`,
which needs `acks=all`): a retried batch is then never written twice.

>>> producer = kafka_producer_factory(dsn="localhost:9092", topics=["orders"])
>>> producer.settings.bootstrap_servers, producer.settings.enable_idempotence
(['localhost:9092'], False)
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import typing

import aiokafka
import aiokafka.errors
from aiokafka.structs import RecordMetadata

from cqrs_kafka.errors import BrokerUnavailableError
from cqrs_kafka.security import KafkaSecurity

__all__ = ("ProducerSettings", "KafkaProducerAdapter", "kafka_producer_factory")

Acks = typing.Literal[0, 1, "all"]
Compression = typing.Literal["gzip", "snappy", "lz4", "zstd"]
_COMPRESSIONS: tuple[str, ...] = typing.get_args(Compression)
Header = tuple[str, bytes]


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean; use true or false.")


def _env_acks() -> Acks:
    raw = os.environ.get("KAFKA_ACKS", "all").strip().lower()
    if raw == "all" or raw == "-1":
        return "all"
    if raw in {"0", "1"}:
        return 0 if raw == "0" else 1
    raise ValueError(f"KAFKA_ACKS={raw!r} is not one of 0, 1, all.")


def _env_compression() -> Compression | None:
    raw = os.environ.get("KAFKA_COMPRESSION", "none").strip().lower()
    if raw in {"", "none"}:
        return None
    if raw not in _COMPRESSIONS:
        choices = ", ".join(("none", *_COMPRESSIONS))
        raise ValueError(f"KAFKA_COMPRESSION={raw!r} is not one of {choices}.")
    return typing.cast(Compression, raw)


def _servers(value: str | typing.Sequence[str]) -> list[str]:
    servers = value.split(",") if isinstance(value, str) else list(value)
    cleaned = [server.strip() for server in servers if server.strip()]
    if not cleaned:
        raise ValueError("no Kafka bootstrap servers given; pass host:port (e.g. localhost:9092).")
    return cleaned


@dataclasses.dataclass(frozen=True)
class ProducerSettings:
    """What the producer connects to and how it publishes; see the module's table."""

    bootstrap_servers: list[str] = dataclasses.field(
        default_factory=lambda: _servers(
            os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")
        )
    )
    client_id: str = dataclasses.field(
        default_factory=lambda: os.environ.get("KAFKA_CLIENT_ID", "cqrs-kafka")
    )
    acks: Acks = dataclasses.field(default_factory=_env_acks)
    compression_type: Compression | None = dataclasses.field(default_factory=_env_compression)
    enable_idempotence: bool = dataclasses.field(
        default_factory=lambda: _env_bool("KAFKA_ENABLE_IDEMPOTENCE", False)
    )
    linger_ms: int = dataclasses.field(
        default_factory=lambda: int(os.environ.get("KAFKA_LINGER_MS", "0"))
    )
    #: TLS and SASL (`KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*`, `KAFKA_SSL_*`).
    security: KafkaSecurity = dataclasses.field(default_factory=KafkaSecurity.from_env)
    #: Further `aiokafka.AIOKafkaProducer` arguments (batch sizes...); they win over `security`.
    options: typing.Mapping[str, typing.Any] = dataclasses.field(
        default_factory=dict[str, typing.Any]
    )

    def __post_init__(self) -> None:
        if self.enable_idempotence and self.acks != "all":
            raise ValueError("enable_idempotence needs acks='all'.")
        if self.compression_type is not None and self.compression_type not in _COMPRESSIONS:
            raise ValueError(
                f"compression_type {self.compression_type!r} is not one of {_COMPRESSIONS}."
            )


class KafkaProducerAdapter:
    """A lazily started `aiokafka.AIOKafkaProducer`.

    `bootstrap_servers` is a `host:port` string, a comma-separated list or a
    sequence; omitted settings come from the environment (module docstring).
    `topics` are looked up when the producer starts, so their first message
    does not wait for metadata.
    """

    def __init__(
        self,
        bootstrap_servers: str | typing.Sequence[str] | None = None,
        *,
        client_id: str | None = None,
        acks: Acks | None = None,
        compression_type: Compression | None = None,
        enable_idempotence: bool | None = None,
        linger_ms: int | None = None,
        topics: typing.Sequence[str] = (),
        security: KafkaSecurity | None = None,
        **options: typing.Any,
    ) -> None:
        given: dict[str, typing.Any] = {
            "security": security,
            "bootstrap_servers": None if bootstrap_servers is None else _servers(bootstrap_servers),
            "client_id": client_id,
            "acks": acks,
            "compression_type": compression_type,
            "enable_idempotence": enable_idempotence,
            "linger_ms": linger_ms,
        }
        self.settings: ProducerSettings = ProducerSettings(
            **{name: value for name, value in given.items() if value is not None},
            options=options,
        )
        self.topics: tuple[str, ...] = tuple(topics)
        self._producer: aiokafka.AIOKafkaProducer | None = None
        self._lock: asyncio.Lock | None = None
        # Made with the producer, so that both belong to the same event loop.
        self._send_turn: asyncio.Lock | None = None
        self._topics_with_metadata: set[str] = set()

    @property
    def started(self) -> bool:
        """Whether the producer is connected."""
        return self._producer is not None

    async def start(self) -> None:
        """Connect; raises `BrokerUnavailableError` when no broker answers."""
        if self._producer is not None:
            return
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if self._producer is None:
                self._producer = await self._connect()
                self._send_turn = asyncio.Lock()
                self._topics_with_metadata = set(self.topics)

    def client(self) -> aiokafka.AIOKafkaProducer:
        """A new aiokafka producer with the settings, not connected (`start()` connects)."""
        settings = self.settings
        return aiokafka.AIOKafkaProducer(
            bootstrap_servers=",".join(settings.bootstrap_servers),
            client_id=settings.client_id,
            acks=settings.acks,
            compression_type=settings.compression_type,
            enable_idempotence=settings.enable_idempotence,
            linger_ms=settings.linger_ms,
            **{**settings.security.client_options(), **settings.options},
        )

    async def _connect(self) -> aiokafka.AIOKafkaProducer:
        settings = self.settings
        producer = self.client()
        try:
            await producer.start()
            for topic in self.topics:
                await producer.partitions_for(topic)  # pyright: ignore[reportUnknownMemberType]
        except aiokafka.errors.KafkaConnectionError as exc:
            await producer.stop()
            raise BrokerUnavailableError(
                f"no Kafka broker answered at {','.join(settings.bootstrap_servers)}: {exc}. "
                "Check KAFKA_BOOTSTRAP_SERVERS and that the broker runs "
                "(python -m cqrs_kafka.local starts a local one)."
            ) from exc
        except BaseException:
            await producer.stop()
            raise
        return producer

    async def stop(self) -> None:
        """Send what is buffered, then disconnect. A later send starts it again."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def enqueue(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: typing.Sequence[Header] = (),
    ) -> asyncio.Future[RecordMetadata]:
        """Put a record in the send buffer; the returned future resolves once the
        broker has it (or fails). Records of one partition are sent in the order
        they were enqueued.

        Concurrent callers take turns, first come first served: when the buffer
        is full, aiokafka wakes every waiting sender each time a batch leaves and
        all but a few go back to sleep, so 10 000 concurrent sends took eight
        times as long as the same sends made one after another.
        """
        if self._producer is None:
            await self.start()
        producer, turn = self._producer, self._send_turn
        assert producer is not None
        assert turn is not None
        if topic not in self._topics_with_metadata:
            # Before taking a turn: a topic whose metadata is slow to come (or
            # never comes) must not hold up the senders to other topics.
            await producer.partitions_for(topic)  # pyright: ignore[reportUnknownMemberType]
            self._topics_with_metadata.add(topic)
        send = typing.cast(
            "typing.Callable[..., typing.Awaitable[asyncio.Future[RecordMetadata]]]",
            producer.send,  # pyright: ignore[reportUnknownMemberType]
        )
        async with turn:
            return await send(topic, value, key=key, headers=list(headers))

    async def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: typing.Sequence[Header] = (),
    ) -> RecordMetadata:
        """Publish one record and wait until the broker has it."""
        return await (await self.enqueue(topic, value, key=key, headers=headers))

    async def __aenter__(self) -> KafkaProducerAdapter:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


def kafka_producer_factory(
    dsn: str | typing.Sequence[str] | None = None,
    topics: typing.Sequence[str] = (),
    **options: typing.Any,
) -> KafkaProducerAdapter:
    """A `KafkaProducerAdapter` for the brokers at `dsn` (default: `KAFKA_BOOTSTRAP_SERVERS`).

    `topics` are warmed up at start; `options` are `KafkaProducerAdapter`'s
    keyword arguments.
    """
    return KafkaProducerAdapter(dsn, topics=topics, **options)
