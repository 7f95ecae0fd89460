"""Finish sagas a crash left behind: `recover_saga` for one, `SagaRecoveryWorker` for all.

A saga interrupted while running resumes after its last completed step; one
interrupted while compensating (or left `compensation_failed`) carries on
compensating. Steps that completed are never run again.

>>> import di
>>> from cqrs.saga.storage.memory import MemorySagaStorage
>>> worker = SagaRecoveryWorker(storage=MemorySagaStorage(), sagas={}, container=di.Container())
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import typing
import uuid

from cqrs.container.resolve import as_container
from cqrs.saga.errors import SagaConcurrencyError
from cqrs.saga.execution import DEFAULT_COMPENSATION, DEFAULT_LEASE, CompensationPolicy, SagaRunner
from cqrs.saga.models import SagaContext, SagaStatus
from cqrs.saga.saga import Saga
from cqrs.saga.storage.protocol import ISagaStorage

__all__ = ("recover_saga", "SagaRecoveryWorker")

logger = logging.getLogger("cqrs.saga.recovery")


async def recover_saga(
    saga: Saga[typing.Any] | type[Saga[typing.Any]],
    saga_id: uuid.UUID,
    context_builder: type[SagaContext],
    container: object | None,
    storage: ISagaStorage,
    *,
    compensation: CompensationPolicy = DEFAULT_COMPENSATION,
    lease: datetime.timedelta = DEFAULT_LEASE,
) -> SagaStatus:
    """Resume saga `saga_id` from its stored state and return its final status.

    `container` may be the same raw `di.Container` given to bootstrap. Raises
    the error of a step that fails now (after compensating), and
    `SagaConcurrencyError` when another worker holds the saga.
    """
    saga_type = saga if isinstance(saga, type) else type(saga)
    runner = SagaRunner(
        saga_type, as_container(container), storage, compensation=compensation, lease=lease
    )
    state = await storage.load_saga_state(saga_id)
    context = context_builder.from_dict(**state.context)
    async for _ in runner.stream(context, saga_id):
        pass
    return (await storage.load_saga_state(saga_id)).status


@dataclasses.dataclass
class SagaRecoveryWorker:
    """Periodically claims stale unfinished sagas and finishes them.

    `sagas` maps each stored saga name (`Saga.saga_name()`) to its saga class
    and context class. A saga is tried at most `max_recovery_attempts` times.
    """

    storage: ISagaStorage
    sagas: typing.Mapping[str, tuple[type[Saga[typing.Any]], type[SagaContext]]]
    container: object | None = None
    interval: float = 10.0
    batch_size: int = 100
    max_recovery_attempts: int = 5
    stale_after: datetime.timedelta = datetime.timedelta(seconds=60)
    compensation: CompensationPolicy = DEFAULT_COMPENSATION

    async def run_once(self) -> int:
        """Recover one batch; return how many sagas were attempted."""
        saga_ids = await self.storage.get_sagas_for_recovery(
            self.batch_size,
            max_recovery_attempts=self.max_recovery_attempts,
            stale_after=self.stale_after,
        )
        for saga_id in saga_ids:
            await self._recover(saga_id)
        return len(saga_ids)

    async def run_forever(self, stop: asyncio.Event | None = None) -> None:
        """Call `run_once` every `interval` seconds until `stop` is set."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            await self.run_once()
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
            except asyncio.TimeoutError:
                continue

    async def _recover(self, saga_id: uuid.UUID) -> None:
        state = await self.storage.load_saga_state(saga_id)
        known = self.sagas.get(state.name)
        if known is None:
            logger.error("saga %s is a %s, which this worker does not know", saga_id, state.name)
            await self.storage.increment_recovery_attempts(saga_id)
            return
        attempt = await self.storage.increment_recovery_attempts(saga_id)
        saga_type, context_type = known
        try:
            status = await recover_saga(
                saga_type,
                saga_id,
                context_type,
                self.container,
                self.storage,
                compensation=self.compensation,
            )
        except SagaConcurrencyError:
            logger.info("saga %s is held by another worker; skipped", saga_id)
        except Exception:
            logger.exception("saga %s failed during recovery attempt %d", saga_id, attempt)
        else:
            logger.info("saga %s recovered on attempt %d: %s", saga_id, attempt, status.value)
