"""The dead-letter admin port: find the records consumers gave up on, and send them back.

A consumer that cannot decode a record, or whose handler keeps failing on it,
keeps it on a dead-letter topic, with where it came from (original topic,
partition, offset) and why. An operator lists dead letters, fixes the cause,
and replays one: the record goes back to its original topic with its original
key, value and headers (so the same message id, which lets an inbox that did
handle it drop the copy), and the replay is recorded, so that a second replay
of the same dead letter is refused unless forced.

`cqrs.admin.memory.MemoryDeadLetters` implements this port in memory,
cqrs-kafka's `KafkaDeadLetterAdmin` on Kafka dead-letter topics;
`cqrs.testing.dead_letter_admin` is the contract both pass.

>>> where = DeadLetterId("orders.dlq", 0, 17)
>>> where.cursor, where.target
('orders.dlq/0/17', 'dead-letter/orders.dlq/0/17')
>>> DeadLetterId.parse(where.cursor) == where
True
"""

from __future__ import annotations

import dataclasses
import datetime
import typing

from cqrs.admin.audit import AuditEntry
from cqrs.admin.checks import MAX_TOPIC_LENGTH, checked_text
from cqrs.admin.paging import DEFAULT_PAGE_SIZE, Page
from cqrs.exceptions import DeadLetterNotReplayableError, InvalidAdminRequestError

__all__ = (
    "DeadLetterAdmin",
    "DeadLetter",
    "DeadLetterId",
    "RawRecord",
    "after_dead_letter",
)

_MAX_POSITION = 2**63 - 1


@dataclasses.dataclass(frozen=True, order=True)
class DeadLetterId:
    """Where a dead letter is kept: its dead-letter topic, partition and offset.

    Ids order as listings go: by topic name, then partition, then offset.
    """

    topic: str
    partition: int
    offset: int

    @property
    def cursor(self) -> str:
        """`topic/partition/offset`: the cursor that pages on after this dead letter."""
        return f"{self.topic}/{self.partition}/{self.offset}"

    @property
    def target(self) -> str:
        """The audit target of this dead letter."""
        return f"dead-letter/{self.cursor}"

    @classmethod
    def parse(cls, text: str) -> DeadLetterId:
        """The id written as `topic/partition/offset` (as `cursor` writes it).

        Raises `InvalidAdminRequestError` for anything else.
        """
        topic, _, rest = text.rpartition("/")
        topic, _, partition = topic.rpartition("/")
        offset = rest
        numbers = (partition, offset)
        if not topic or not all(n.isascii() and n.isdigit() and len(n) < 20 for n in numbers):
            raise InvalidAdminRequestError(
                f"{text!r} is not a dead letter's topic/partition/offset"
            )
        return cls.checked(topic, int(partition), int(offset))

    @classmethod
    def checked(cls, topic: str, partition: int, offset: int) -> DeadLetterId:
        """The id, if its parts could name a kept record; else `InvalidAdminRequestError`."""
        checked_text(topic, "topic", MAX_TOPIC_LENGTH)
        for name, number in (("partition", partition), ("offset", offset)):
            if isinstance(number, bool) or not isinstance(number, int):
                raise InvalidAdminRequestError(f"{name} must be a whole number, not {number!r}")
            if not 0 <= number <= (_MAX_POSITION if name == "offset" else 2**31 - 1):
                raise InvalidAdminRequestError(f"{name} {number} is out of range")
        return cls(topic, partition, offset)


@dataclasses.dataclass(frozen=True)
class RawRecord:
    """A record as a broker carries it: what a dead letter keeps and a replay sends.

    `headers` are text (bytes that are not UTF-8 replaced).
    """

    topic: str
    key: bytes | None
    value: bytes
    headers: typing.Mapping[str, str] = dataclasses.field(default_factory=dict[str, str])


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    """A record a consumer gave up on, as kept on its dead-letter topic.

    `original_*` say where it was consumed from (`None` where the dead letter
    does not say); `key`, `value` and `headers` are the original record's (the
    dead-letter metadata taken out); `reason` is the error's text, `error` its
    type, `attempts` how often the handler ran (0: never, as it could not be
    decoded). `replayed` is the audit entry of its latest replay, if any.
    `omitted` names what the dead letter left out to fit its topic's size limit
    (`value`, `headers`, `key`): such a letter is replayed from the original
    record, fetched by its coordinates while the original topic keeps it.
    """

    id: DeadLetterId
    original_topic: str | None
    original_partition: int | None
    original_offset: int | None
    key: bytes | None
    value: bytes
    headers: typing.Mapping[str, str]
    reason: str | None
    error: str | None
    attempts: int | None
    dead_lettered_at: datetime.datetime
    replayed: AuditEntry | None = None
    omitted: tuple[str, ...] = ()

    def replay_record(self) -> RawRecord:
        """The record a replay sends: the original, to its original topic.

        Raises `DeadLetterNotReplayableError` when the dead letter does not
        say which topic it came from, or left part of the record out.
        """
        if not self.original_topic:
            raise DeadLetterNotReplayableError(
                f"dead letter {self.id.cursor} does not say which topic it came from; "
                f"publish its value by hand if it must go back"
            )
        if self.omitted:
            raise DeadLetterNotReplayableError(
                f"dead letter {self.id.cursor} left out its {', '.join(self.omitted)} to fit "
                f"the dead-letter topic; replay the original record from {self.original_topic} "
                f"partition {self.original_partition} offset {self.original_offset} instead"
            )
        return RawRecord(self.original_topic, self.key, self.value, dict(self.headers))


class DeadLetterAdmin(typing.Protocol):
    """An operator's view of the dead-letter topics of one broker."""

    async def list_dead_letters(
        self,
        *,
        topic: str | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[DeadLetter]:
        """Dead letters of dead-letter topic `topic`, or of every one this admin reads,
        from the oldest kept: topic by topic (by name), partition by partition, in
        offset order. An empty page when there are none.

        Give a page's `next_cursor` as `cursor` for the page after it. Raises
        `InvalidAdminRequestError` for a cursor it did not hand out or a limit
        out of 1..`MAX_PAGE_SIZE`.
        """
        ...

    async def replay(
        self,
        dead_letter: DeadLetterId,
        *,
        actor: str,
        reason: str | None = None,
        force: bool = False,
    ) -> None:
        """Send the dead letter's original record back to its original topic, then record
        the replay (`actor`, `reason`, `force`) in the audit log.

        Raises, sending nothing: `InvalidAdminRequestError` for an empty actor
        or bad reason; `DeadLetterNotFoundError` when nothing is kept there;
        `DeadLetterNotReplayableError` when it does not say where it came
        from; `DeadLetterAlreadyReplayedError` when it was replayed before,
        unless `force`.
        """
        ...

    async def audit_log(
        self, *, target: str | None = None, limit: int = DEFAULT_PAGE_SIZE
    ) -> list[AuditEntry]:
        """The latest replays, newest first, all or only those of `target`
        (`DeadLetterId.target`); empty when none."""
        ...


def after_dead_letter(cursor: str | None) -> DeadLetterId | None:
    """The dead letter after which the page of `cursor` starts (`None`: from the first).

    Raises `InvalidAdminRequestError` for a cursor that is not a `DeadLetterId.cursor`.
    """
    return None if cursor is None else DeadLetterId.parse(cursor)
