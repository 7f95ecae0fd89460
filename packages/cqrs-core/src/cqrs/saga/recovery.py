"""Finish sagas a crash left behind: `recover_saga` for one, `SagaRecoveryWorker` for all.

A saga interrupted while running resumes after its last completed step; one
interrupted while compensating (or left `compensation_failed`) carries on
compensating; one waiting for a reply past its deadline times out and
compensates. Steps that completed are never run again. The worker is also
what fires messaging steps' timeouts, so run one wherever sagas wait.

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

from cqrs.clock import utc_now
from cqrs.container.resolve import as_container
from cqrs.saga.errors import (
    SagaConcurrencyError,
    SagaNotFoundError,
    SagaNotRetriableError,
    SagaStepTimeoutError,
    SagaTypeMismatchError,
)
from cqrs.saga.execution import (
    DEFAULT_COMPENSATION,
    DEFAULT_LEASE,
    CompensationPolicy,
    ContextBuilder,
    EmitEvents,
    SagaRunner,
)
from cqrs.saga.models import SagaContext, SagaState, SagaStatus
from cqrs.saga.saga import Saga
from cqrs.saga.storage.protocol import ISagaStorage

__all__ = ("recover_saga", "SagaRecoveryWorker")

logger: logging.Logger = logging.getLogger("cqrs.saga.recovery")


async def recover_saga(
    saga: Saga[typing.Any] | type[Saga[typing.Any]],
    saga_id: uuid.UUID,
    context_builder: type[SagaContext] | ContextBuilder,
    container: object | None,
    storage: ISagaStorage,
    *,
    compensation: CompensationPolicy = DEFAULT_COMPENSATION,
    lease: datetime.timedelta = DEFAULT_LEASE,
    clock: typing.Callable[[], datetime.datetime] = utc_now,
    emit: EmitEvents | None = None,
) -> SagaStatus:
    """Resume saga `saga_id` from its stored state and return its final status.

    `context_builder` is the context class, or a function building the
    context from its stored dict. `container` may be the same raw
    `di.Container` given to bootstrap; `clock` must agree with the storage's
    (it decides whether a reply is overdue). Raises the error of a step that
    fails now (after compensating), and `SagaConcurrencyError` when another
    worker holds the saga. A recovery that fails otherwise counts one recovery
    attempt first (as python-cqrs did), so `get_sagas_for_recovery` stops
    offering a saga that keeps failing.

    `emit` gets the events the steps of this pass record, as the saga
    mediator's emitter does for the passes it runs (give it the mediator's
    `emit`); without it they are dropped.
    """
    try:
        return await _resume(
            saga, saga_id, context_builder, container, storage, compensation, lease, clock, emit
        )
    except (SagaConcurrencyError, SagaNotFoundError, SagaTypeMismatchError):
        raise  # not a failed recovery: someone else runs it, nothing to run, a wrong class
    except Exception:
        await storage.increment_recovery_attempts(saga_id)
        raise


async def _resume(
    saga: Saga[typing.Any] | type[Saga[typing.Any]],
    saga_id: uuid.UUID,
    context_builder: type[SagaContext] | ContextBuilder,
    container: object | None,
    storage: ISagaStorage,
    compensation: CompensationPolicy,
    lease: datetime.timedelta,
    clock: typing.Callable[[], datetime.datetime],
    emit: EmitEvents | None,
) -> SagaStatus:
    """Run the stored saga as far as it goes; return its status."""
    saga_type = saga if isinstance(saga, type) else type(saga)
    runner = SagaRunner(
        saga_type,
        as_container(container),
        storage,
        context_type=context_builder,
        compensation=compensation,
        lease=lease,
        clock=clock,
        emit=emit,
    )
    return await runner.run_stored(saga_id)


@dataclasses.dataclass
class SagaRecoveryWorker:
    """Periodically claims stale unfinished sagas and finishes them.

    `sagas` maps each stored saga name (`Saga.saga_name()`) to its saga class
    and context class. A saga is tried at most `max_recovery_attempts` times.
    `emit` gets the events the steps it runs record (pass the saga mediator's
    `emit`, so a step recovered emits as it would have in the first pass);
    without it they are dropped.
    """

    storage: ISagaStorage
    sagas: typing.Mapping[str, tuple[type[Saga[typing.Any]], type[SagaContext]]]
    container: object | None = None
    interval: float = 10.0
    batch_size: int = 100
    max_recovery_attempts: int = 5
    stale_after: datetime.timedelta = datetime.timedelta(seconds=60)
    compensation: CompensationPolicy = DEFAULT_COMPENSATION
    lease: datetime.timedelta = DEFAULT_LEASE
    clock: typing.Callable[[], datetime.datetime] = utc_now
    emit: EmitEvents | None = None

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

    async def retry(self, saga_id: uuid.UUID) -> SagaState:
        """Run saga `saga_id` on now, whatever its recovery attempts or staleness: an
        operator's retry (see `SagaRunner.retry`); return its state afterwards.

        It counts no recovery attempt. Raises `SagaNotFoundError`,
        `SagaConcurrencyError` while another worker holds the saga, and
        `SagaNotRetriableError` for a saga whose name is not in `sagas`, a
        finished one, or one waiting for a reply within its deadline.
        """
        state = await self.storage.load_saga_state(saga_id)
        known = self.sagas.get(state.name)
        if known is None:
            raise SagaNotRetriableError(
                f"saga {saga_id} is a {state.name}, which this worker does not run; add it "
                f"to the worker's sagas= to retry it here"
            )
        saga_type, context_type = known
        runner = SagaRunner(
            saga_type,
            as_container(self.container),
            self.storage,
            context_type=context_type,
            compensation=self.compensation,
            lease=self.lease,
            clock=self.clock,
            emit=self.emit,
        )
        return await runner.retry(saga_id)

    async def _recover(self, saga_id: uuid.UUID) -> None:
        state = await self.storage.load_saga_state(saga_id)
        known = self.sagas.get(state.name)
        if known is None:
            logger.error("saga %s is a %s, which this worker does not know", saga_id, state.name)
            await self.storage.increment_recovery_attempts(saga_id)
            return
        # A reply's deadline passing is the saga's normal course, not a failed recovery:
        # only count passes over sagas that are stuck.
        overdue_reply = state.waiting is not None
        attempt = 0 if overdue_reply else await self.storage.increment_recovery_attempts(saga_id)
        saga_type, context_type = known
        try:
            # Not recover_saga: this worker counts its attempts itself (before, see above).
            status = await _resume(
                saga_type,
                saga_id,
                context_type,
                self.container,
                self.storage,
                self.compensation,
                self.lease,
                self.clock,
                self.emit,
            )
        except SagaConcurrencyError:
            logger.info("saga %s is held by another worker; skipped", saga_id)
        except SagaStepTimeoutError as timeout:
            logger.warning("saga %s: %s", saga_id, timeout)
        except Exception:
            if overdue_reply:
                attempt = await self.storage.increment_recovery_attempts(saga_id)
            logger.exception("saga %s failed during recovery attempt %d", saga_id, attempt)
        else:
            logger.info("saga %s recovered on attempt %d: %s", saga_id, attempt, status.value)
