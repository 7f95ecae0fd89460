"""Push, not poll: wake whoever follows a saga as soon as one of its writes commits.

`SagaChanges` tells waiters that saga `id` changed. On PostgreSQL the write
sends `NOTIFY` on the channel `<saga table>_changes` with the id as payload,
and every process that follows a saga listens on it (one connection per
process), so a transition reaches a follower in any process, the writer's
included, within milliseconds. Each change wakes a follower once: a process
that is listening hears its own writes through the server, like the
others', and wakes its followers directly only when it is not (on SQLite,
without an engine, or while its listening connection is down). A follower
waits for its event with a timeout and then reads the saga anyway: a lost
notification (a listening connection that dropped) only delays it until
that slow poll.

`SagaChanges.version(id)` lets a reader skip reading a saga twice: taken
before a read and found the same later, no change of that saga has reached
this process in between, so what the read saw is still the saga (a follower
that has started following by then can begin from it).

`NotifyingSagaStorage` wraps any `ISagaStorage`: after each write that adds to
the step log or changes the status (`create_saga`, `log_step`, `record_step`,
`update_status`) it calls `SagaChanges.changed`. Reads and claims pass through.
A `SqlAlchemySagaStorage` given `changes_channel=changes_channel(schema)` sends
the `NOTIFY` of `record_step` and `update_status` in their own statement on
PostgreSQL, one transaction fewer per write; the wrapper then only wakes this
process's followers after them.

>>> import asyncio, uuid
>>> from cqrs.saga.storage.memory import MemorySagaStorage
>>> from cqrs.saga.models import SagaStatus
>>> async def main() -> bool:
...     changes = SagaChanges()  # in-process only: no engine
...     storage = NotifyingSagaStorage(MemorySagaStorage(), changes)
...     saga_id = uuid.uuid4()
...     await storage.create_saga(saga_id, "order", {})
...     async with changes.following(saga_id) as changed:
...         await storage.update_status(saga_id, SagaStatus.RUNNING)
...         return changed.is_set()
>>> asyncio.run(main())
True
"""

from __future__ import annotations

import asyncio
import collections
import collections.abc
import contextlib
import datetime
import typing
import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cqrs.message_brokers.protocol import Message
from cqrs.saga.models import (
    SagaLogEntry,
    SagaState,
    SagaStatus,
    SagaStepAction,
    SagaStepStatus,
    SagaWait,
)
from cqrs.saga.storage.protocol import DEFAULT_STALE_AFTER, ISagaStorage, claim_and_load
from cqrs_sqla.driver_errors import maps_driver_errors
from cqrs_sqla.saga_storage import SqlAlchemySagaStorage
from cqrs_sqla.schema import Schema

__all__ = ("NotifyingSagaStorage", "SagaChanges", "changes_channel")

#: Change counters `SagaChanges.version` reads, shared by the sagas whose ids fall
#: in the same one: the memory stays the same however many sagas change, and a
#: shared counter only makes a reader read again.
_VERSION_SLOTS: typing.Final = 1024


def changes_channel(schema: Schema) -> str:
    """The PostgreSQL notification channel of the schema's saga table.

    >>> changes_channel(Schema())
    'saga_changes'
    """
    return f"{schema.saga.name}_changes"


class SagaChanges:
    """Wakes the followers of a saga when it changes; across processes on PostgreSQL.

    Without `engine` (or on another database) only the followers in this
    process are woken. `close()` stops listening.
    """

    def __init__(self, engine: AsyncEngine | None = None, schema: Schema | None = None) -> None:
        self._engine = (
            engine if engine is not None and engine.dialect.name == "postgresql" else None
        )
        self._channel = changes_channel(schema or Schema())
        self._followers: dict[uuid.UUID, set[asyncio.Event]] = collections.defaultdict(set)
        self._listener: typing.Any = None
        self._listener_source: AsyncConnection | None = None
        self._listening = asyncio.Lock()
        self._counts = [0] * _VERSION_SLOTS
        # Moves whenever notifications may have been lost: listening (again), or not.
        self._epoch = 0

    @property
    def pushes_across_processes(self) -> bool:
        """Whether other processes hear of this one's changes (PostgreSQL)."""
        return self._engine is not None

    @maps_driver_errors
    async def changed(self, saga_id: uuid.UUID, *, notified: bool = False) -> None:
        """Wake the followers of `saga_id` here and, on PostgreSQL, everywhere (unless
        `notified`: the write sent the `NOTIFY` itself, `SqlAlchemySagaStorage`'s
        `changes_channel`).

        While this process listens, its followers are woken by the `NOTIFY` alone
        (waking them here too would make each read the saga twice per change).
        """
        if not self._hears_own_notifications():
            self._wake(saga_id)
        if self._engine is None or notified:
            return
        async with self._engine.connect() as connection:
            await connection.execute(sa.select(sa.func.pg_notify(self._channel, str(saga_id))))
            await connection.commit()

    def version(self, saga_id: uuid.UUID) -> int:
        """A number that moves with every change of `saga_id` this process hears of,
        and whenever it starts or stops listening (changes may have gone unheard).

        Take it before reading the saga: while it has not moved, no change that
        the read could have missed has committed (a change of another saga may
        move it too, which only costs a read).

        >>> changes = SagaChanges()
        >>> saga_id = uuid.uuid4()
        >>> before = changes.version(saga_id)
        >>> asyncio.run(changes.changed(saga_id))
        >>> changes.version(saga_id) == before
        False
        """
        return self._epoch + self._counts[hash(saga_id) % _VERSION_SLOTS]

    @contextlib.asynccontextmanager
    async def following(
        self, saga_id: uuid.UUID
    ) -> collections.abc.AsyncGenerator[asyncio.Event, None]:
        """An event set whenever `saga_id` changes while the block runs (clear it after
        each read): no change between two reads is missed."""
        await self._listen()
        event = asyncio.Event()
        self._followers[saga_id].add(event)
        try:
            yield event
        finally:
            followers = self._followers[saga_id]
            followers.discard(event)
            if not followers:
                del self._followers[saga_id]

    @maps_driver_errors
    async def close(self) -> None:
        """Stop listening for other processes' changes."""
        source, listener = self._listener_source, self._listener
        self._listener_source = self._listener = None
        self._epoch += 1
        try:
            if listener is not None and not listener.is_closed():
                await listener.remove_listener(self._channel, self._on_notify)
        finally:
            if source is not None:
                await source.close()

    def _hears_own_notifications(self) -> bool:
        """Whether a `NOTIFY` sent on the channel will reach this process's followers."""
        return self._listener is not None and not self._listener.is_closed()

    def _wake(self, saga_id: uuid.UUID) -> None:
        self._counts[hash(saga_id) % _VERSION_SLOTS] += 1
        for event in self._followers.get(saga_id, ()):
            event.set()

    def _on_notify(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        with contextlib.suppress(ValueError):
            self._wake(uuid.UUID(payload))

    @maps_driver_errors
    async def _listen(self) -> None:
        if self._engine is None:
            return
        async with self._listening:
            if self._listener is not None and not self._listener.is_closed():
                return
            if self._listener_source is not None:
                # The server went away: listen again; followers catch up by their poll.
                with contextlib.suppress(Exception):
                    await self._listener_source.invalidate()
                self._listener_source = self._listener = None
            source = await self._engine.connect()
            raw = await source.get_raw_connection()
            driver = typing.cast(typing.Any, raw.driver_connection)
            await driver.add_listener(self._channel, self._on_notify)
            self._listener_source, self._listener = source, driver
            self._epoch += 1


class NotifyingSagaStorage:
    """An `ISagaStorage` that tells `changes` about each write to the sagas it stores."""

    def __init__(self, storage: ISagaStorage, changes: SagaChanges) -> None:
        self.storage = storage
        self.changes = changes
        # A storage whose step and status writes send the NOTIFY in their own statement
        # leaves only this process's followers to wake.
        self._notified = isinstance(storage, SqlAlchemySagaStorage) and storage.notifies_changes

    async def create_saga(
        self,
        saga_id: uuid.UUID,
        name: str,
        context: typing.Mapping[str, typing.Any],
        *,
        owner: str | None = None,
        lease: datetime.timedelta | None = None,
        trace_context: str | None = None,
    ) -> None:
        await self.storage.create_saga(
            saga_id, name, context, owner=owner, lease=lease, trace_context=trace_context
        )
        await self.changes.changed(saga_id)

    async def load_saga_state(self, saga_id: uuid.UUID) -> SagaState:
        return await self.storage.load_saga_state(saga_id)

    async def update_context(
        self,
        saga_id: uuid.UUID,
        context: typing.Mapping[str, typing.Any],
        current_version: int | None = None,
    ) -> int:
        return await self.storage.update_context(saga_id, context, current_version)

    async def update_status(
        self, saga_id: uuid.UUID, status: SagaStatus, error: str | None = None
    ) -> None:
        await self.storage.update_status(saga_id, status, error)
        await self.changes.changed(saga_id, notified=self._notified)

    async def log_step(
        self,
        saga_id: uuid.UUID,
        step_name: str,
        action: SagaStepAction | typing.Literal["act", "compensate"],
        status: SagaStepStatus,
        details: str | None = None,
    ) -> None:
        await self.storage.log_step(saga_id, step_name, action, status, details)
        await self.changes.changed(saga_id)

    async def record_step(
        self,
        saga_id: uuid.UUID,
        step_name: str,
        action: SagaStepAction,
        status: SagaStepStatus,
        *,
        context: typing.Mapping[str, typing.Any],
        current_version: int,
        details: str | None = None,
        saga_status: SagaStatus | None = None,
        error: str | None = None,
        wait: SagaWait | None = None,
        messages: typing.Sequence[Message] = (),
        trace_context: str | None = None,
    ) -> int:
        version = await self.storage.record_step(
            saga_id,
            step_name,
            action,
            status,
            context=context,
            current_version=current_version,
            details=details,
            saga_status=saga_status,
            error=error,
            wait=wait,
            messages=messages,
            trace_context=trace_context,
        )
        await self.changes.changed(saga_id, notified=self._notified)
        return version

    async def get_step_history(self, saga_id: uuid.UUID) -> list[SagaLogEntry]:
        return await self.storage.get_step_history(saga_id)

    async def claim(self, saga_id: uuid.UUID, owner: str, lease: datetime.timedelta) -> bool:
        return await self.storage.claim(saga_id, owner, lease)

    async def claim_and_load(
        self, saga_id: uuid.UUID, owner: str, lease: datetime.timedelta
    ) -> tuple[SagaState, list[SagaLogEntry]] | None:
        return await claim_and_load(self.storage, saga_id, owner, lease)

    async def release(self, saga_id: uuid.UUID, owner: str) -> None:
        await self.storage.release(saga_id, owner)

    async def get_sagas_for_recovery(
        self,
        limit: int,
        max_recovery_attempts: int = 5,
        stale_after_seconds: float | None = None,
        saga_name: str | None = None,
        *,
        stale_after: datetime.timedelta = DEFAULT_STALE_AFTER,
    ) -> list[uuid.UUID]:
        return await self.storage.get_sagas_for_recovery(
            limit,
            max_recovery_attempts,
            stale_after_seconds,
            saga_name,
            stale_after=stale_after,
        )

    async def increment_recovery_attempts(self, saga_id: uuid.UUID) -> int:
        return await self.storage.increment_recovery_attempts(saga_id)
