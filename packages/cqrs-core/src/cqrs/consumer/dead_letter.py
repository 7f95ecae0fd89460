"""Dead letters: records a consumer gave up on, kept where a person can find them.

A dead letter is the original record, value and key unchanged, with the
original headers and these added (values are text; bytes that are not UTF-8
are replaced):

| Header                   | Value                                                       |
|--------------------------|-------------------------------------------------------------|
| `x-dead-letter-reason`   | the error's type and message, at most 1 KiB (cut with a note) |
| `x-dead-letter-error`    | the error's class, with its module                          |
| `x-dead-letter-attempts` | how often the handler ran (0: the record was undecodable)   |
| `x-original-topic`       | the topic the record was consumed from                      |
| `x-original-partition`   | its partition                                               |
| `x-original-offset`      | its offset                                                  |
| `x-original-key`         | its key as text, at most 1 KiB (absent when it had none)    |
| `x-original-value-size`  | the size of its value, in bytes                             |
| `x-dead-letter-omitted`  | what was left out to fit the size limit, if anything        |

A dead letter must fit the dead-letter topic's size limit, however large the
record was. `DeadLetter.shapes` gives it from fullest to smallest: whole;
without the value (`x-dead-letter-omitted: value`); and, when the original
headers or key are too large too, with neither (`value,headers,key`). The
publisher sends the fullest that fits (`DeadLetter.fitting`); the record can always be fetched from
its original topic by the coordinates in the headers (until that topic's
retention drops it). To replay a dead letter once the cause is fixed, publish
its value and key back to `x-original-topic`.

>>> from cqrs.consumer.memory import MemoryRecord
>>> record = MemoryRecord("orders", 0, 7, b"o-1", b"x" * 5000)
>>> letter = DeadLetter(record, ValueError("bad sku"), attempts=1, topic="orders.dlq")
>>> fitted = letter.fitting(max_size=1024, size=record_size)[0]
>>> fitted.value, fitted.headers[OMITTED_HEADER], fitted.headers[VALUE_SIZE_HEADER]
(b'', 'value', '5000')
>>> fitted.headers[REASON_HEADER], fitted.headers[ORIGINAL_OFFSET_HEADER]
('ValueError: bad sku', '7')
"""

from __future__ import annotations

import collections.abc
import dataclasses
import typing

from cqrs.consumer.record import Record, as_text, text_headers
from cqrs.exceptions import ConfigurationError

__all__ = (
    "DeadLetter",
    "DeadLetterPublisher",
    "DeadLetterRecord",
    "DeadLetterRetry",
    "RecordSize",
    "dead_letter_topic",
    "record_size",
    "bounded_text",
    "MAX_TEXT_BYTES",
    "REASON_HEADER",
    "ERROR_HEADER",
    "ATTEMPTS_HEADER",
    "ORIGINAL_TOPIC_HEADER",
    "ORIGINAL_PARTITION_HEADER",
    "ORIGINAL_OFFSET_HEADER",
    "ORIGINAL_KEY_HEADER",
    "VALUE_SIZE_HEADER",
    "OMITTED_HEADER",
)

REASON_HEADER: typing.Final = "x-dead-letter-reason"
ERROR_HEADER: typing.Final = "x-dead-letter-error"
ATTEMPTS_HEADER: typing.Final = "x-dead-letter-attempts"
ORIGINAL_TOPIC_HEADER: typing.Final = "x-original-topic"
ORIGINAL_PARTITION_HEADER: typing.Final = "x-original-partition"
ORIGINAL_OFFSET_HEADER: typing.Final = "x-original-offset"
ORIGINAL_KEY_HEADER: typing.Final = "x-original-key"
VALUE_SIZE_HEADER: typing.Final = "x-original-value-size"
OMITTED_HEADER: typing.Final = "x-dead-letter-omitted"

#: The most bytes of UTF-8 a text header of a dead letter takes (reason, error, key).
MAX_TEXT_BYTES: typing.Final = 1024

#: How many bytes a record of this key, value and headers takes on the wire.
RecordSize = collections.abc.Callable[[bytes | None, bytes, collections.abc.Mapping[str, str]], int]


def dead_letter_topic(topic: str, configured: str | None) -> str:
    """Where dead letters of `topic` go: `configured`, else `<topic>.dlq`.

    >>> dead_letter_topic("orders", None), dead_letter_topic("orders", "all.dlq")
    ('orders.dlq', 'all.dlq')
    """
    return configured if configured is not None else f"{topic}.dlq"


def bounded_text(text: str, limit: int = MAX_TEXT_BYTES) -> str:
    """`text` in at most `limit` bytes of UTF-8, with a note of what was cut.

    Characters that UTF-8 cannot carry (lone surrogates) become "?", so the
    result can always be encoded.

    >>> bounded_text("x" * 100, limit=30)
    'xxxxxxxxxx… (90 more bytes)'
    """
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return data.decode("utf-8")
    # Room for the note as if everything were cut: the real note is no longer.
    room = len(f"… ({len(data)} more bytes)".encode())
    head = data[: max(limit - room, 0)].decode("utf-8", "ignore")
    return f"{head}… ({len(data) - len(head.encode())} more bytes)"


def record_size(key: bytes | None, value: bytes, headers: collections.abc.Mapping[str, str]) -> int:
    """The bytes of a record's key, value and header names and values: a lower bound of
    its size on any wire, and the measure of the in-memory transport."""
    header_bytes = sum(len(name.encode()) + len(text.encode()) for name, text in headers.items())
    return len(key or b"") + len(value) + header_bytes


@dataclasses.dataclass(frozen=True)
class DeadLetterRecord:
    """One way to publish a dead letter: its destination, key, value and headers."""

    topic: str
    key: bytes | None
    value: bytes
    headers: collections.abc.Mapping[str, str]


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    """A record given up on: why (`error`), after how many tries, and where it goes."""

    record: Record
    error: BaseException
    attempts: int
    topic: str

    @property
    def reason(self) -> str:
        """The error's type and message, bounded to `MAX_TEXT_BYTES`."""
        message = str(self.error)
        name = type(self.error).__name__
        return bounded_text(f"{name}: {message}" if message else name)

    @property
    def coordinates(self) -> str:
        """Where the record came from, as `topic[partition]@offset`."""
        record = self.record
        return f"{record.topic}[{record.partition}]@{record.offset}"

    def shapes(self) -> collections.abc.Iterator[DeadLetterRecord]:
        """The ways to publish this dead letter, from the whole record to the smallest."""
        record = self.record
        value = record.value or b""
        original = text_headers(record.headers)
        yield self._shape(record.key, value, original, omitted="")
        if value:
            yield self._shape(record.key, b"", original, omitted="value")
        if original or record.key:
            yield self._shape(None, b"", {}, omitted="value,headers,key")

    def fitting(self, max_size: int, size: RecordSize) -> list[DeadLetterRecord]:
        """The shapes whose `size` is at most `max_size`, fullest first; the smallest alone
        if none is."""
        shapes = list(self.shapes())
        fits = [s for s in shapes if size(s.key, s.value, s.headers) <= max_size]
        return fits or shapes[-1:]

    def _shape(
        self,
        key: bytes | None,
        value: bytes,
        original: collections.abc.Mapping[str, str],
        omitted: str,
    ) -> DeadLetterRecord:
        record, error_type = self.record, type(self.error)
        added = {
            REASON_HEADER: self.reason,
            ERROR_HEADER: bounded_text(f"{error_type.__module__}.{error_type.__qualname__}"),
            ATTEMPTS_HEADER: str(self.attempts),
            ORIGINAL_TOPIC_HEADER: record.topic,
            ORIGINAL_PARTITION_HEADER: str(record.partition),
            ORIGINAL_OFFSET_HEADER: str(record.offset),
            VALUE_SIZE_HEADER: str(len(record.value or b"")),
        }
        if record.key is not None:
            added[ORIGINAL_KEY_HEADER] = bounded_text(as_text(record.key))
        if omitted:
            added[OMITTED_HEADER] = omitted
        return DeadLetterRecord(self.topic, key, value, {**original, **added})


class DeadLetterPublisher(typing.Protocol):
    """Where a consumer's dead letters go: a topic of its broker, usually."""

    async def publish(self, letter: DeadLetter) -> None:
        """Publish `letter` to `letter.topic` and wait until the broker has it.

        Sends the fullest of `letter.shapes()` the destination takes. Raises
        (any exception) when the dead letter could not be published; the
        consumer then tries again after a pause.
        """
        ...


@dataclasses.dataclass(frozen=True)
class DeadLetterRetry:
    """The pauses between tries of a dead letter that could not be published.

    They start at `initial_delay` seconds and grow `multiplier` times per
    failure up to `max_delay`; the consumer logs once per failure and keeps
    trying until the dead letter is published (nothing is skipped), holding
    up only that record's partition.

    >>> import itertools
    >>> list(itertools.islice(DeadLetterRetry(0.5, 2.0, 3.0).delays(), 5))
    [0.5, 1.0, 2.0, 3.0, 3.0]
    """

    initial_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if self.initial_delay <= 0 or self.max_delay < self.initial_delay or self.multiplier < 1:
            raise ConfigurationError(
                "DeadLetterRetry needs 0 < initial_delay <= max_delay and multiplier >= 1; "
                f"got {self.initial_delay}, {self.max_delay} and {self.multiplier}."
            )

    def delays(self) -> collections.abc.Iterator[float]:
        """The pauses, for as many failures as there are."""
        delay = self.initial_delay
        while True:
            yield delay
            delay = min(delay * self.multiplier, self.max_delay)
