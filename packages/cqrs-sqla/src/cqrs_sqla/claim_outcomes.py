"""What a relay records on a claimed batch, shared by the PostgreSQL and SQLite claims:
the rows it holds, which were published, and which failed (with their new attempt count
and error), plus the rules for storing a failure."""

from __future__ import annotations

import typing

from cqrs.outbox.models import OutboxedEvent, OutboxStatus
from cqrs.outbox.relay import RetryPolicy

__all__ = ("ClaimOutcomes", "ERROR_LENGTH", "status_after")

#: The stored error is cut to this many characters.
ERROR_LENGTH: typing.Final = 2000


def status_after(attempts: int, retry: RetryPolicy) -> OutboxStatus:
    """The status of a row that has now failed `attempts` times: dead after the last try.

    >>> status_after(3, RetryPolicy(max_attempts=3)).value
    'dead'
    """
    return OutboxStatus.DEAD if attempts >= retry.max_attempts else OutboxStatus.PENDING


class ClaimOutcomes:
    """The `OutboxClaim` bookkeeping: `rows` held, `published` ids, `failed` rows'
    (attempts, error); subclasses fill `_rows` on entry and mark the rest on exit."""

    def __init__(self, retry: RetryPolicy) -> None:
        self._retry = retry
        self._rows: list[OutboxedEvent] = []
        self._done: list[int] = []
        self._errors: dict[int, tuple[int, str]] = {}

    @property
    def rows(self) -> list[OutboxedEvent]:
        return self._rows

    def published(self, row: OutboxedEvent) -> None:
        self._done.append(row.id)

    def failed(self, row: OutboxedEvent, error: str) -> None:
        self._errors[row.id] = (row.attempts + 1, error)
