from __future__ import annotations

import collections
import datetime
import decimal
import re
import uuid

import pytest
from sqlalchemy import event
from sqlalchemy.engine.interfaces import ExecutionContext

from cqrs_sqla.testing import statements_sent
from orders.adapters.database import Database
from orders.application.errors import OrderNotFoundError
from orders.application.place_order import PlaceOrder, PlaceOrderItem
from orders.domain.order import Order, OrderItem, OrderStatus, RejectionReason
from orders.main import Orders

D = decimal.Decimal


async def test_an_order_reads_back_as_it_was_placed(database: Database) -> None:
    order = Order.place(
        "c-1",
        [
            OrderItem("tea", 3, D("12.5")),
            OrderItem("cup", 1, D("0")),
            OrderItem("pot", 2, D("999999999.99")),
        ],
    )
    async with database.unit_of_work()() as work:
        await work.orders.add(order)

    async with database.unit_of_work()() as work:
        stored = await work.orders.get(order.order_id)

    assert stored == order
    assert stored is not None
    assert [str(item.unit_price) for item in stored.items] == ["12.50", "0.00", "999999999.99"]


async def test_an_unknown_order_reads_as_none(database: Database) -> None:
    async with database.unit_of_work()() as work:
        assert await work.orders.get(uuid.uuid4()) is None


async def test_update_stores_the_outcome(database: Database) -> None:
    order = Order.place("c-1", [OrderItem("tea", 1, D("1.00"))])
    async with database.unit_of_work()() as work:
        await work.orders.add(order)
    order.reject(RejectionReason.PAYMENT_DECLINED)

    async with database.unit_of_work()() as work:
        await work.orders.update(order)
    async with database.unit_of_work()() as work:
        stored = await work.orders.get(order.order_id)

    assert stored is not None
    assert (stored.status, stored.reason) == (
        OrderStatus.REJECTED,
        RejectionReason.PAYMENT_DECLINED,
    )


async def test_updating_an_unknown_order_raises(database: Database) -> None:
    order = Order.place("c-1", [OrderItem("tea", 1, D("1.00"))])
    with pytest.raises(OrderNotFoundError):
        async with database.unit_of_work()() as work:
            await work.orders.update(order)


async def test_an_order_written_in_the_transaction_reads_back_without_a_statement(
    database: Database,
) -> None:
    order = Order.place("c-1", [OrderItem("tea", 2, D("1.50")), OrderItem("cup", 1, D("3"))])

    async with database.unit_of_work()() as work:
        await work.orders.add(order)
        with statements_sent(database.engine) as statements:
            read = await work.orders.get(order.order_id)
            assert read == order
            assert read is not None
            assert read is not order
            read.reject(RejectionReason.PAYMENT_DECLINED)  # a copy: not stored yet
            again = await work.orders.get(order.order_id)
            assert again is not None
            assert again.status is OrderStatus.PENDING
            await work.orders.update(read)
            updated = await work.orders.get(order.order_id)

    assert updated is not None
    assert updated.status is OrderStatus.REJECTED
    # The order was never read from the database (the update reads its summary only).
    assert not [sql for sql in statements if "FROM orders" in sql]


async def test_an_order_and_its_items_read_in_one_statement(database: Database) -> None:
    order = Order.place("c-1", [OrderItem("tea", 2, D("1.50")), OrderItem("cup", 1, D("3"))])
    async with database.unit_of_work()() as work:
        await work.orders.add(order)

    with statements_sent(database.engine) as statements:
        async with database.unit_of_work()() as work:
            read = await work.orders.get(order.order_id)

    assert read == order
    assert [sql for sql in statements if "FROM" in sql] == [statements[-1]]
    assert "JOIN order_items" in statements[-1]


async def test_placing_neither_claims_nor_releases_the_saga_it_creates(orders: Orders) -> None:
    # The saga is created and run in the POST's transaction, where nobody else sees it:
    # a claim would keep no one out, and its release would cost a statement.
    with statements_sent(orders.database.engine) as statements:
        placed = await orders.requests.send(
            PlaceOrder(
                customer_id="c-1",
                items=[PlaceOrderItem(sku="tea", quantity=2, unit_price=D("3.50"))],
            )
        )

    claims = [sql for sql in statements if "owner" in sql and not sql.startswith("INSERT")]
    assert claims == []
    # Committed unclaimed, it is free for the reply's delivery and for recovery at once.
    assert await orders.sagas.storage.claim(
        uuid.UUID(placed.order_id), "another worker", datetime.timedelta(seconds=5)
    )


async def test_an_order_and_its_items_are_inserted_in_one_statement_on_postgresql(
    database: Database,
) -> None:
    order = Order.place("c-1", [OrderItem("tea", 2, D("1.50")), OrderItem("cup", 1, D("3"))])
    async with database.unit_of_work()() as work:
        with statements_sent(database.engine) as statements:
            await work.orders.add(order)

    inserts = [sql for sql in statements if "INSERT INTO order" in sql]
    if database.engine.dialect.name == "postgresql":
        assert len(inserts) == 2  # the order with its items, and its summary
        assert "INSERT INTO orders" in inserts[0]
        assert "INSERT INTO order_items" in inserts[0]
    async with database.unit_of_work()() as work:
        assert await work.orders.get(order.order_id) == order


async def test_orders_of_any_size_reuse_one_compiled_insert(database: Database) -> None:
    compiled: dict[str, set[int]] = collections.defaultdict(set)

    def seen(
        connection: object,
        cursor: object,
        statement: str,
        parameters: object,
        context: ExecutionContext,
        executemany: bool,
    ) -> None:
        tables = " and ".join(re.findall(r"INSERT INTO (\w+)", statement))
        if tables and context.compiled is not None:
            compiled[tables].add(id(context.compiled))

    placed = [
        Order.place("c-1", [OrderItem(f"sku-{line}", line + 1, D("2.25")) for line in range(count)])
        for count in (1, 3, 100)
    ]
    event.listen(database.engine.sync_engine, "before_cursor_execute", seen)
    try:
        for order in placed:
            async with database.unit_of_work()() as work:
                await work.orders.add(order)
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", seen)

    # PostgreSQL: the order and its items in one statement, compiled once for one item as
    # for a hundred (a VALUES list of the items made one per order). SQLite: the order's
    # INSERT, and the items' in two forms (one row, and several rows' executemany).
    forms = {tables: len(ids) for tables, ids in compiled.items()}
    if database.engine.dialect.name == "postgresql":
        assert forms == {"orders and order_items": 1, "order_summaries": 1}
    else:
        assert forms == {"orders": 1, "order_items": 2, "order_summaries": 1}
    for order in placed:
        async with database.unit_of_work()() as work:
            assert await work.orders.get(order.order_id) == order
