"""Fixtures of the inventory's tests: real databases, the local Kafka broker.

- `database_url` runs a test once on a SQLite file and once on a PostgreSQL
  database created for that test and dropped after it. PostgreSQL is the
  machine's server (127.0.0.1:5432, user postgres, trust auth) unless
  `CQRS_TEST_POSTGRES_URL` names another (an SQLAlchemy asyncpg URL whose
  database is only used to create and drop the throwaway ones). Tests never
  skip for a missing server: they fail.
- `engine`, `schema` (tables created), `outbox` and `unit_of_work` build on it;
  `levels`, `reservations` and `replies` read back what the inventory wrote.
- `reserve_stock` and `release_stock` build commands as the consumer reads
  them (`reserve_stock` also with items the contract refuses).
- The Kafka fixtures (`kafka_bootstrap_servers`, `kafka_topic`) come from
  `cqrs_kafka.testing`, which the workspace's pytest configuration loads.
- The inventory's messages are registered in `OutboxedEventMap` for each test
  only, since the orders service registers the same names for its copies.
"""

from __future__ import annotations

import collections.abc
import pathlib
import typing

import pydantic
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from cqrs.testing import registered_outbox_events
from cqrs_sqla.encoding import decode_payload
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from cqrs_sqla.schema import Schema
from cqrs_sqla.testing import throwaway_postgres_database
from inventory.adapters import tables
from inventory.adapters.database import create_engine, create_schema
from inventory.adapters.messages import (
    MESSAGES,
    RELEASE_STOCK,
    RESERVE_STOCK,
    IncomingReserveStock,
    IncomingReserveStockPayload,
    ReleaseStock,
    ReleaseStockPayload,
)
from inventory.adapters.unit_of_work import SqlUnitOfWorkFactory

COMMANDS_TOPIC = "inventory.commands"
REPLIES_TOPIC = "inventory.replies"


@pytest.fixture(autouse=True)
def _inventory_messages() -> collections.abc.Iterator[None]:
    with registered_outbox_events(MESSAGES):
        yield


@pytest.fixture
def postgresql_url() -> collections.abc.Iterator[str]:
    """A PostgreSQL database of this test's own, dropped after it."""
    with throwaway_postgres_database("inventory_test") as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: pathlib.Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'inventory.db'}"


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test that asks for a database runs once per database."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
async def engine(database_url: str) -> collections.abc.AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def schema(engine: AsyncEngine) -> Schema:
    """cqrs-sqla's tables and the inventory's, created."""
    schema = Schema()
    await create_schema(engine, schema)
    return schema


@pytest.fixture
def outbox(engine: AsyncEngine, schema: Schema) -> SqlAlchemyOutboxedEventRepository:
    return SqlAlchemyOutboxedEventRepository(async_sessionmaker(engine), schema=schema)


@pytest.fixture
def unit_of_work(outbox: SqlAlchemyOutboxedEventRepository) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(outbox, REPLIES_TOPIC)


@pytest.fixture
def reserve_stock() -> collections.abc.Callable[..., IncomingReserveStock]:
    """`reserve_stock("o-1", tea=2)`: the command for those quantities (sku=quantity), as
    the consumer reads it; `reserve_stock("o-1", items=...)` carries `items` as they are,
    whether the contract allows them or not."""

    def command(
        order_id: str, items: pydantic.JsonValue = None, **quantities: int
    ) -> IncomingReserveStock:
        if items is None:
            items = [{"sku": sku, "quantity": quantity} for sku, quantity in quantities.items()]
        payload = IncomingReserveStockPayload(order_id=order_id, items=items)
        return IncomingReserveStock(event_name=RESERVE_STOCK, topic=COMMANDS_TOPIC, payload=payload)

    return command


@pytest.fixture
def release_stock() -> collections.abc.Callable[[str], ReleaseStock]:
    """`release_stock("o-1")`: the command giving back what the order holds."""

    def command(order_id: str) -> ReleaseStock:
        payload = ReleaseStockPayload(order_id=order_id)
        return ReleaseStock(event_name=RELEASE_STOCK, topic=COMMANDS_TOPIC, payload=payload)

    return command


@pytest.fixture
def levels(
    engine: AsyncEngine,
) -> collections.abc.Callable[[], collections.abc.Awaitable[dict[str, tuple[int, int]]]]:
    """`await levels()`: sku -> (available, reserved), as committed."""
    stock = tables.stock

    async def read() -> dict[str, tuple[int, int]]:
        query = sa.select(stock.c.sku, stock.c.available, stock.c.reserved)
        async with engine.connect() as connection:
            rows = await connection.execute(query)
            return {row.sku: (row.available, row.reserved) for row in rows}

    return read


@pytest.fixture
def reservations(
    engine: AsyncEngine,
) -> collections.abc.Callable[[], collections.abc.Awaitable[list[tuple[str, str, int, str]]]]:
    """`await reservations()`: (order_id, sku, quantity, status) of each, by order and sku."""
    table = tables.reservations

    async def read() -> list[tuple[str, str, int, str]]:
        query = sa.select(table.c.order_id, table.c.sku, table.c.quantity, table.c.status)
        async with engine.connect() as connection:
            rows = await connection.execute(query.order_by(table.c.order_id, table.c.sku))
            return [(row.order_id, row.sku, row.quantity, row.status) for row in rows]

    return read


Reply = tuple[str, str | None, dict[str, typing.Any]]


@pytest.fixture
def replies(
    engine: AsyncEngine, schema: Schema
) -> collections.abc.Callable[[], collections.abc.Awaitable[list[Reply]]]:
    """`await replies()`: (event name, record key, payload) of each reply in the outbox,
    in the order they were written."""
    outbox = schema.outbox

    async def read() -> list[Reply]:
        query = sa.select(
            outbox.c.event_name, outbox.c.partition_key, outbox.c.payload, outbox.c.content_encoding
        ).order_by(outbox.c.id)
        async with engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [
            (row.event_name, row.partition_key, _payload(row.payload, row.content_encoding))
            for row in rows
        ]

    return read


def _payload(body: bytes, content_encoding: str | None) -> dict[str, typing.Any]:
    return decode_payload(body, content_encoding)["payload"]
