"""`DeadLetterAdminContract`: the tests every `cqrs.admin.DeadLetterAdmin` must pass.

Subclass it in a test module under a name starting with `Test`, give it an
`admin` fixture built on the contract's `clock`, and tell it how to keep a
dead letter as the backend's consumer would and how to read what a topic holds:

```python
import pytest

from cqrs.admin.dead_letters import DeadLetterAdmin, DeadLetterId, RawRecord
from cqrs.admin.memory import MemoryDeadLetters
from cqrs.testing.clock import FakeClock
from cqrs.testing.dead_letter_admin import DeadLetterAdminContract


class TestMemoryDeadLetters(DeadLetterAdminContract):
    @pytest.fixture
    def admin(self, clock: FakeClock) -> MemoryDeadLetters:
        return MemoryDeadLetters(clock)

    async def keep(
        self,
        admin: DeadLetterAdmin,
        dead_letter_topic: str,
        original: RawRecord,
        *,
        original_partition: int,
        original_offset: int,
        reason: str,
        error: str,
        attempts: int,
    ) -> DeadLetterId:
        assert isinstance(admin, MemoryDeadLetters)
        return admin.add(
            dead_letter_topic,
            original,
            original_partition=original_partition,
            original_offset=original_offset,
            reason=reason,
            error=error,
            attempts=attempts,
        )

    async def records_on(self, admin: DeadLetterAdmin, topic: str) -> list[RawRecord]:
        assert isinstance(admin, MemoryDeadLetters)
        return [record for record in admin.replayed if record.topic == topic]
```

A backend on a shared broker overrides the `topic_prefix` fixture too, so
each test's topics are its own; its admin must then read only the dead-letter
topics named `<prefix>parcels.dlq` and `<prefix>labels.dlq`. The suite needs
pytest and pytest-asyncio (the tests carry the `asyncio` mark), no dead
letters on those topics when a test starts, and an admin whose audit times
come from `clock`, a `FakeClock` that starts at 2024-01-01 00:00 UTC.
"""

from __future__ import annotations

import datetime

import pytest

from cqrs.admin.audit import AdminAction, AuditEntry
from cqrs.admin.dead_letters import DeadLetter, DeadLetterAdmin, DeadLetterId, RawRecord
from cqrs.admin.paging import MAX_PAGE_SIZE
from cqrs.exceptions import (
    DeadLetterAlreadyReplayedError,
    DeadLetterNotFoundError,
    InvalidAdminRequestError,
)
from cqrs.testing.clock import FakeClock

__all__ = ("DeadLetterAdminContract",)

_BAD_TEXT = ["", "   ", "nul\x00inside", "surrogate \ud800", "x" * 2001]


class DeadLetterAdminContract:
    """The dead-letter admin contract as pytest tests; subclass it as `Test...` to run it.

    The subclass overrides the `admin` fixture, `keep` and `records_on` (and,
    on a shared broker, `topic_prefix`); see the module docstring.
    """

    pytestmark = pytest.mark.asyncio

    @pytest.fixture
    def clock(self) -> FakeClock:
        """The clock the admin's audit entries must take their time from."""
        return FakeClock()

    @pytest.fixture
    def topic_prefix(self) -> str:
        """Override on a shared broker: a prefix that makes this test's topics its own."""
        return ""

    @pytest.fixture
    def admin(self, clock: FakeClock, topic_prefix: str) -> DeadLetterAdmin:
        """Override: an admin that reads the dead-letter topics of this test."""
        raise NotImplementedError(f"{type(self).__name__} must override the `admin` fixture")

    async def keep(
        self,
        admin: DeadLetterAdmin,
        dead_letter_topic: str,
        original: RawRecord,
        *,
        original_partition: int,
        original_offset: int,
        reason: str,
        error: str,
        attempts: int,
    ) -> DeadLetterId:
        """Override: keep `original` on `dead_letter_topic` as the backend's consumer
        would when it gives up on it; return where it is kept."""
        raise NotImplementedError(f"{type(self).__name__} must override `keep`")

    async def records_on(self, admin: DeadLetterAdmin, topic: str) -> list[RawRecord]:
        """Override: every record `topic` holds now, in order (what replays sent there)."""
        raise NotImplementedError(f"{type(self).__name__} must override `records_on`")

    # -- helpers --------------------------------------------------------------

    async def _kept(
        self,
        admin: DeadLetterAdmin,
        prefix: str,
        topic: str = "parcels",
        key: bytes | None = b"p-1",
        offset: int = 41,
        attempts: int = 5,
    ) -> tuple[DeadLetterId, RawRecord]:
        original = RawRecord(
            f"{prefix}{topic}",
            key,
            f'{{"parcel_id": "p-1", "note": "Zoë", "n": {offset}}}'.encode(),
            {"message_id": f"m-{offset}", "event_name": "Weighed", "trace": "ü"},
        )
        where = await self.keep(
            admin,
            f"{prefix}{topic}.dlq",
            original,
            original_partition=0,
            original_offset=offset,
            reason=f"WeighError: scale {offset} jammed",
            error="parcels.errors.WeighError",
            attempts=attempts,
        )
        return where, original

    async def _all(self, admin: DeadLetterAdmin, topic: str | None = None) -> list[DeadLetter]:
        page = await admin.list_dead_letters(topic=topic, limit=MAX_PAGE_SIZE)
        assert page.next_cursor is None
        return list(page.items)

    # -- listing ----------------------------------------------------------------

    async def test_no_dead_letters_no_page_and_no_audit(
        self, admin: DeadLetterAdmin, clock: FakeClock, topic_prefix: str
    ) -> None:
        page = await admin.list_dead_letters()

        assert (list(page.items), page.next_cursor) == ([], None)
        assert await admin.audit_log() == []

    async def test_a_dead_letter_lists_its_origin_its_record_and_why(
        self, admin: DeadLetterAdmin, clock: FakeClock, topic_prefix: str
    ) -> None:
        where, original = await self._kept(admin, topic_prefix, attempts=0)

        [letter] = await self._all(admin)

        assert letter.id == where
        assert (letter.original_topic, letter.original_partition, letter.original_offset) == (
            original.topic,
            0,
            41,
        )
        assert (letter.key, letter.value, dict(letter.headers)) == (
            original.key,
            original.value,
            dict(original.headers),
        )
        assert (letter.reason, letter.error, letter.attempts) == (
            "WeighError: scale 41 jammed",
            "parcels.errors.WeighError",
            0,
        )
        assert letter.dead_lettered_at.utcoffset() == datetime.timedelta(0)
        assert letter.replayed is None

    async def test_dead_letters_list_topic_by_topic_oldest_first(
        self, admin: DeadLetterAdmin, clock: FakeClock, topic_prefix: str
    ) -> None:
        kept = [
            (await self._kept(admin, topic_prefix, topic, offset=offset))[0]
            for topic, offset in (("parcels", 1), ("labels", 2), ("parcels", 3), ("labels", 4))
        ]

        listed = [letter.id for letter in await self._all(admin)]

        assert listed == sorted(kept)
        assert [where.topic for where in listed] == [f"{topic_prefix}labels.dlq"] * 2 + [
            f"{topic_prefix}parcels.dlq"
        ] * 2
        labels = await self._all(admin, topic=f"{topic_prefix}labels.dlq")
        assert [letter.original_offset for letter in labels] == [2, 4]
        assert await self._all(admin, topic=f"{topic_prefix}nothing.dlq") == []

    async def test_pages_cover_every_dead_letter_once_in_order(
        self, admin: DeadLetterAdmin, clock: FakeClock, topic_prefix: str
    ) -> None:
        kept = [
            (await self._kept(admin, topic_prefix, topic, offset=offset))[0]
            for topic, offset in (("parcels", 1), ("labels", 2), ("parcels", 3))
        ]

        seen: list[DeadLetterId] = []
        cursor: str | None = None
        while True:
            page = await admin.list_dead_letters(cursor=cursor, limit=1)
            seen += [letter.id for letter in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor

        assert seen == sorted(kept)

    @pytest.mark.parametrize("cursor", ["", "parcels.dlq", "t/x/1", "t/1/-1", "/0/1", "t/0/1.5"])
    async def test_a_cursor_it_did_not_hand_out_is_refused(
        self, admin: DeadLetterAdmin, clock: FakeClock, topic_prefix: str, cursor: str
    ) -> None:
        with pytest.raises(InvalidAdminRequestError):
            await admin.list_dead_letters(cursor=cursor)

    @pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_SIZE + 1])
    async def test_a_page_size_out_of_range_is_refused(
        self, admin: DeadLetterAdmin, clock: FakeClock, topic_prefix: str, limit: int
    ) -> None:
        with pytest.raises(InvalidAdminRequestError):
            await admin.list_dead_letters(limit=limit)
        with pytest.raises(InvalidAdminRequestError):
            await admin.audit_log(limit=limit)

    # -- replay -----------------------------------------------------------------

    async def test_a_replay_sends_the_original_record_back_and_is_recorded(
        self, admin: DeadLetterAdmin, clock: FakeClock, topic_prefix: str
    ) -> None:
        where, original = await self._kept(admin, topic_prefix)
        await self._kept(admin, topic_prefix, offset=42)  # stays where it is
        clock.advance(seconds=30)

        await admin.replay(where, actor="alice", reason="scale fixed")

        assert await self.records_on(admin, original.topic) == [original]
        entry = AuditEntry(
            clock(),
            "alice",
            AdminAction.DEAD_LETTER_REPLAY,
            where.target,
            "scale fixed",
            {"forced": False},
        )
        assert await admin.audit_log() == [entry]
        replayed, untouched = await self._all(admin)
        assert (replayed.id, replayed.replayed, untouched.replayed) == (where, entry, None)

    async def test_a_second_replay_is_refused_unless_forced(
        self, admin: DeadLetterAdmin, clock: FakeClock, topic_prefix: str
    ) -> None:
        where, original = await self._kept(admin, topic_prefix)
        await admin.replay(where, actor="alice")
        clock.advance(seconds=1)

        with pytest.raises(DeadLetterAlreadyReplayedError, match="alice"):
            await admin.replay(where, actor="bob")
        assert await self.records_on(admin, original.topic) == [original]

        await admin.replay(where, actor="bob", reason="the first one was lost", force=True)

        assert await self.records_on(admin, original.topic) == [original, original]
        assert [(entry.actor, entry.details) for entry in await admin.audit_log()] == [
            ("bob", {"forced": True}),
            ("alice", {"forced": False}),
        ]
        assert [entry.actor for entry in await admin.audit_log(target=where.target, limit=1)] == [
            "bob"
        ]
        [letter] = await self._all(admin)
        assert letter.replayed is not None
        assert letter.replayed.actor == "bob"

    async def test_a_record_without_a_key_is_replayed_without_one(
        self, admin: DeadLetterAdmin, clock: FakeClock, topic_prefix: str
    ) -> None:
        where, original = await self._kept(admin, topic_prefix, key=None)

        await admin.replay(where, actor="alice")

        [sent] = await self.records_on(admin, original.topic)
        assert (sent.key, sent.value) == (None, original.value)

    async def test_replaying_what_is_not_kept_raises_and_sends_nothing(
        self, admin: DeadLetterAdmin, clock: FakeClock, topic_prefix: str
    ) -> None:
        where, original = await self._kept(admin, topic_prefix)
        missing = [
            DeadLetterId(where.topic, where.partition, where.offset + 1),
            DeadLetterId(where.topic, where.partition + 1, 0),
            DeadLetterId(f"{topic_prefix}labels.dlq", 0, 0),
        ]

        for absent in missing:
            with pytest.raises(DeadLetterNotFoundError):
                await admin.replay(absent, actor="alice")

        assert await self.records_on(admin, original.topic) == []
        assert await admin.audit_log() == []

    @pytest.mark.parametrize(
        ("actor", "reason"), [*(("alice", bad) for bad in _BAD_TEXT), ("", None), (" ", None)]
    )
    async def test_a_replay_without_a_proper_actor_or_reason_sends_nothing(
        self,
        admin: DeadLetterAdmin,
        clock: FakeClock,
        topic_prefix: str,
        actor: str,
        reason: str | None,
    ) -> None:
        where, original = await self._kept(admin, topic_prefix)

        with pytest.raises(InvalidAdminRequestError):
            await admin.replay(where, actor=actor, reason=reason)

        assert await self.records_on(admin, original.topic) == []
        [letter] = await self._all(admin)
        assert letter.replayed is None
