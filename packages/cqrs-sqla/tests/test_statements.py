"""`cqrs_sqla.statements`: the shared INSERT ... ON CONFLICT statements, on both databases."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from cqrs_sqla.statements import insert_or_replace, insert_unless_present


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


async def test_the_statements_are_compiled_once_for_every_execution_of_their_shape(
    engine: AsyncEngine,
) -> None:
    table = sa.Table(
        "seen",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("note", sa.String(20)),
    )
    compiled: dict[object, object] = {}
    async with engine.begin() as connection:
        await connection.run_sync(table.create)
        for build in (insert_unless_present, insert_or_replace):
            for row in ({"id": 1, "note": "a"}, {"id": 2, "note": "b"}):
                await connection.execute(
                    build(engine.dialect, table, row, "test"),
                    execution_options={"compiled_cache": compiled},
                )
        rows = (await connection.execute(sa.select(table).order_by(table.c.id))).all()

    # One compiled form per helper, reused by its second row.
    assert len(compiled) == 2
    assert [tuple(row) for row in rows] == [(1, "a"), (2, "b")]


async def test_a_column_default_of_sqlalchemy_still_fills_a_row_the_values_leave_it_out_of(
    engine: AsyncEngine,
) -> None:
    table = sa.Table(
        "defaulted",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("note", sa.String(20), default="unset"),
    )
    async with engine.begin() as connection:
        await connection.run_sync(table.create)
        inserted = await connection.execute(
            insert_unless_present(engine.dialect, table, {"id": 1}, "test")
        )
        again = await connection.execute(
            insert_unless_present(engine.dialect, table, {"id": 1}, "test")
        )
        rows = (await connection.execute(sa.select(table))).all()

    assert (inserted.rowcount, again.rowcount) == (1, 0)
    assert [tuple(row) for row in rows] == [(1, "unset")]
