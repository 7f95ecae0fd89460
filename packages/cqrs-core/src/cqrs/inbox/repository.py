"""The inbox port: an idempotent consumer records each message it handles.

A consumer records `(consumer, message_id)` in the SAME transaction as the
handler's effects. The first delivery records it and does the work; a
redelivery finds the record and does nothing. If the handler's transaction
rolls back, the record goes with it and the redelivery is processed again.
`record` must be the transaction's first statement, before any read:

```
async with session.begin():
    if not await inbox.record(session, "inventory", message.message_id):
        return  # this consumer handled the message already
    ...  # the handler's writes, on the same session
```

While one transaction holds an unfinished record, another recording the
same id waits for it to end: if it commits the second gets `False`, if it
rolls back the second records the message and gets `True`.

>>> import asyncio, uuid
>>> from cqrs.inbox.memory import MemoryInbox
>>> inbox = MemoryInbox()
>>> reserved: list[str] = []
>>> async def handle(message_id: uuid.UUID, sku: str) -> None:
...     async with inbox.session() as session, session.begin():
...         if not await inbox.record(session, "inventory", message_id):
...             return  # duplicate
...         reserved.append(sku)
>>> message_id = uuid.uuid4()
>>> asyncio.run(handle(message_id, "sku-1"))
>>> asyncio.run(handle(message_id, "sku-1"))  # redelivered: no second effect
>>> reserved
['sku-1']
"""

from __future__ import annotations

import dataclasses
import datetime
import typing
import uuid

from typing_extensions import TypeVar

from cqrs.exceptions import CQRSError

__all__ = (
    "InboxRecord",
    "InboxRepository",
    "InvalidInboxKeyError",
    "MAX_CONSUMER_LENGTH",
    "check_cutoff",
    "check_key",
)

SessionT_contra = TypeVar("SessionT_contra", contravariant=True, default=typing.Any)

MAX_CONSUMER_LENGTH: typing.Final = 255
"""The longest consumer name an inbox stores (the SQL column is `VARCHAR(255)`)."""


class InvalidInboxKeyError(CQRSError, ValueError):
    """A consumer name or message id that cannot key an inbox record.

    The consumer must be a non-empty `str` of at most `MAX_CONSUMER_LENGTH`
    characters, the message id a `uuid.UUID`.
    """


@dataclasses.dataclass(frozen=True, slots=True)
class InboxRecord:
    """A message that a consumer handled, and when the record was written."""

    consumer: str
    message_id: uuid.UUID
    received_at: datetime.datetime


@typing.runtime_checkable
class InboxRepository(typing.Protocol[SessionT_contra]):
    """Records handled messages in the caller's transaction (`SessionT_contra`).

    Retention (dropping old records) is an operation of each implementation,
    usually `purge(..., older_than)`: a record must be kept for longer than a
    message can be redelivered.
    """

    async def record(self, session: SessionT_contra, consumer: str, message_id: uuid.UUID) -> bool:
        """Record that `consumer` handles `message_id`, in `session`'s transaction.

        Returns `True` when the message is new to `consumer`: the record is now
        part of the transaction and becomes permanent when it commits. Returns
        `False` when `consumer` already handled the message (a committed record,
        or one this same transaction wrote): the caller must skip its effects.

        When another transaction holds an uncommitted record of the same
        message, waits until it ends. Raises `InvalidInboxKeyError` for an
        unusable consumer name or message id.
        """
        ...


def check_key(consumer: str, message_id: uuid.UUID) -> None:
    """Raise `InvalidInboxKeyError` unless `(consumer, message_id)` can key a record."""
    if not isinstance(consumer, str) or not consumer:
        raise InvalidInboxKeyError(f"the consumer must be a non-empty str, not {consumer!r}")
    if len(consumer) > MAX_CONSUMER_LENGTH:
        raise InvalidInboxKeyError(
            f"the consumer name is {len(consumer)} characters long; "
            f"the inbox stores at most {MAX_CONSUMER_LENGTH}"
        )
    if not isinstance(message_id, uuid.UUID):
        raise InvalidInboxKeyError(
            f"the message id must be a uuid.UUID, not {type(message_id).__name__} {message_id!r}"
        )


def check_cutoff(older_than: datetime.datetime) -> None:
    """Raise `TypeError`/`ValueError` unless `older_than` is a time zone aware datetime."""
    if not isinstance(older_than, datetime.datetime):
        raise TypeError(f"older_than must be a datetime, not {type(older_than).__name__}")
    if older_than.utcoffset() is None:
        raise ValueError(f"naive datetime {older_than!r}: pass a time zone aware one")
