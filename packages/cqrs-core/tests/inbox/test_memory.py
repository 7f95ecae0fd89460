"""`MemoryInbox` against the inbox contract, plus what only it has: sessions of its
own, deadlock detection, `handled()` and `records()`."""

from __future__ import annotations

import asyncio
import datetime
import uuid

import pytest

import cqrs
from cqrs.inbox import InboxDeadlockError, InboxRecord, MemoryInbox, MemoryInboxSession
from cqrs.testing.clock import FakeClock
from cqrs.testing.inbox import InboxBackend, InboxContract


class MemoryInboxBackend(InboxBackend[MemoryInboxSession]):
    def __init__(self, clock: FakeClock) -> None:
        self.inbox = self.memory = MemoryInbox(clock=clock)

    def session(self) -> MemoryInboxSession:
        return self.memory.session()

    async def records(self) -> list[InboxRecord]:
        return self.memory.records()

    async def purge(self, older_than: datetime.datetime) -> int:
        return await self.memory.purge(older_than)

    async def until_blocked(self) -> None:
        await asyncio.sleep(0)  # no I/O: the waiting task reaches its wait in one turn


class TestMemoryInbox(InboxContract[MemoryInboxSession]):
    @pytest.fixture
    def backend(self, clock: FakeClock) -> MemoryInboxBackend:
        return MemoryInboxBackend(clock)


async def deliver(inbox: MemoryInbox, consumer: str, message_id: uuid.UUID) -> bool:
    async with inbox.session() as session, session.begin():
        return await inbox.record(session, consumer, message_id)


async def test_record_autobegins_a_transaction_that_commit_ends() -> None:
    inbox = MemoryInbox()
    message_id = uuid.uuid4()
    session = inbox.session()

    await inbox.record(session, "inventory", message_id)
    assert session.in_transaction
    assert not inbox.handled("inventory", message_id)

    await session.commit()

    assert not session.in_transaction
    assert inbox.handled("inventory", message_id)


async def test_records_are_listed_in_commit_order_optionally_by_consumer() -> None:
    inbox = MemoryInbox()
    message_id = uuid.uuid4()

    for consumer in ("inventory", "billing"):
        await deliver(inbox, consumer, message_id)

    assert [record.consumer for record in inbox.records()] == ["inventory", "billing"]
    assert [record.consumer for record in inbox.records("billing")] == ["billing"]


async def test_two_transactions_waiting_for_each_other_is_a_deadlock() -> None:
    inbox = MemoryInbox()
    a_id, b_id = uuid.uuid4(), uuid.uuid4()
    a, b = inbox.session(), inbox.session()
    await inbox.record(a, "inventory", a_id)
    await inbox.record(b, "inventory", b_id)
    a_waits = asyncio.create_task(inbox.record(a, "inventory", b_id))
    await asyncio.sleep(0)

    with pytest.raises(InboxDeadlockError):
        await inbox.record(b, "inventory", a_id)
    await b.rollback()  # the victim gives way; the other goes on

    assert await a_waits
    await a.commit()
    assert {record.message_id for record in inbox.records()} == {a_id, b_id}


async def test_purge_leaves_uncommitted_records_alone() -> None:
    inbox = MemoryInbox()
    message_id = uuid.uuid4()
    session = inbox.session()
    await inbox.record(session, "inventory", message_id)

    assert await inbox.purge(datetime.datetime.now(datetime.timezone.utc)) == 0
    await session.commit()
    assert inbox.handled("inventory", message_id)


async def test_a_session_of_another_inbox_is_refused() -> None:
    with pytest.raises(cqrs.ConfigurationError, match="not a session of this MemoryInbox"):
        await MemoryInbox().record(MemoryInbox().session(), "inventory", uuid.uuid4())


async def test_begin_inside_an_open_transaction_is_refused() -> None:
    inbox = MemoryInbox()
    session = inbox.session()

    async with session.begin():
        with pytest.raises(cqrs.ConfigurationError, match="already open"):
            async with session.begin():
                pass
