"""`SqlAlchemyOutboxedEventRepository`: events staged on the caller's session, inserted at commit.

`add` is synchronous (as in the handlers users already write): it checks the
event's name and size, encodes it and stages it on the session. An event
whose payload JSON and key come to more than `max_message_bytes` (default
`cqrs.outbox.DEFAULT_MAX_MESSAGE_BYTES`, which fits Kafka's default request
size) is refused with `cqrs.EventTooLargeError`, so no row is written that
no broker would take. The rows are inserted
by the session's own commit, in the same transaction as the business
writes, whichever way the commit is called (`outbox.commit(session)` or
`session.commit()`); a rollback drops them. On PostgreSQL the commit also
notifies waiting relays, in the rows' own statement, which it sends straight
to the asyncpg connection under the session's, in the session's transaction
(`cqrs_sqla.joined_driver`: SQLAlchemy's execution of it cost more CPU than
the driver's).

Only the sessions that stage outbox rows carry the hooks that insert them:
the repository's `session_factory` opens sessions of a `Session` subclass
listened to once (cheap), and a session from elsewhere gets listeners of its
own at its first `add`. SQLAlchemy's `Session` class, and every other session
of the process, are left alone.

One repository may serve concurrent handlers: each task's `async with outbox`
block has its own session (see `cqrs.outbox.sessions`).

The repository is also the outbox's relay side: `claim` and
`wait_for_rows` go to `store`, a `SqlAlchemyOutboxStore` on the session
factory's engine, so the object can be handed to `OutboxRelay` or
`cqrs.EventProducer` as it is.

```python
outbox = SqlAlchemyOutboxedEventRepository(session_factory, ZlibCompressor())
async with outbox as session:
    session.add(order)                       # business writes
    outbox.add(session, order_placed, key=str(order.id))
    await outbox.commit(session)
```
"""

from __future__ import annotations

import datetime
import functools
import types
import typing

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from cqrs.clock import utc_now
from cqrs.compressors.protocol import Compressor
from cqrs.events.event import NotificationEvent
from cqrs.exceptions import ConfigurationError
from cqrs.outbox.relay import OutboxClaim, RetryPolicy
from cqrs.outbox.repository import DEFAULT_MAX_MESSAGE_BYTES, outbox_message
from cqrs.outbox.sessions import OpenSessions
from cqrs_sqla.databases import bound_dialect, require_supported
from cqrs_sqla.driver_errors import maps_driver_errors
from cqrs_sqla.encoding import outbox_values
from cqrs_sqla.greenlets import spawn
from cqrs_sqla.notify import insert_notifying
from cqrs_sqla.relay import SqlAlchemyOutboxStore
from cqrs_sqla.schema import Schema, default_schema

__all__ = ("SqlAlchemyOutboxedEventRepository",)

_STAGED: typing.Final = "cqrs_sqla.outbox.staged"
_HOOKED: typing.Final = "cqrs_sqla.outbox.hooked"


class SqlAlchemyOutboxedEventRepository:
    """`cqrs.OutboxedEventRepository` on an SQLAlchemy async session, and the
    `cqrs.outbox.OutboxStore` of the same table."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        compressor: Compressor | None = None,
        *,
        schema: Schema | None = None,
        clock: typing.Callable[[], datetime.datetime] = utc_now,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        dialect = bound_dialect(session_factory)
        if dialect is not None:
            require_supported(dialect, "SqlAlchemyOutboxedEventRepository")
        #: The factory given, opening sessions whose commits insert the staged rows.
        self.session_factory: async_sessionmaker[AsyncSession] = _outbox_sessions(session_factory)
        self.compressor = compressor
        self.max_message_bytes = max_message_bytes
        self.schema: Schema = schema or default_schema()
        self._clock = clock
        self._sessions = OpenSessions[AsyncSession]()
        self._store: SqlAlchemyOutboxStore | None = None

    async def __aenter__(self) -> AsyncSession:
        session = self.session_factory()
        self._sessions.push(session)
        return session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        session = self._sessions.pop()
        if session is None:
            return
        if session.in_transaction():
            await session.close()  # rolls back whatever was not committed
        else:
            # Nothing to roll back or release, so no I/O: closing directly saves
            # the async round through a greenlet that most transactions end with.
            session.sync_session.close()

    def add(
        self, session: AsyncSession, event: NotificationEvent[typing.Any], *, key: str | None = None
    ) -> None:
        """Stage `event` on `session`; it is inserted when the session commits.

        Raises, before anything touches the session, `UnregisteredEventError`
        when the event's name is not in `OutboxedEventMap`, and
        `EventTooLargeError` when its payload JSON and key come to more than
        `max_message_bytes`.
        """
        values = outbox_values(
            outbox_message(event, key),
            self._clock(),
            self.compressor,
            max_message_bytes=self.max_message_bytes,
        )
        sync_session = session.sync_session
        if not isinstance(sync_session, _StagesOutboxRows) and _HOOKED not in sync_session.info:
            # A session from another factory: hooks on this session alone.
            sa_event.listen(sync_session, "before_commit", _insert_staged)
            sa_event.listen(sync_session, "after_rollback", _drop_staged)
            sync_session.info[_HOOKED] = True
        if not sync_session.in_transaction():
            # As `session.add` autobegins: the rows belong to a transaction, which a
            # rollback ends (dropping them) even when no statement ran in it yet.
            sync_session.begin()
        staged = typing.cast(
            "dict[sa.Table, list[dict[str, typing.Any]]]",
            sync_session.info.setdefault(_STAGED, {}),
        )
        staged.setdefault(self.schema.outbox, []).append(values)

    @maps_driver_errors
    async def commit(self, session: AsyncSession | None = None) -> None:
        """Commit the session (the open one when omitted): business rows and events together."""
        # What `AsyncSession.commit` does, on a reused greenlet (cqrs_sqla.greenlets):
        # a new one per commit cost the kernel an mmap and munmap each.
        await spawn(self._open(session).sync_session.commit)

    @maps_driver_errors
    async def rollback(self, session: AsyncSession | None = None) -> None:
        """Roll the session back; its staged events are dropped."""
        await self._open(session).rollback()

    @property
    def store(self) -> SqlAlchemyOutboxStore:
        """The relay side of this outbox, made on first use: a `SqlAlchemyOutboxStore`
        on the session factory's engine, with this schema, compressor and clock.

        Call `await repository.store.close()` when done if rows were waited for
        (on PostgreSQL that holds a listening connection).
        """
        if self._store is None:
            self._store = SqlAlchemyOutboxStore(
                _engine_of(self.session_factory),
                self.schema,
                compressor=self.compressor,
                clock=self._clock,
            )
        return self._store

    def claim(self, limit: int, retry: RetryPolicy) -> OutboxClaim:
        """A batch of due rows for a relay or a producer (see `SqlAlchemyOutboxStore.claim`)."""
        return self.store.claim(limit, retry)

    async def wait_for_rows(self, timeout: float) -> None:
        """Return when new rows may have committed, or after `timeout` seconds."""
        await self.store.wait_for_rows(timeout)

    def _open(self, session: AsyncSession | None) -> AsyncSession:
        session = session or self._sessions.current()
        if session is None:
            raise ConfigurationError(
                "no outbox session is open; use `async with outbox as session:` and pass it."
            )
        return session


def _engine_of(session_factory: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    """The engine the factory's sessions are bound to."""
    bind = session_factory.kw.get("bind")
    if isinstance(bind, AsyncConnection):
        return bind.engine
    if not isinstance(bind, AsyncEngine):
        raise ConfigurationError(
            "the outbox's session factory is not bound to one engine, so the relay side "
            "cannot find its database; build cqrs_sqla.relay.SqlAlchemyOutboxStore(engine, "
            "schema) and hand that to the relay or producer instead."
        )
    return bind


class _StagesOutboxRows:
    """Marks a `Session` subclass whose class-level hooks insert staged outbox rows."""


@functools.cache
def _outbox_session_class(base: type[Session]) -> type[Session]:
    """`base` with commits that insert the staged rows and rollbacks that drop them.

    Listeners on a class cost its sessions nothing to set up, where listeners
    added to each session cost more than a small transaction's insert; on a
    subclass of its own they reach only the outbox's sessions. For a session
    with nothing staged, the hooks only look up a key in its `info`.
    """
    hooked = type(base.__name__, (_StagesOutboxRows, base), {"__module__": __name__})
    sa_event.listen(hooked, "before_commit", _insert_staged)
    sa_event.listen(hooked, "after_rollback", _drop_staged)
    return typing.cast("type[Session]", hooked)


def _outbox_sessions(
    factory: async_sessionmaker[AsyncSession],
) -> async_sessionmaker[AsyncSession]:
    """`factory`, its sessions' synchronous class swapped for the outbox's subclass of it."""
    sync_class: type[Session] = factory.kw.get("sync_session_class") or (
        factory.class_.sync_session_class
    )
    if issubclass(sync_class, _StagesOutboxRows):
        return factory
    options: dict[str, typing.Any] = {
        **factory.kw,
        "sync_session_class": _outbox_session_class(sync_class),
    }
    return async_sessionmaker(class_=factory.class_, **options)


def _insert_staged(sync_session: Session) -> None:
    # Runs inside the commit, where SQLAlchemy allows synchronous calls on async engines.
    staged = typing.cast(
        "dict[sa.Table, list[dict[str, typing.Any]]]", sync_session.info.pop(_STAGED, {})
    )
    for table, rows in staged.items():
        insert_notifying(sync_session.connection(), table, rows)


def _drop_staged(sync_session: Session) -> None:
    sync_session.info.pop(_STAGED, None)
