"""The transactional outbox for code that writes with asyncpg: `cqrs_sqla.AsyncpgOutbox`.

A warehouse records shipped parcels with plain asyncpg, no ORM. Each
shipment writes its parcel row and a `parcel_shipped` event on the same
connection, in the same transaction: `await outbox.add(connection, event)`
is one statement on the connection the warehouse already holds. A shipment
whose label printer fails rolls back, and its event goes with it. Writing
outside a transaction is refused, since the event could then be published
for a parcel that was never recorded. The relay (the same one as for the
SQLAlchemy outbox) publishes what committed, here to an in-memory broker.

Needs a PostgreSQL server: `$DATABASE_URL` (a `postgresql://` URL), by default
the local one as user postgres. The example makes tables of its own names and
drops them when done.

Run: `python examples/asyncpg_outbox.py`
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import typing
import uuid

import asyncpg
import pydantic
import sqlalchemy as sa

import cqrs
from cqrs.exceptions import ConfigurationError
from cqrs.message_brokers.memory import InMemoryMessageBroker
from cqrs.outbox.relay import OutboxRelay
from cqrs_sqla import AsyncpgOutbox, Schema, SqlAlchemyOutboxStore, TableNames, create_all
from cqrs_sqla import create_engine as create_sqla_engine

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


class ParcelShipped(pydantic.BaseModel):
    parcel_id: str
    destination: str


cqrs.OutboxedEventMap.register("parcel_shipped", cqrs.NotificationEvent[ParcelShipped])


class PrinterJammed(Exception):
    """The label printer failed after the parcel row was written."""


def shipped(parcel_id: str, destination: str) -> cqrs.NotificationEvent[ParcelShipped]:
    return cqrs.NotificationEvent[ParcelShipped](
        event_name="parcel_shipped",
        topic="parcels",
        payload=ParcelShipped(parcel_id=parcel_id, destination=destination),
    )


async def ship(
    connection: typing.Any,
    outbox: AsyncpgOutbox,
    parcels: str,
    parcel_id: str,
    destination: str,
    *,
    jam: bool = False,
) -> None:
    """Record the parcel and its event together; nothing of it when anything fails."""
    async with connection.transaction():
        await connection.execute(
            f"INSERT INTO {parcels} (id, destination) VALUES ($1, $2)", parcel_id, destination
        )
        await outbox.add(connection, shipped(parcel_id, destination), key=parcel_id)
        if jam:
            raise PrinterJammed(parcel_id)


async def main() -> dict[str, typing.Any]:
    # Tables of the example's own names, so it can run on any database.
    prefix = f"example_{uuid.uuid4().hex[:8]}_"
    schema = Schema(TableNames.prefixed(prefix))
    parcels = f"{prefix}parcels"
    url = sa.make_url(DATABASE_URL)
    engine = create_sqla_engine(url.set(drivername="postgresql+asyncpg"))
    connect = typing.cast(
        "typing.Callable[[str], typing.Awaitable[typing.Any]]",
        asyncpg.connect,  # pyright: ignore[reportUnknownMemberType]  (asyncpg: partly untyped)
    )
    connection = await connect(
        url.set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        await create_all(engine, schema)
        await connection.execute(
            f"CREATE TABLE {parcels} (id text PRIMARY KEY, destination text NOT NULL)"
        )
        outbox = AsyncpgOutbox(schema=schema)

        await ship(connection, outbox, parcels, "P-1", "Lyon")
        with contextlib.suppress(PrinterJammed):  # rolled back: no parcel P-2, no event
            await ship(connection, outbox, parcels, "P-2", "Turin", jam=True)
        try:
            await outbox.add(connection, shipped("P-3", "Ghent"))  # no transaction
            refused = ""
        except ConfigurationError as error:
            refused = str(error)

        broker = InMemoryMessageBroker()
        relay = OutboxRelay(SqlAlchemyOutboxStore(engine, schema), broker)
        published = await relay.run_once()
        recorded = [row["id"] for row in await connection.fetch(f"SELECT id FROM {parcels}")]
    finally:
        await connection.execute(f"DROP TABLE IF EXISTS {parcels}")
        await connection.close()
        async with engine.begin() as db:
            await db.run_sync(schema.metadata.drop_all)
        await engine.dispose()
    return {
        "parcels": recorded,
        "published": published,
        "messages": [(m.key, m.payload["payload"]) for m in broker.messages],
        "refused": refused,
    }


if __name__ == "__main__":
    result = asyncio.run(main())
    print("parcels recorded:", result["parcels"])
    print("events published:", result["messages"])
    print("outside a transaction:", result["refused"])
