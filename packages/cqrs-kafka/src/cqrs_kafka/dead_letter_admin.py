"""`KafkaDeadLetterAdmin`: the dead-letter admin port (`cqrs.admin.DeadLetterAdmin`) on Kafka.

It reads the dead-letter topics the consumers write (`cqrs_kafka.dead_letter`):
by default every topic whose name ends in `.dlq`, or the `topics` given.
A dead letter's original topic, partition, offset, reason, error and
attempts come from its `x-` headers; its other headers, key and value are
the original record's, and a replay sends exactly those to the original
topic (so the same `message_id`, which an inbox that handled it drops). A
dead letter that left part of the record out to fit its topic
(`x-dead-letter-omitted`) is replayed from the original record, read at its
coordinates; once the original topic's retention dropped it, the replay is
refused (`DeadLetterNotReplayableError`).

Replays are recorded on an audit topic (`cqrs-admin.audit` by default, made
with one partition on first use), one JSON `AuditEntry` per replay, keyed by
the dead letter. Kafka records cannot be changed, so "replayed" cannot be
marked on the dead letter itself; a topic of its own keeps the record beside
the data, needs nothing but the broker, and is read back to refuse a second
replay unless forced. Give it unlimited retention (`retention.ms=-1`) on
Apache Kafka, or the refusal and the history end with it. Two consoles
replaying one dead letter at the same instant may both send it: the inbox
drops the second copy.

```python
admin = KafkaDeadLetterAdmin("localhost:9092")
page = await admin.list_dead_letters(limit=20)
await admin.replay(page.items[0].id, actor="alice", reason="schema fixed")
await admin.close()
```
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import typing

import aiokafka.errors
import pydantic
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord, TopicPartition

from cqrs.admin.audit import AdminAction, AuditEntry, audit_entry, newest_first
from cqrs.admin.checks import checked_topic
from cqrs.admin.dead_letters import DeadLetter, DeadLetterId, after_dead_letter
from cqrs.admin.paging import DEFAULT_PAGE_SIZE, Page, check_page_size, page_of
from cqrs.clock import utc_now
from cqrs.exceptions import (
    DeadLetterAlreadyReplayedError,
    DeadLetterNotFoundError,
    DeadLetterNotReplayableError,
)
from cqrs_kafka.dead_letter import (
    ATTEMPTS_HEADER,
    ERROR_HEADER,
    OMITTED_HEADER,
    ORIGINAL_OFFSET_HEADER,
    ORIGINAL_PARTITION_HEADER,
    ORIGINAL_TOPIC_HEADER,
    REASON_HEADER,
)
from cqrs_kafka.decoding import text_headers
from cqrs_kafka.errors import BrokerUnavailableError, PublishError
from cqrs_kafka.producer import KafkaProducerAdapter
from cqrs_kafka.security import KafkaSecurity
from cqrs_kafka.topics import ensure_topics

__all__ = ("KafkaDeadLetterAdmin", "DEFAULT_AUDIT_TOPIC", "is_dead_letter_header")

logger: logging.Logger = logging.getLogger("cqrs_kafka.dead_letter_admin")

#: Where replays are recorded unless told otherwise.
DEFAULT_AUDIT_TOPIC: typing.Final = "cqrs-admin.audit"
#: Header names the consumer adds to a dead letter start with one of these; a
#: replay leaves them out.
_DEAD_LETTER_PREFIXES: typing.Final = ("x-dead-letter-", "x-original-")
_AUDIT_JSON: typing.Final = pydantic.TypeAdapter(AuditEntry)

_Record: typing.TypeAlias = ConsumerRecord[bytes, bytes]


class _Reader(typing.Protocol):
    """The part of `aiokafka.AIOKafkaConsumer` the admin uses, typed."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def assign(self, partitions: list[TopicPartition]) -> None: ...
    def seek(self, partition: TopicPartition, offset: int) -> None: ...
    async def position(self, partition: TopicPartition) -> int: ...
    async def beginning_offsets(
        self, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int]: ...
    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]: ...
    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[_Record]]: ...


def is_dead_letter_header(name: str) -> bool:
    """Whether header `name` is one the consumer added to the dead letter (`x-original-*`,
    `x-dead-letter-*`), not one of the original record's.

    >>> is_dead_letter_header(ORIGINAL_TOPIC_HEADER), is_dead_letter_header("message_id")
    (True, False)
    """
    return name.startswith(_DEAD_LETTER_PREFIXES)


class KafkaDeadLetterAdmin:
    """`cqrs.admin.DeadLetterAdmin` on the dead-letter topics of one Kafka cluster.

    `topics` names the dead-letter topics to read (default: every topic
    ending in `suffix`); `audit_topic` is where replays are recorded;
    `clock` dates the audit entries; `read_timeout` (seconds) bounds how long
    one call waits for the records it knows are there; `security` (TLS, SASL)
    comes from the environment when not given (`cqrs_kafka.security`). It
    connects on first use; `close()` (or `async with`) disconnects. Calls on
    one admin take turns.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        topics: typing.Sequence[str] | None = None,
        suffix: str = ".dlq",
        audit_topic: str = DEFAULT_AUDIT_TOPIC,
        clock: typing.Callable[[], datetime.datetime] = utc_now,
        client_id: str = "cqrs-admin",
        read_timeout: float = 30.0,
        security: KafkaSecurity | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.security: KafkaSecurity = security or KafkaSecurity.from_env()
        self.topics: tuple[str, ...] | None = None if topics is None else tuple(topics)
        self.suffix = suffix
        self.audit_topic = audit_topic
        self.read_timeout = read_timeout
        self._clock = clock
        self._client_id = client_id
        self._producer = KafkaProducerAdapter(
            bootstrap_servers, client_id=client_id, acks="all", security=self.security
        )
        self._reader: _Reader | None = None
        # Partitions come from an admin client: a consumer keeps the metadata of the
        # topics assigned to it only, so it forgets the others after a read.
        self._metadata: AIOKafkaAdminClient | None = None
        self._turn = asyncio.Lock()
        self._audit: list[AuditEntry] = []  # the replays read back, oldest first
        self._audit_read_to: dict[TopicPartition, int] = {}
        self._audit_topic_made = False

    # -- the port -------------------------------------------------------------------

    async def list_dead_letters(
        self,
        *,
        topic: str | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[DeadLetter]:
        """Dead letters, from the oldest kept, topic by topic (see `DeadLetterAdmin`)."""
        check_page_size(limit)
        after, topic = after_dead_letter(cursor), checked_topic(topic)
        async with self._turn:
            reader, partitions = await self._started(), await self._partitions()
            await self._read_audit(reader, partitions)
            letters: list[DeadLetter] = []
            ranges = await self._ranges(reader, partitions, topic, after)
            for where, (start, end) in ranges.items():
                records = await self._read(reader, where, start, end, limit + 1 - len(letters))
                letters += [self._letter(record) for record in records]
                if len(letters) > limit:
                    break
        return page_of(letters, limit, lambda letter: letter.id.cursor)

    async def replay(
        self,
        dead_letter: DeadLetterId,
        *,
        actor: str,
        reason: str | None = None,
        force: bool = False,
    ) -> None:
        """Send the original record back, then record the replay on the audit topic (see
        `DeadLetterAdmin`). Raises `PublishError` when either could not be written (the
        message says whether the record went out)."""
        entry = audit_entry(
            self._clock(),
            AdminAction.DEAD_LETTER_REPLAY,
            dead_letter.target,
            actor=actor,
            reason=reason,
            details={"forced": force},
        )
        async with self._turn:
            reader, partitions = await self._started(), await self._partitions()
            letter = self._letter(await self._fetch(reader, partitions, dead_letter))
            await self._read_audit(reader, partitions)
            replayed = self._replay_of(dead_letter)
            if replayed is not None and not force:
                raise DeadLetterAlreadyReplayedError(
                    f"dead letter {dead_letter.cursor} was replayed by {replayed.actor} at "
                    f"{replayed.at.isoformat()}; replay it again with force"
                )
            if letter.omitted:
                letter = await self._restored(reader, partitions, letter)
            original = letter.replay_record()
            headers = [(name, value.encode()) for name, value in original.headers.items()]
            await self._send(
                original.topic, original.value, original.key, headers, "the record was not replayed"
            )
            await self._ensure_audit_topic()
            await self._send(
                self.audit_topic,
                _AUDIT_JSON.dump_json(entry),
                dead_letter.target.encode(),
                [("content-type", b"application/json")],
                f"the record WAS replayed to {original.topic}, but the replay is not recorded",
            )

    async def audit_log(
        self, *, target: str | None = None, limit: int = DEFAULT_PAGE_SIZE
    ) -> list[AuditEntry]:
        """The latest replays, newest first, read from the audit topic (see `DeadLetterAdmin`)."""
        check_page_size(limit)
        async with self._turn:
            await self._read_audit(await self._started(), await self._partitions())
            return newest_first(self._audit, target=target, limit=limit)

    async def close(self) -> None:
        """Disconnect; a later call connects again."""
        reader, metadata = self._reader, self._metadata
        self._reader = self._metadata = None
        try:
            if reader is not None:
                await reader.stop()
            if metadata is not None:
                await metadata.close()
        finally:
            await self._producer.stop()

    async def __aenter__(self) -> KafkaDeadLetterAdmin:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- reading ------------------------------------------------------------------

    async def _started(self) -> _Reader:
        if self._reader is not None:
            return self._reader
        metadata = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap_servers,
            client_id=self._client_id,
            **self.security.client_options(),
        )
        reader = typing.cast(
            _Reader,
            AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap_servers,
                client_id=self._client_id,
                group_id=None,
                enable_auto_commit=False,
                # The local broker holds every fetch this long: keep reads snappy.
                fetch_max_wait_ms=100,
                **self.security.client_options(),
            ),
        )
        try:
            await metadata.start()
            await reader.start()
        except aiokafka.errors.KafkaError as exc:
            await reader.stop()
            await metadata.close()
            raise BrokerUnavailableError(
                f"no Kafka broker answered at {self.bootstrap_servers}: {exc}. Check "
                "KAFKA_BOOTSTRAP_SERVERS and that the broker runs."
            ) from exc
        self._reader, self._metadata = reader, metadata
        return reader

    async def _partitions(self) -> dict[str, set[int]]:
        """Every topic of the cluster with its partition numbers, as they are now."""
        assert self._metadata is not None
        try:
            described = typing.cast(
                list[dict[str, typing.Any]],
                await self._metadata.describe_topics(),  # pyright: ignore[reportUnknownMemberType]
            )
        except aiokafka.errors.KafkaError as exc:
            raise BrokerUnavailableError(f"could not read the cluster's topics: {exc}") from exc
        return {
            topic["topic"]: {partition["partition"] for partition in topic["partitions"]}
            for topic in described
            if topic["error_code"] == 0
        }

    async def _ranges(
        self,
        reader: _Reader,
        existing: dict[str, set[int]],
        topic: str | None,
        after: DeadLetterId | None,
    ) -> dict[TopicPartition, tuple[int, int]]:
        """The offsets left to list per dead-letter partition, in listing order."""
        wanted = self.topics if self.topics is not None else sorted(existing)
        names = [
            name
            for name in wanted
            if name in existing
            and name != self.audit_topic
            and (self.topics is not None or name.endswith(self.suffix))
            and topic in (None, name)
        ]
        partitions = sorted(
            (TopicPartition(name, number) for name in names for number in existing[name]),
            key=lambda where: (where.topic, where.partition),
        )
        if after is not None:
            partitions = [
                where
                for where in partitions
                if (where.topic, where.partition) >= (after.topic, after.partition)
            ]
        if not partitions:
            return {}
        starts = await reader.beginning_offsets(partitions)
        ends = await reader.end_offsets(partitions)
        ranges: dict[TopicPartition, tuple[int, int]] = {}
        for where in partitions:
            start = starts[where]
            if after is not None and (where.topic, where.partition) == (
                after.topic,
                after.partition,
            ):
                start = max(start, after.offset + 1)
            if start < ends[where]:
                ranges[where] = (start, ends[where])
        return ranges

    async def _fetch(
        self, reader: _Reader, existing: dict[str, set[int]], dead_letter: DeadLetterId
    ) -> _Record:
        """The record kept at `dead_letter`; `DeadLetterNotFoundError` when none is."""
        where = TopicPartition(dead_letter.topic, dead_letter.partition)
        record = await self._record_at(reader, existing, where, dead_letter.offset)
        if record is None:
            raise DeadLetterNotFoundError(
                f"no dead letter is kept at {dead_letter.cursor} (never written, or gone with "
                f"the topic's retention)"
            )
        return record

    async def _restored(
        self, reader: _Reader, existing: dict[str, set[int]], letter: DeadLetter
    ) -> DeadLetter:
        """`letter` with the key, value and headers of the original record it left out.

        Raises `DeadLetterNotReplayableError` when the original is no longer kept.
        """
        original = None
        if letter.original_topic and None not in (
            letter.original_partition,
            letter.original_offset,
        ):
            where = TopicPartition(
                letter.original_topic, typing.cast(int, letter.original_partition)
            )
            original = await self._record_at(
                reader, existing, where, typing.cast(int, letter.original_offset)
            )
        if original is None:
            raise DeadLetterNotReplayableError(
                f"dead letter {letter.id.cursor} left out its {', '.join(letter.omitted)} and "
                f"the original record is no longer kept at {letter.original_topic} partition "
                f"{letter.original_partition} offset {letter.original_offset}; it cannot be "
                f"replayed"
            )
        return dataclasses.replace(
            letter,
            key=original.key,
            value=original.value or b"",
            headers=text_headers(original.headers),
            omitted=(),
        )

    async def _record_at(
        self, reader: _Reader, existing: dict[str, set[int]], where: TopicPartition, offset: int
    ) -> _Record | None:
        """The record at `offset` of `where`, or `None` when the topic does not keep one."""
        if where.partition not in existing.get(where.topic, ()):
            return None
        start = (await reader.beginning_offsets([where]))[where]
        end = (await reader.end_offsets([where]))[where]
        if not start <= offset < end:
            return None
        records = await self._read(reader, where, offset, end, 1)
        return records[0] if records and records[0].offset == offset else None

    async def _read(
        self, reader: _Reader, where: TopicPartition, start: int, end: int, limit: int
    ) -> list[_Record]:
        """Up to `limit` records of `where` from offset `start` (at most up to `end`)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.read_timeout
        reader.assign([where])
        reader.seek(where, start)
        records: list[_Record] = []
        try:
            while len(records) < limit and await reader.position(where) < end:
                if loop.time() > deadline:
                    raise BrokerUnavailableError(
                        f"{where.topic}[{where.partition}] did not deliver offsets {start} to "
                        f"{end - 1} within {self.read_timeout}s"
                    )
                batches = await reader.getmany(
                    where, timeout_ms=1000, max_records=limit - len(records)
                )
                records += [record for record in batches.get(where, []) if record.offset < end]
        except aiokafka.errors.KafkaError as exc:
            raise BrokerUnavailableError(
                f"could not read {where.topic}[{where.partition}]: {exc}"
            ) from exc
        return records[:limit]

    async def _read_audit(self, reader: _Reader, existing: dict[str, set[int]]) -> None:
        """Read the audit topic's records written since the last call."""
        partitions = [
            TopicPartition(self.audit_topic, number)
            for number in sorted(existing.get(self.audit_topic, ()))
        ]
        if not partitions:
            return
        ends = await reader.end_offsets(partitions)
        starts = await reader.beginning_offsets(partitions)
        for where in partitions:
            start = max(self._audit_read_to.get(where, 0), starts[where])
            if start < ends[where]:
                for record in await self._read(
                    reader, where, start, ends[where], ends[where] - start
                ):
                    self._keep_audit(record)
            self._audit_read_to[where] = ends[where]
        self._audit.sort(key=lambda entry: entry.at)

    def _keep_audit(self, record: _Record) -> None:
        try:
            self._audit.append(_AUDIT_JSON.validate_json(record.value or b""))
        except pydantic.ValidationError:
            logger.warning(
                "skipped %s[%d]@%d: not an audit entry",
                record.topic,
                record.partition,
                record.offset,
            )

    def _replay_of(self, dead_letter: DeadLetterId) -> AuditEntry | None:
        """The latest recorded replay of `dead_letter`, if any."""
        target = dead_letter.target
        return next((entry for entry in reversed(self._audit) if entry.target == target), None)

    def _letter(self, record: _Record) -> DeadLetter:
        headers = text_headers(record.headers)
        where = DeadLetterId(record.topic, record.partition, record.offset)
        return DeadLetter(
            where,
            original_topic=headers.get(ORIGINAL_TOPIC_HEADER) or None,
            original_partition=_number(headers.get(ORIGINAL_PARTITION_HEADER)),
            original_offset=_number(headers.get(ORIGINAL_OFFSET_HEADER)),
            key=record.key,
            value=record.value or b"",
            headers={
                name: value for name, value in headers.items() if not is_dead_letter_header(name)
            },
            reason=headers.get(REASON_HEADER),
            error=headers.get(ERROR_HEADER),
            attempts=_number(headers.get(ATTEMPTS_HEADER)),
            dead_lettered_at=datetime.datetime.fromtimestamp(
                record.timestamp / 1000, datetime.timezone.utc
            ),
            replayed=self._replay_of(where),
            omitted=tuple(part for part in headers.get(OMITTED_HEADER, "").split(",") if part),
        )

    # -- writing ------------------------------------------------------------------

    async def _ensure_audit_topic(self) -> None:
        if not self._audit_topic_made:
            await ensure_topics(
                self.bootstrap_servers, {self.audit_topic: 1}, security=self.security
            )
            self._audit_topic_made = True

    async def _send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None,
        headers: list[tuple[str, bytes]],
        if_it_fails: str,
    ) -> None:
        try:
            await self._producer.send(topic, value, key=key, headers=headers)
        except aiokafka.errors.KafkaError as exc:
            raise PublishError(
                f"could not write to {topic}: {type(exc).__name__}: {exc}; {if_it_fails}"
            ) from exc


def _number(text: str | None) -> int | None:
    """A header's whole number, or `None` when it is missing or not one."""
    if text is None or not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    return int(text)
