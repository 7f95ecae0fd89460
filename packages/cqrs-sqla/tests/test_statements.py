"""`cqrs_sqla.statements`: the shared INSERT ... ON CONFLICT statements, on both databases."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from cqrs_sqla.statements import insert_or_replace


async def test_insert_or_replace_inserts_a_new_row_and_replaces_a_stored_one(
    engine: AsyncEngine,
) -> None:
    table = sa.Table(
        "totals",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("note", sa.String(20)),
    )
    async with engine.begin() as connection:
        await connection.run_sync(table.create)
        for total, note in ((5, "first"), (7, None)):
            statement = insert_or_replace(
                engine.dialect, table, {"id": 1, "total": total, "note": note}, "test"
            )
            await connection.execute(statement)
        await connection.execute(
            insert_or_replace(engine.dialect, table, {"id": 2, "total": 1}, "test")
        )
        rows = (await connection.execute(sa.select(table).order_by(table.c.id))).all()

    assert [tuple(row) for row in rows] == [(1, 7, None), (2, 1, None)]
