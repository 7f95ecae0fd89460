from __future__ import annotations

import pathlib

import pytest
import sqlalchemy as sa
import sqlalchemy.exc

from orders.adapters.database import Database


async def test_create_schema_makes_every_table_and_may_run_again(database: Database) -> None:
    await database.create_schema()  # the fixture ran it once already

    async with database.engine.connect() as connection:
        names = await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names())
    assert {"orders", "order_items", "outbox", "inbox", "saga", "saga_log"} <= set(names)


async def test_ping_answers(database: Database) -> None:
    await database.ping()


async def test_ping_fails_when_the_file_is_no_database(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "orders.db"
    path.write_bytes(b"this is not an SQLite database" * 100)
    broken = Database.connect(f"sqlite+aiosqlite:///{path}")

    with pytest.raises(sqlalchemy.exc.DatabaseError):
        await broken.ping()
    await broken.close()
