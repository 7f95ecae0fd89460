"""`OutboxAdminContract`: the tests every `cqrs.admin.OutboxAdmin` must pass.

Subclass it in a test module under a name starting with `Test`, give it an
`admin` fixture built on the `clock` fixture the contract provides, and tell it
how to reach the same outbox as a relay does and how to commit messages into it:

```python
import pytest

from cqrs.admin.outbox import OutboxAdmin
from cqrs.message_brokers.protocol import Message
from cqrs.outbox.memory import MemoryOutbox
from cqrs.outbox.relay import OutboxStore
from cqrs.testing.clock import FakeClock
from cqrs.testing.outbox_admin import OutboxAdminContract


class TestMemoryOutboxAdmin(OutboxAdminContract):
    @pytest.fixture
    def admin(self, clock: FakeClock) -> MemoryOutbox:
        return MemoryOutbox(clock)

    def relay_side(self, admin: OutboxAdmin) -> OutboxStore:
        assert isinstance(admin, MemoryOutbox)
        return admin

    async def write(self, admin: OutboxAdmin, messages: list[Message]) -> None:
        assert isinstance(admin, MemoryOutbox)
        admin.stage(messages)
```

The suite makes rows dead the way production does: an `OutboxRelay` whose
broker refuses everything, with one attempt allowed. It needs pytest and
pytest-asyncio (the tests carry the `asyncio` mark), a fresh, empty outbox per
test whose row ids start at 1 and grow by one per row written, and an outbox
and admin that take every time from `clock`, a `FakeClock` that starts at
2024-01-01 00:00 UTC and moves only when a test says so.
"""

from __future__ import annotations

import datetime
import typing

import pytest

from cqrs.admin.audit import AdminAction, AuditEntry
from cqrs.admin.outbox import OutboxAdmin, TopicStats, bulk_target, outbox_target
from cqrs.admin.paging import MAX_PAGE_SIZE
from cqrs.exceptions import DeadRowNotFoundError, InvalidAdminRequestError
from cqrs.message_brokers.memory import InMemoryMessageBroker
from cqrs.message_brokers.protocol import Message
from cqrs.outbox.models import OutboxedEvent, OutboxStatus
from cqrs.outbox.relay import OutboxRelay, OutboxStore, RetryPolicy
from cqrs.testing.clock import FakeClock

__all__ = ("OutboxAdminContract", "give_up_on_pending")

_ONE_TRY = RetryPolicy(max_attempts=1)
_BAD_TEXT = ["", "   ", "nul\x00inside", "surrogate \ud800", "x" * 2001]
_BAD_CURSORS = ["abc", "-1", "1.5", "", " 1", str(2**63), "9" * 40]
_BAD_LIMITS = [0, -1, MAX_PAGE_SIZE + 1]


class _RefusingBroker:
    """A broker that is down: every send fails, so the relay's rows die."""

    async def send_message(self, message: Message) -> None:
        raise ConnectionError("broker down for the test")


async def give_up_on_pending(admin: OutboxAdmin, store: OutboxStore) -> None:
    """Relay every pending row of `store`'s outbox (`admin` tells how many wait) to a broker
    that is down, one attempt each, until none waits: each ends `dead`, as after an outage.

    For tests of code that shows or fixes dead rows; rows waiting behind an earlier row of
    their key go on a later pass, so the loop ends once every key has drained.
    """
    relay = OutboxRelay(store, _RefusingBroker(), retry=_ONE_TRY)
    while any(topic.pending for topic in await admin.stats()):
        await relay.run_once()


def _message(topic: str = "parcels", key: str | None = "p-1", name: str = "Weighed") -> Message:
    return Message(message_name=name, topic=topic, payload={"parcel_id": key, "by": "Zoë"}, key=key)


class OutboxAdminContract:
    """The outbox admin contract as pytest tests; subclass it as `Test...` to run it.

    The subclass overrides the `admin` fixture, `relay_side` and `write`; see
    the module docstring.
    """

    pytestmark = pytest.mark.asyncio

    @pytest.fixture
    def clock(self) -> FakeClock:
        """The clock the outbox and its admin must read every time from."""
        return FakeClock()

    @pytest.fixture
    def admin(self, clock: FakeClock) -> OutboxAdmin:
        """Override: the admin side of a fresh, empty outbox whose clock is `clock`."""
        raise NotImplementedError(f"{type(self).__name__} must override the `admin` fixture")

    def relay_side(self, admin: OutboxAdmin) -> OutboxStore:
        """Override: the relay's side (`OutboxStore`) of `admin`'s outbox."""
        raise NotImplementedError(f"{type(self).__name__} must override `relay_side`")

    async def write(self, admin: OutboxAdmin, messages: list[Message]) -> None:
        """Override: commit `messages` into `admin`'s outbox as pending rows, in order."""
        raise NotImplementedError(f"{type(self).__name__} must override `write`")

    # -- helpers --------------------------------------------------------------

    async def _dead(self, admin: OutboxAdmin, *messages: Message) -> list[OutboxedEvent]:
        """Write `messages`, let a relay whose broker is down kill them; the dead rows."""
        await self.write(admin, list(messages))
        await give_up_on_pending(admin, self.relay_side(admin))
        dead = await self._all_dead(admin)
        assert len(dead) >= len(messages), dead
        return dead[-len(messages) :]

    async def _all_dead(self, admin: OutboxAdmin, topic: str | None = None) -> list[OutboxedEvent]:
        page = await admin.list_dead(topic=topic, limit=MAX_PAGE_SIZE)
        assert page.next_cursor is None
        return list(page.items)

    async def _publish(self, admin: OutboxAdmin) -> list[Message]:
        """Relay every due row to a working broker; what it published."""
        broker = InMemoryMessageBroker()
        relay = OutboxRelay(self.relay_side(admin), broker, retry=_ONE_TRY)
        while await relay.run_once():
            pass
        return broker.messages

    # -- listing ----------------------------------------------------------------

    async def test_a_new_outbox_has_nothing_dead_no_stats_and_no_audit(
        self, admin: OutboxAdmin, clock: FakeClock
    ) -> None:
        page = await admin.list_dead()

        assert (list(page.items), page.next_cursor) == ([], None)
        assert await admin.stats() == []
        assert await admin.audit_log() == []

    async def test_list_dead_shows_the_rows_the_relay_gave_up_on_oldest_first(
        self, admin: OutboxAdmin, clock: FakeClock
    ) -> None:
        first, second = _message("parcels", "p-1"), _message("labels", None, "Printed")
        written_at = clock()
        await self._dead(admin, first, second)
        clock.advance(seconds=5)
        await self.write(admin, [_message("parcels", "p-2")])  # pending: not dead

        dead = await self._all_dead(admin)

        assert [row.message for row in dead] == [first, second]
        assert dead[0].id < dead[1].id
        for row in dead:
            assert (row.status, row.attempts, row.created_at) == (
                OutboxStatus.DEAD,
                1,
                written_at,
            )
            assert row.last_error is not None
            assert "broker down for the test" in row.last_error

    async def test_list_dead_filters_by_topic(self, admin: OutboxAdmin, clock: FakeClock) -> None:
        await self._dead(admin, _message("parcels"), _message("labels"), _message("parcels"))

        parcels = await self._all_dead(admin, topic="parcels")

        assert [row.message.topic for row in parcels] == ["parcels", "parcels"]
        assert await self._all_dead(admin, topic="nowhere") == []

    async def test_pages_cover_every_dead_row_once_in_id_order(
        self, admin: OutboxAdmin, clock: FakeClock
    ) -> None:
        dead = await self._dead(admin, *(_message(key=f"p-{n}") for n in range(5)))

        seen: list[int] = []
        pages = 0
        cursor: str | None = None
        while True:
            page = await admin.list_dead(cursor=cursor, limit=2)
            seen += [row.id for row in page.items]
            pages += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor

        assert seen == [row.id for row in dead]
        assert pages == 3

    async def test_a_page_after_replays_neither_skips_nor_repeats_a_row(
        self, admin: OutboxAdmin, clock: FakeClock
    ) -> None:
        dead = await self._dead(admin, *(_message(key=f"p-{n}") for n in range(4)))
        first = await admin.list_dead(limit=2)
        assert first.next_cursor is not None

        for row in first.items:
            await admin.replay(row.id, actor="alice")
        second = await admin.list_dead(cursor=first.next_cursor, limit=2)

        assert [row.id for row in second.items] == [row.id for row in dead[2:]]

    @pytest.mark.parametrize("cursor", _BAD_CURSORS)
    async def test_a_cursor_it_did_not_hand_out_is_refused(
        self, admin: OutboxAdmin, clock: FakeClock, cursor: str
    ) -> None:
        with pytest.raises(InvalidAdminRequestError):
            await admin.list_dead(cursor=cursor)

    @pytest.mark.parametrize("limit", _BAD_LIMITS)
    async def test_a_page_size_out_of_range_is_refused(
        self, admin: OutboxAdmin, clock: FakeClock, limit: int
    ) -> None:
        with pytest.raises(InvalidAdminRequestError):
            await admin.list_dead(limit=limit)
        with pytest.raises(InvalidAdminRequestError):
            await admin.audit_log(limit=limit)

    @pytest.mark.parametrize("topic", ["", "nul\x00inside", "surrogate \ud800", "t" * 256])
    async def test_a_topic_filter_no_database_could_hold_is_refused(
        self, admin: OutboxAdmin, clock: FakeClock, topic: str
    ) -> None:
        with pytest.raises(InvalidAdminRequestError):
            await admin.list_dead(topic=topic)
        with pytest.raises(InvalidAdminRequestError):
            await admin.replay_all(topic=topic, actor="alice")

    # -- stats ------------------------------------------------------------------

    async def test_stats_count_pending_and_dead_rows_per_topic_with_the_oldest_wait(
        self, admin: OutboxAdmin, clock: FakeClock
    ) -> None:
        await self.write(admin, [_message("parcels")])
        await self._publish(admin)  # published rows count for nothing
        await self._dead(admin, _message("labels"))
        await self.write(admin, [_message("parcels")])
        clock.advance(seconds=30)
        await self.write(admin, [_message("parcels"), _message("audit")])
        clock.advance(seconds=10)

        stats = await admin.stats()

        assert stats == [
            TopicStats(
                "audit", pending=1, dead=0, oldest_pending_age=datetime.timedelta(seconds=10)
            ),
            TopicStats("labels", pending=0, dead=1, oldest_pending_age=None),
            TopicStats(
                "parcels", pending=2, dead=0, oldest_pending_age=datetime.timedelta(seconds=40)
            ),
        ]

    # -- replay -------------------------------------------------------------------

    async def test_a_replayed_row_is_published_again_under_its_event_id(
        self, admin: OutboxAdmin, clock: FakeClock
    ) -> None:
        message = _message()
        [row] = await self._dead(admin, message)
        clock.advance(seconds=60)

        await admin.replay(row.id, actor="alice", reason="broker fixed")

        assert await self._all_dead(admin) == []
        assert await self._publish(admin) == [message]
        assert await admin.audit_log() == [
            AuditEntry(
                clock(), "alice", AdminAction.OUTBOX_REPLAY, outbox_target(row.id), "broker fixed"
            )
        ]

    async def test_a_replayed_row_starts_its_attempts_again(
        self, admin: OutboxAdmin, clock: FakeClock
    ) -> None:
        [row] = await self._dead(admin, _message())
        await admin.replay(row.id, actor="alice")

        [again] = await self._dead(admin)  # the broker is still down

        assert (again.id, again.attempts) == (row.id, 1)

    async def test_replaying_a_row_that_is_not_dead_raises_and_changes_nothing(
        self, admin: OutboxAdmin, clock: FakeClock
    ) -> None:
        [dead] = await self._dead(admin, _message(key="p-1"))
        [discarded] = await self._dead(admin, _message(key="p-2"))
        await admin.discard(discarded.id, actor="alice", reason="obsolete")
        await self.write(admin, [_message(key="p-3")])
        pending = dead.id + 2
        audit = await admin.audit_log()

        for row_id in (pending, discarded.id, pending + 1, 0, -1, 2**63, 2**64):
            with pytest.raises(DeadRowNotFoundError) as raised:
                await admin.replay(row_id, actor="alice")
            assert raised.value.row_id == row_id
            assert isinstance(raised.value, LookupError)

        assert [row.id for row in await self._all_dead(admin)] == [dead.id]
        assert await admin.audit_log() == audit

    @pytest.mark.parametrize("actor", [*_BAD_TEXT[:-1], "a" * 256])
    async def test_a_replay_without_a_proper_actor_is_refused(
        self, admin: OutboxAdmin, clock: FakeClock, actor: str
    ) -> None:
        [row] = await self._dead(admin, _message())

        with pytest.raises(InvalidAdminRequestError):
            await admin.replay(row.id, actor=actor)
        with pytest.raises(InvalidAdminRequestError):
            await admin.replay_all(actor=actor)

        assert [dead.id for dead in await self._all_dead(admin)] == [row.id]
        assert await admin.audit_log() == []

    @pytest.mark.parametrize("reason", _BAD_TEXT)
    async def test_a_replay_with_a_bad_reason_is_refused(
        self, admin: OutboxAdmin, clock: FakeClock, reason: str
    ) -> None:
        [row] = await self._dead(admin, _message())

        with pytest.raises(InvalidAdminRequestError):
            await admin.replay(row.id, actor="alice", reason=reason)

        assert [dead.id for dead in await self._all_dead(admin)] == [row.id]
        assert await admin.audit_log() == []

    # -- replay_all ---------------------------------------------------------------

    async def test_replay_all_replays_a_topics_dead_rows_in_audited_batches(
        self, admin: OutboxAdmin, clock: FakeClock
    ) -> None:
        parcels = [_message("parcels", f"p-{n}") for n in range(5)]
        dead = await self._dead(admin, *parcels[:3], _message("labels"), *parcels[3:])
        parcel_ids = [row.id for row in dead if row.message.topic == "parcels"]
        told: list[int] = []

        replayed = await admin.replay_all(
            topic="parcels", actor="alice", reason="fixed", batch_size=2, progress=told.append
        )

        assert (replayed, told) == (5, [2, 4, 5])
        assert [row.message.topic for row in await self._all_dead(admin)] == ["labels"]
        assert await admin.audit_log() == [
            AuditEntry(
                clock(),
                "alice",
                AdminAction.OUTBOX_REPLAY_ALL,
                bulk_target("parcels"),
                "fixed",
                {"rows": typing.cast(list[typing.Any], ids)},
            )
            for ids in (parcel_ids[4:], parcel_ids[2:4], parcel_ids[:2])
        ]
        assert sorted(m.message_id for m in await self._publish(admin)) == sorted(
            m.message_id for m in parcels
        )

    async def test_replay_all_without_a_topic_takes_every_dead_row(
        self, admin: OutboxAdmin, clock: FakeClock
    ) -> None:
        await self._dead(admin, _message("parcels"), _message("labels"))

        assert await admin.replay_all(actor="alice") == 2

        assert await self._all_dead(admin) == []
        [entry] = await admin.audit_log()
        assert (entry.target, entry.reason) == (bulk_target(None), None)

    async def test_replay_all_with_nothing_dead_replays_and_records_nothing(
        self, admin: OutboxAdmin, clock: FakeClock
    ) -> None:
        await self._dead(admin, _message("labels"))
        told: list[int] = []

        assert await admin.replay_all(topic="parcels", actor="alice", progress=told.append) == 0

        assert told == []
        assert await admin.audit_log() == []
        assert len(await self._all_dead(admin)) == 1

    @pytest.mark.parametrize("batch_size", _BAD_LIMITS)
    async def test_replay_all_refuses_a_batch_size_out_of_range(
        self, admin: OutboxAdmin, clock: FakeClock, batch_size: int
    ) -> None:
        await self._dead(admin, _message())

        with pytest.raises(InvalidAdminRequestError):
            await admin.replay_all(actor="alice", batch_size=batch_size)

        assert len(await self._all_dead(admin)) == 1

    # -- discard ------------------------------------------------------------------

    async def test_a_discarded_row_is_kept_out_of_everything_and_audited(
        self, admin: OutboxAdmin, clock: FakeClock
    ) -> None:
        [row] = await self._dead(admin, _message())
        clock.advance(seconds=3)

        await admin.discard(row.id, actor="bob", reason="order was cancelled")

        assert await self._all_dead(admin) == []
        assert await admin.stats() == []
        assert await admin.replay_all(actor="bob") == 0
        assert await self._publish(admin) == []
        assert await admin.audit_log(target=outbox_target(row.id)) == [
            AuditEntry(
                clock(),
                "bob",
                AdminAction.OUTBOX_DISCARD,
                outbox_target(row.id),
                "order was cancelled",
            )
        ]

    @pytest.mark.parametrize("reason", _BAD_TEXT)
    async def test_discard_needs_a_reason(
        self, admin: OutboxAdmin, clock: FakeClock, reason: str
    ) -> None:
        [row] = await self._dead(admin, _message())

        with pytest.raises(InvalidAdminRequestError):
            await admin.discard(row.id, actor="bob", reason=reason)

        assert [dead.id for dead in await self._all_dead(admin)] == [row.id]

    async def test_discarding_a_row_that_is_not_dead_raises(
        self, admin: OutboxAdmin, clock: FakeClock
    ) -> None:
        await self.write(admin, [_message()])
        published = (await self._publish(admin))[0]
        assert published.topic == "parcels"

        with pytest.raises(DeadRowNotFoundError):
            await admin.discard(1, actor="bob", reason="obsolete")
        with pytest.raises(DeadRowNotFoundError):
            await admin.discard(2**63, actor="bob", reason="obsolete")

        assert await admin.audit_log() == []

    # -- the audit log --------------------------------------------------------------

    async def test_the_audit_log_is_newest_first_and_filters_by_target(
        self, admin: OutboxAdmin, clock: FakeClock
    ) -> None:
        first, second, third = await self._dead(
            admin, _message(key="p-1"), _message(key="p-2"), _message(key="p-3")
        )
        await admin.replay(first.id, actor="alice")
        clock.advance(seconds=1)
        await admin.discard(second.id, actor="bob", reason="duplicate")
        clock.advance(seconds=1)
        await admin.replay(third.id, actor="carol", reason="retry")

        everything = await admin.audit_log()
        latest = await admin.audit_log(limit=1)
        on_second = await admin.audit_log(target=outbox_target(second.id))

        assert [entry.actor for entry in everything] == ["carol", "bob", "alice"]
        assert [entry.at for entry in everything] == sorted(
            (entry.at for entry in everything), reverse=True
        )
        assert latest == everything[:1]
        assert [(entry.actor, entry.action) for entry in on_second] == [
            ("bob", AdminAction.OUTBOX_DISCARD)
        ]
        assert await admin.audit_log(target=outbox_target(9_999)) == []
