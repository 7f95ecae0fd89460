"""`notifications`: what PostgreSQL sends on the relays' channel while a block runs.

The tests listen on a connection of their own, straight on asyncpg, so that what
they hear does not depend on the relay's listener under test.
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import typing

import asyncpg
import sqlalchemy as sa

from cqrs_sqla.notify import channel
from cqrs_sqla.schema import Schema


@contextlib.asynccontextmanager
async def notifications(
    postgres_url: str, schema: Schema
) -> collections.abc.AsyncGenerator[asyncio.Queue[str], None]:
    """The payloads of the notifications on `schema`'s relay channel, as they arrive."""
    heard: asyncio.Queue[str] = asyncio.Queue()
    dsn = sa.make_url(postgres_url).set(drivername="postgresql")
    connect = typing.cast(
        "typing.Callable[[str], typing.Awaitable[typing.Any]]",
        asyncpg.connect,  # pyright: ignore[reportUnknownMemberType]  (asyncpg: partly untyped)
    )
    listener = await connect(dsn.render_as_string(hide_password=False))
    try:

        def on_notify(_connection: object, _pid: int, _channel: str, payload: str) -> None:
            heard.put_nowait(payload)

        await listener.add_listener(channel(schema), on_notify)
        yield heard
    finally:
        await listener.close()
