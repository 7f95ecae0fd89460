"""An order and its saga (and its outcome's notification) commit together, or not at all."""

from __future__ import annotations

import asyncio
import decimal
import uuid

import pytest
import sqlalchemy as sa

from cqrs.saga.errors import SagaNotFoundError
from cqrs.saga.models import SagaStatus
from cqrs_sqla.encoding import decode_payload
from orders.adapters.database import Database
from orders.application.errors import DataRejectedError
from orders.domain.order import Order, OrderItem, RejectionReason


class Abort(Exception):
    pass


async def place_then_fail(database: Database, order: Order) -> None:
    async with database.unit_of_work()() as work:
        await work.orders.add(order)
        await work.sagas.create_saga(order.order_id, "OrderSaga", {"order_id": "x"})
        raise Abort


async def update_then_fail(database: Database, order: Order) -> None:
    async with database.unit_of_work()() as work:
        await work.orders.update(order)
        raise Abort


def new_order() -> Order:
    return Order.place("c-1", [OrderItem("tea", 1, decimal.Decimal("1.00"))])


async def test_an_order_and_its_saga_commit_together(database: Database) -> None:
    order = new_order()

    async with database.unit_of_work()() as work:
        await work.orders.add(order)
        await work.sagas.create_saga(order.order_id, "OrderSaga", {"order_id": "x"})

    state = await database.saga_storage().load_saga_state(order.order_id)
    assert state.status is SagaStatus.PENDING
    async with database.unit_of_work()() as work:
        assert await work.orders.get(order.order_id) == order


async def test_a_failing_unit_of_work_keeps_neither(database: Database) -> None:
    order = new_order()

    with pytest.raises(Abort):
        await place_then_fail(database, order)

    with pytest.raises(SagaNotFoundError):
        await database.saga_storage().load_saga_state(order.order_id)
    async with database.unit_of_work()() as work:
        assert await work.orders.get(order.order_id) is None


async def test_the_unit_of_work_sees_its_own_saga_before_commit(database: Database) -> None:
    saga_id = uuid.uuid4()
    async with database.unit_of_work()() as work:
        await work.sagas.create_saga(saga_id, "OrderSaga", {})
        assert (await work.sagas.load_saga_state(saga_id)).version == 1


async def test_a_unit_of_work_opened_inside_another_joins_its_transaction(
    database: Database,
) -> None:
    unit_of_work, order = database.unit_of_work(), new_order()
    seen: list[object] = []

    async def nested_then_fail() -> None:
        async with unit_of_work() as outer:
            await outer.orders.add(order)
            async with unit_of_work() as inner:
                seen.extend([inner is outer, await inner.orders.get(order.order_id)])
            raise Abort  # the inner block's end committed nothing: all is rolled back

    with pytest.raises(Abort):
        await nested_then_fail()

    assert seen == [True, order]  # the inner block saw the outer's uncommitted order
    async with unit_of_work() as work:
        assert await work.orders.get(order.order_id) is None


async def test_a_task_started_inside_a_unit_of_work_opens_its_own(database: Database) -> None:
    unit_of_work, order = database.unit_of_work(), new_order()
    outer_done = asyncio.Event()

    async def later() -> tuple[object, Order | None]:
        await outer_done.wait()
        async with unit_of_work() as work:
            return work, await work.orders.get(order.order_id)

    async with unit_of_work() as outer:
        await outer.orders.add(order)
        # The task copies this context, yet runs once the outer transaction has ended.
        task = asyncio.create_task(later())
    outer_done.set()

    work, stored = await task
    assert work is not outer
    assert stored == order


async def test_a_value_the_database_cannot_store_is_a_data_rejected_error(
    database: Database,
) -> None:
    # Past the contract (which refuses both at the edge): a lone surrogate no
    # database stores, and an item no domain rule looks at the characters of.
    order = Order.place("c-\ud800", [OrderItem("tea", 1, decimal.Decimal("1.00"))])

    with pytest.raises(DataRejectedError, match="change the value") as raised:
        async with database.unit_of_work()() as work:
            await work.orders.add(order)

    assert "INSERT" not in str(raised.value)  # the statement stays in the log
    async with database.unit_of_work()() as work:
        assert await work.orders.get(order.order_id) is None


async def notifications(database: Database) -> list[tuple[str, str, str | None, str]]:
    """(event name, topic, record key, payload order id) of each outbox row, in order."""
    outbox = database.schema.outbox
    query = sa.select(
        outbox.c.event_name,
        outbox.c.topic,
        outbox.c.partition_key,
        outbox.c.payload,
        outbox.c.content_encoding,
    ).order_by(outbox.c.id)
    async with database.engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return [
        (
            row.event_name,
            row.topic,
            row.partition_key,
            decode_payload(row.payload, row.content_encoding)["payload"]["order_id"],
        )
        for row in rows
    ]


async def test_an_outcome_stages_its_notification_on_orders_events(database: Database) -> None:
    confirmed, rejected = new_order(), new_order()
    async with database.unit_of_work()() as work:
        await work.orders.add(confirmed)
        await work.orders.add(rejected)
    assert await notifications(database) == []  # a placed order is no news

    confirmed.confirm()
    rejected.reject(RejectionReason.PAYMENT_DECLINED)
    async with database.unit_of_work()() as work:
        await work.orders.update(confirmed)
        await work.orders.update(rejected)

    assert await notifications(database) == [
        ("order_confirmed", "orders.events", str(confirmed.order_id), str(confirmed.order_id)),
        ("order_rejected", "orders.events", str(rejected.order_id), str(rejected.order_id)),
    ]


async def test_an_outcome_rolled_back_sends_no_notification(database: Database) -> None:
    order = new_order()
    async with database.unit_of_work()() as work:
        await work.orders.add(order)
    order.confirm()

    with pytest.raises(Abort):
        await update_then_fail(database, order)

    assert await notifications(database) == []


async def test_a_reading_unit_of_work_reads_while_a_writer_holds_its_transaction(
    database: Database,
) -> None:
    order = new_order()
    async with database.unit_of_work()() as work:
        await work.orders.add(order)
        await work.sagas.create_saga(order.order_id, "OrderSaga", {"order_id": "x"})
    writing = asyncio.Event()
    done_reading = asyncio.Event()

    async def hold_a_write() -> None:
        async with database.unit_of_work()() as work:
            changed = await work.orders.get(order.order_id)
            assert changed is not None
            changed.reject(RejectionReason.INSUFFICIENT_STOCK)
            await work.orders.update(changed)
            writing.set()
            await done_reading.wait()

    async def read() -> tuple[Order | None, SagaStatus]:
        async with database.unit_of_work().reading() as work:
            state = await work.sagas.load_saga_state(order.order_id)
            return await work.orders.get(order.order_id), state.status

    writer = asyncio.ensure_future(hold_a_write())
    await asyncio.wait_for(writing.wait(), 10)
    # On SQLite the writer holds the write lock: a unit of work beginning with it
    # would wait for the writer, which waits for this read, and time out.
    during = await asyncio.wait_for(read(), 10)
    done_reading.set()
    await asyncio.wait_for(writer, 10)
    after, _ = await read()

    assert during == (order, SagaStatus.PENDING)  # the committed order only
    assert after is not None
    assert after.status != order.status
