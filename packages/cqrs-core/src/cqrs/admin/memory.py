"""`MemoryDeadLetters`: dead-letter topics in memory, for tests and for trying the console.

The in-memory admin sides of the outbox and of saga storage are the stores
themselves: `cqrs.outbox.MemoryOutbox` and `cqrs.saga.MemorySagaStorage`.

>>> import asyncio
>>> letters = MemoryDeadLetters()
>>> where = letters.add(
...     "orders.dlq",
...     RawRecord("orders", b"o-1", b'{"event_name": "placed"}', {"message_id": "m-1"}),
...     original_partition=0,
...     original_offset=41,
...     reason="no handler for 'placed'",
... )
>>> asyncio.run(letters.replay(where, actor="alice"))
>>> [(record.topic, record.key) for record in letters.replayed]
[('orders', b'o-1')]
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import datetime
import typing

from cqrs.admin.audit import AdminAction, AuditEntry, audit_entry, newest_first
from cqrs.admin.checks import checked_topic
from cqrs.admin.dead_letters import DeadLetter, DeadLetterId, RawRecord, after_dead_letter
from cqrs.admin.paging import DEFAULT_PAGE_SIZE, Page, check_page_size, page_of
from cqrs.clock import utc_now
from cqrs.exceptions import DeadLetterAlreadyReplayedError, DeadLetterNotFoundError

__all__ = ("MemoryDeadLetters",)


class MemoryDeadLetters:
    """`DeadLetterAdmin` over dead letters kept in a list.

    `add` keeps a dead letter as a consumer would; every record a replay sends
    is appended to `replayed`.
    """

    def __init__(self, clock: typing.Callable[[], datetime.datetime] = utc_now) -> None:
        self._clock = clock
        self._letters: list[DeadLetter] = []  # in `DeadLetterId` order
        self._next_offset: collections.Counter[tuple[str, int]] = collections.Counter()
        self._audit: list[AuditEntry] = []
        self.replayed: list[RawRecord] = []

    def add(
        self,
        dead_letter_topic: str,
        original: RawRecord,
        *,
        original_partition: int,
        original_offset: int,
        reason: str,
        error: str = "builtins.Exception",
        attempts: int = 1,
        partition: int = 0,
    ) -> DeadLetterId:
        """Keep `original` on partition `partition` of `dead_letter_topic`; return where."""
        offset = self._next_offset[dead_letter_topic, partition]
        self._next_offset[dead_letter_topic, partition] += 1
        where = DeadLetterId(dead_letter_topic, partition, offset)
        letter = DeadLetter(
            where,
            original.topic,
            original_partition,
            original_offset,
            original.key,
            original.value,
            dict(original.headers),
            reason,
            error,
            attempts,
            self._clock(),
        )
        bisect.insort(self._letters, letter, key=lambda kept: kept.id)
        return where

    async def list_dead_letters(
        self,
        *,
        topic: str | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[DeadLetter]:
        """Dead letters, oldest kept first (see `DeadLetterAdmin`)."""
        check_page_size(limit)
        after, topic = after_dead_letter(cursor), checked_topic(topic)
        letters = [
            self._with_replay(letter)
            for letter in self._letters
            if (after is None or letter.id > after) and topic in (None, letter.id.topic)
        ]
        return page_of(letters[: limit + 1], limit, lambda letter: letter.id.cursor)

    async def replay(
        self,
        dead_letter: DeadLetterId,
        *,
        actor: str,
        reason: str | None = None,
        force: bool = False,
    ) -> None:
        """Send the original record back and record the replay (see `DeadLetterAdmin`)."""
        letter = self._with_replay(self._letter(dead_letter))
        entry = audit_entry(
            self._clock(),
            AdminAction.DEAD_LETTER_REPLAY,
            dead_letter.target,
            actor=actor,
            reason=reason,
            details={"forced": force},
        )
        if letter.replayed is not None and not force:
            raise DeadLetterAlreadyReplayedError(
                f"dead letter {dead_letter.cursor} was replayed by {letter.replayed.actor} at "
                f"{letter.replayed.at.isoformat()}; replay it again with force"
            )
        self.replayed.append(letter.replay_record())
        self._audit.append(entry)

    async def audit_log(
        self, *, target: str | None = None, limit: int = DEFAULT_PAGE_SIZE
    ) -> list[AuditEntry]:
        """The latest replays, newest first (see `DeadLetterAdmin`)."""
        return newest_first(self._audit, target=target, limit=limit)

    def _letter(self, where: DeadLetterId) -> DeadLetter:
        for letter in self._letters:
            if letter.id == where:
                return letter
        raise DeadLetterNotFoundError(f"no dead letter is kept at {where.cursor}")

    def _with_replay(self, letter: DeadLetter) -> DeadLetter:
        target = letter.id.target
        replays = [entry for entry in self._audit if entry.target == target]
        return dataclasses.replace(letter, replayed=replays[-1]) if replays else letter
