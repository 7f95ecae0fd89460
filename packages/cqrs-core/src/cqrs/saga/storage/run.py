"""`SagaStorageRun`: what python-cqrs's `storage.create_run()` yielded, over our storages.

python-cqrs batched a run's writes into one session and committed them at
checkpoints. Every write of ours is atomic and committed when it returns
(the engine records each step transition in one write), so a run's `commit`
has nothing left to do, and `rollback` cannot take back what was written: it
raises rather than pretend.

>>> import asyncio, uuid
>>> from cqrs.saga.storage.memory import MemorySagaStorage
>>> storage, saga_id = MemorySagaStorage(), uuid.uuid4()
>>> async def create() -> str:
...     async with storage.create_run() as run:
...         await run.create_saga(saga_id, "OrderSaga", {"order_id": "o1"})
...         await run.commit()
...     return (await storage.load_saga_state(saga_id)).name
>>> asyncio.run(create())
'OrderSaga'
"""

from __future__ import annotations

import contextlib
import typing
import uuid

from cqrs.saga.models import SagaLogEntry, SagaState, SagaStatus, SagaStepAction, SagaStepStatus
from cqrs.saga.storage.protocol import ISagaStorage

__all__ = ("SagaStorageRun", "scoped_run")


class SagaStorageRun:
    """A storage's reads and writes, with python-cqrs's `commit` and `rollback`."""

    def __init__(self, storage: ISagaStorage) -> None:
        self._storage = storage

    async def create_saga(
        self, saga_id: uuid.UUID, name: str, context: typing.Mapping[str, typing.Any]
    ) -> None:
        """See `ISagaStorage.create_saga`."""
        await self._storage.create_saga(saga_id, name, context)

    async def update_context(
        self,
        saga_id: uuid.UUID,
        context: typing.Mapping[str, typing.Any],
        current_version: int | None = None,
    ) -> int:
        """See `ISagaStorage.update_context`."""
        return await self._storage.update_context(saga_id, context, current_version)

    async def update_status(self, saga_id: uuid.UUID, status: SagaStatus) -> None:
        """See `ISagaStorage.update_status`."""
        await self._storage.update_status(saga_id, status)

    async def log_step(
        self,
        saga_id: uuid.UUID,
        step_name: str,
        action: SagaStepAction | typing.Literal["act", "compensate"],
        status: SagaStepStatus,
        details: str | None = None,
    ) -> None:
        """See `ISagaStorage.log_step`."""
        await self._storage.log_step(saga_id, step_name, action, status, details)

    async def load_saga_state(
        self, saga_id: uuid.UUID, *, read_for_update: bool = False
    ) -> SagaState:
        """See `ISagaStorage.load_saga_state`.

        `read_for_update` locked the row in python-cqrs; here claims keep two
        workers off one saga, so it changes nothing.
        """
        del read_for_update
        return await self._storage.load_saga_state(saga_id)

    async def get_step_history(self, saga_id: uuid.UUID) -> list[SagaLogEntry]:
        """See `ISagaStorage.get_step_history`."""
        return await self._storage.get_step_history(saga_id)

    async def commit(self) -> None:
        """Nothing to do: every write was committed when it returned."""

    async def rollback(self) -> None:
        """Raise `NotImplementedError`: written changes cannot be taken back."""
        raise NotImplementedError(
            "a saga storage run cannot roll back: each write was committed when it "
            "returned. python-cqrs batched a run's writes; here each saga transition is "
            "one atomic write, so undo a change with another write instead."
        )


@contextlib.asynccontextmanager
async def scoped_run(storage: ISagaStorage) -> typing.AsyncGenerator[SagaStorageRun, None]:
    """The run `create_run()` yields: `storage`'s methods, writes committed at once."""
    yield SagaStorageRun(storage)
