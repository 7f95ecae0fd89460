"""Units of work on PostgreSQL: a value the database refuses is the request's fault."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from cqrs_sqla.schema import Schema
from inventory.adapters.database import create_engine, create_schema
from inventory.adapters.unit_of_work import SqlUnitOfWorkFactory
from inventory.application.errors import DataRejectedError


async def test_a_value_the_database_cannot_store_is_a_data_rejected_error(
    postgresql_url: str,
) -> None:
    engine = create_engine(postgresql_url)
    try:
        schema = Schema()
        await create_schema(engine, schema)
        outbox = SqlAlchemyOutboxedEventRepository(async_sessionmaker(engine), schema=schema)
        unit_of_work = SqlUnitOfWorkFactory(outbox, "inventory.replies")

        with pytest.raises(DataRejectedError, match="change the value") as raised:
            async with unit_of_work() as work:
                await work.stock.get("a\x00b")  # PostgreSQL text holds no NUL

        assert "SELECT" not in str(raised.value)  # the statement stays in the log
    finally:
        await engine.dispose()
