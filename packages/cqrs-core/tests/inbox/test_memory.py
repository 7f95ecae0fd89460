"""MemoryInbox: records visible on commit, gone on rollback, concurrent duplicates wait."""

from __future__ import annotations

import asyncio
import datetime
import uuid

import pytest

import cqrs
from cqrs.inbox import (
    InboxDeadlockError,
    InboxRecord,
    InvalidInboxKeyError,
    MemoryInbox,
    MemoryInboxSession,
)

T0 = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime.datetime:
        return self.now


async def deliver(inbox: MemoryInbox, consumer: str, message_id: uuid.UUID) -> bool:
    async with inbox.session() as session, session.begin():
        return await inbox.record(session, consumer, message_id)


async def test_first_delivery_is_new_and_a_redelivery_is_a_duplicate() -> None:
    inbox = MemoryInbox()
    message_id = uuid.uuid4()

    first = await deliver(inbox, "inventory", message_id)
    second = await deliver(inbox, "inventory", message_id)

    assert (first, second) == (True, False)
    assert inbox.handled("inventory", message_id)


async def test_the_typical_handler_has_one_effect_for_two_deliveries() -> None:
    inbox = MemoryInbox()
    effects: list[uuid.UUID] = []

    async def handle(message: cqrs.Message) -> None:
        async with inbox.session() as session, session.begin():
            if not await inbox.record(session, "inventory", message.message_id):
                return
            effects.append(message.message_id)

    message = cqrs.Message(message_name="order_placed", topic="orders", payload={})
    await handle(message)
    await handle(message)

    assert effects == [message.message_id]


async def test_a_record_is_invisible_until_its_transaction_commits() -> None:
    inbox = MemoryInbox()
    message_id = uuid.uuid4()
    session = inbox.session()

    assert await inbox.record(session, "inventory", message_id)
    assert session.in_transaction  # autobegun
    assert not inbox.handled("inventory", message_id)
    assert inbox.records() == []

    await session.commit()

    assert not session.in_transaction
    assert inbox.handled("inventory", message_id)


async def test_a_rolled_back_handler_leaves_no_record_so_the_redelivery_is_processed() -> None:
    inbox = MemoryInbox()
    message_id = uuid.uuid4()

    async def failing_handler() -> None:
        async with inbox.session() as session, session.begin():
            assert await inbox.record(session, "inventory", message_id)
            raise RuntimeError("handler failed")

    with pytest.raises(RuntimeError, match="handler failed"):
        await failing_handler()

    assert not inbox.handled("inventory", message_id)
    assert await deliver(inbox, "inventory", message_id)


async def test_explicit_rollback_drops_the_record() -> None:
    inbox = MemoryInbox()
    message_id = uuid.uuid4()
    session = inbox.session()
    await inbox.record(session, "inventory", message_id)

    await session.rollback()

    assert inbox.records() == []
    assert await inbox.record(session, "inventory", message_id)  # the session is reusable


async def test_closing_a_session_without_committing_rolls_back() -> None:
    inbox = MemoryInbox()
    message_id = uuid.uuid4()

    async with inbox.session() as session:
        await inbox.record(session, "inventory", message_id)

    assert not inbox.handled("inventory", message_id)


async def test_the_same_transaction_sees_its_own_record() -> None:
    inbox = MemoryInbox()
    message_id = uuid.uuid4()

    async with inbox.session() as session, session.begin():
        first = await inbox.record(session, "inventory", message_id)
        again = await inbox.record(session, "inventory", message_id)

    assert (first, again) == (True, False)
    assert len(inbox.records()) == 1


async def test_consumers_are_independent() -> None:
    inbox = MemoryInbox()
    message_id = uuid.uuid4()

    results = [await deliver(inbox, name, message_id) for name in ("inventory", "billing")]

    assert results == [True, True]
    assert [r.consumer for r in inbox.records()] == ["inventory", "billing"]
    assert [r.consumer for r in inbox.records("billing")] == ["billing"]


async def test_records_carry_the_clock_time() -> None:
    clock = Clock()
    inbox = MemoryInbox(clock=clock)
    message_id = uuid.uuid4()

    await deliver(inbox, "inventory", message_id)

    assert inbox.records() == [InboxRecord("inventory", message_id, T0)]


@pytest.mark.parametrize("outcome", ["commit", "rollback"])
async def test_a_concurrent_duplicate_waits_for_the_holder_to_finish(outcome: str) -> None:
    inbox = MemoryInbox()
    message_id = uuid.uuid4()
    first = inbox.session()
    second = inbox.session()
    assert await inbox.record(first, "inventory", message_id)

    waiting = asyncio.create_task(inbox.record(second, "inventory", message_id))
    await asyncio.sleep(0)  # one turn: the task runs up to its wait
    assert not waiting.done()

    if outcome == "commit":
        await first.commit()
    else:
        await first.rollback()

    assert await waiting is (outcome == "rollback")
    await second.commit()
    assert inbox.handled("inventory", message_id)
    assert len(inbox.records()) == 1


async def test_exactly_one_of_many_concurrent_deliveries_is_new() -> None:
    inbox = MemoryInbox()
    message_id = uuid.uuid4()

    results = await asyncio.gather(*(deliver(inbox, "inventory", message_id) for _ in range(10)))

    assert sorted(results) == [False] * 9 + [True]


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
    assert {r.message_id for r in inbox.records()} == {a_id, b_id}


async def test_purge_forgets_only_records_older_than_the_cutoff() -> None:
    clock = Clock()
    inbox = MemoryInbox(clock=clock)
    old, recent = uuid.uuid4(), uuid.uuid4()
    await deliver(inbox, "inventory", old)
    clock.now = T0 + datetime.timedelta(days=2)
    await deliver(inbox, "inventory", recent)

    purged = await inbox.purge(T0 + datetime.timedelta(days=1))

    assert purged == 1
    assert [r.message_id for r in inbox.records()] == [recent]
    assert await deliver(inbox, "inventory", old)  # forgotten: handled again


async def test_purge_leaves_uncommitted_records_alone() -> None:
    inbox = MemoryInbox()
    message_id = uuid.uuid4()
    session = inbox.session()
    await inbox.record(session, "inventory", message_id)

    assert await inbox.purge(datetime.datetime.now(datetime.timezone.utc)) == 0
    await session.commit()
    assert inbox.handled("inventory", message_id)


async def test_purge_refuses_a_naive_cutoff() -> None:
    with pytest.raises(ValueError, match="time zone aware"):
        await MemoryInbox().purge(datetime.datetime(2024, 1, 1))


async def test_a_naive_clock_is_refused() -> None:
    inbox = MemoryInbox(clock=lambda: datetime.datetime(2024, 1, 1))

    with pytest.raises(ValueError, match="naive"):
        await deliver(inbox, "inventory", uuid.uuid4())


@pytest.mark.parametrize(
    ("consumer", "message_id"),
    [("", uuid.uuid4()), ("x" * 256, uuid.uuid4()), ("inventory", "not-a-uuid")],
    ids=["empty-consumer", "long-consumer", "str-id"],
)
async def test_an_unusable_key_is_refused(consumer: str, message_id: object) -> None:
    inbox = MemoryInbox()

    with pytest.raises(InvalidInboxKeyError):
        await inbox.record(inbox.session(), consumer, message_id)  # type: ignore[arg-type]


def test_an_unusable_key_is_a_cqrs_error_and_a_value_error() -> None:
    assert issubclass(InvalidInboxKeyError, cqrs.CQRSError)
    assert issubclass(InvalidInboxKeyError, ValueError)


async def test_a_session_of_another_inbox_is_refused() -> None:
    with pytest.raises(cqrs.ConfigurationError, match="not a session of this MemoryInbox"):
        await MemoryInbox().record(MemoryInbox().session(), "inventory", uuid.uuid4())


async def test_begin_inside_an_open_transaction_is_refused() -> None:
    inbox = MemoryInbox()
    session: MemoryInboxSession = inbox.session()

    async with session.begin():
        with pytest.raises(cqrs.ConfigurationError, match="already open"):
            async with session.begin():
                pass


def test_satisfies_the_inbox_port() -> None:
    assert isinstance(MemoryInbox(), cqrs.InboxRepository)
