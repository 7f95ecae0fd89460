"""The saga engine: runs a saga's steps against its storage, compensating on failure.

Guarantees, whatever the crash point or concurrency:

* one worker at a time advances a saga (a lease, `claim`, plus optimistic
  versions on the context), so two starts or two recoveries of one saga run
  each `act` at most once between them;
* a step failure is recorded together with the move to `compensating`
  (`start_compensation`), so no recovery can run the saga forward after it;
* completed steps are compensated once each, in reverse, each retried with
  exponential backoff; one that keeps failing leaves `compensation_failed`;
* a step interrupted by a crash (its `act` started but not recorded done) is
  run again on recovery: write acts to be idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import typing
import uuid

from cqrs.container.protocol import Container
from cqrs.fallback import call_with_fallback
from cqrs.saga.errors import SagaAlreadyExistsError, SagaConcurrencyError
from cqrs.saga.models import (
    SagaContext,
    SagaLogEntry,
    SagaStatus,
    SagaStepAction,
    SagaStepStatus,
)
from cqrs.saga.saga import Saga, SagaDefinitionError, SagaStep
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.protocol import ISagaStorage

__all__ = ("CompensationPolicy", "SagaRunner", "DEFAULT_COMPENSATION", "DEFAULT_LEASE")

_Result = SagaStepResult[typing.Any, typing.Any]
_StepType = type[SagaStepHandler[typing.Any, typing.Any]]


@dataclasses.dataclass(frozen=True)
class CompensationPolicy:
    """How often and how patiently a failing compensation is retried."""

    attempts: int = 3
    initial_delay: float = 0.1
    multiplier: float = 2.0
    max_delay: float = 5.0

    def delays(self) -> typing.Iterator[float]:
        """The pauses between attempts (one fewer than `attempts`)."""
        delay = self.initial_delay
        for _ in range(self.attempts - 1):
            yield delay
            delay = min(delay * self.multiplier, self.max_delay)


DEFAULT_COMPENSATION: typing.Final = CompensationPolicy()
DEFAULT_LEASE: typing.Final = datetime.timedelta(seconds=60)


class SagaRunner:
    """Runs sagas of one class; one runner serves any number of saga instances."""

    def __init__(
        self,
        saga_type: type[Saga[typing.Any]],
        container: Container,
        storage: ISagaStorage,
        *,
        compensation: CompensationPolicy = DEFAULT_COMPENSATION,
        lease: datetime.timedelta = DEFAULT_LEASE,
    ) -> None:
        self.saga_type = saga_type
        self.container = container
        self.storage = storage
        self.compensation = compensation
        self.lease = lease
        if not (isinstance(saga_type, type) and issubclass(saga_type, Saga)):
            raise SagaDefinitionError(f"{saga_type!r} is not a Saga subclass.")
        self.steps = saga_type.step_definitions()
        if not self.steps:
            raise SagaDefinitionError(
                f"{saga_type.__qualname__} declares no steps; set `steps = [...]` on the class."
            )
        self.handlers_by_name: dict[str, _StepType] = {}
        for step in self.steps:
            self.handlers_by_name[step.handler.__name__] = step.handler
            if step.fallback is not None:
                self.handlers_by_name[step.fallback.fallback.__name__] = step.fallback.fallback

    async def stream(
        self, context: SagaContext, saga_id: uuid.UUID
    ) -> typing.AsyncIterator[_Result]:
        """Start (or resume) saga `saga_id`; yield each step's result as it completes.

        A saga that exists already resumes from its stored context; a finished
        one yields nothing. Raises the failing step's error after compensating,
        and `SagaConcurrencyError` if another worker holds the saga.
        """
        with contextlib.suppress(SagaAlreadyExistsError):
            await self.storage.create_saga(saga_id, self.saga_type.saga_name(), context.to_dict())
        owner = uuid.uuid4().hex
        if not await self.storage.claim(saga_id, owner, self.lease):
            raise SagaConcurrencyError(f"saga {saga_id} is being run by another worker")
        try:
            run = await _Run.load(self, saga_id, owner, type(context))
            if run is not None:
                async for result in run.advance():
                    yield result
        finally:
            await self.storage.release(saga_id, owner)


@dataclasses.dataclass
class _Run:
    """One worker's pass over one saga, from its stored state."""

    runner: SagaRunner
    saga_id: uuid.UUID
    owner: str
    context: SagaContext
    version: int
    status: SagaStatus
    history: list[SagaLogEntry]
    error: str | None

    @classmethod
    async def load(
        cls, runner: SagaRunner, saga_id: uuid.UUID, owner: str, context_type: type[SagaContext]
    ) -> _Run | None:
        storage = runner.storage
        state = await storage.load_saga_state(saga_id)
        if state.status.is_final:
            return None
        return cls(
            runner,
            saga_id,
            owner,
            context_type.from_dict(**state.context),
            state.version,
            state.status,
            await storage.get_step_history(saga_id),
            state.error,
        )

    @property
    def storage(self) -> ISagaStorage:
        return self.runner.storage

    async def advance(self) -> typing.AsyncIterator[_Result]:
        if self._must_compensate():
            await self._compensate()
            return
        if self.status is SagaStatus.PENDING:
            await self.storage.update_status(self.saga_id, SagaStatus.RUNNING)
        acted = self._acted()
        for step in self.runner.steps:
            if any(name in acted for name in step.handler_names):
                continue
            yield await self._act(step)
        await self.storage.update_status(self.saga_id, SagaStatus.COMPLETED)

    def _must_compensate(self) -> bool:
        return self.status in (SagaStatus.COMPENSATING, SagaStatus.COMPENSATION_FAILED) or any(
            entry.action is SagaStepAction.ACT and entry.status is SagaStepStatus.FAILED
            for entry in self.history
        )

    def _acted(self) -> list[str]:
        return [
            entry.step_name
            for entry in self.history
            if entry.action is SagaStepAction.ACT and entry.status is SagaStepStatus.COMPLETED
        ]

    async def _act(self, step: SagaStep) -> _Result:
        storage = self.storage
        if not await storage.claim(self.saga_id, self.owner, self.runner.lease):
            raise SagaConcurrencyError(f"saga {self.saga_id}: the lease was lost to another worker")
        await storage.log_step(self.saga_id, step.name, SagaStepAction.ACT, SagaStepStatus.STARTED)
        try:
            result, acted_name = await self._run_act(step)
        except Exception as exc:
            # Fenced by the version: a worker that lost the saga cannot start undoing it.
            self.error = _describe(exc)
            await storage.start_compensation(self.saga_id, step.name, self.error, self.version)
            self.status = SagaStatus.COMPENSATING
            self.history = await storage.get_step_history(self.saga_id)
            await self._compensate()
            raise
        self.version = await storage.update_context(
            self.saga_id, self.context.to_dict(), self.version
        )
        await storage.log_step(
            self.saga_id, acted_name, SagaStepAction.ACT, SagaStepStatus.COMPLETED
        )
        return result

    async def _run_act(self, step: SagaStep) -> tuple[_Result, str]:
        resolve = self.runner.container.resolve
        context = self.context

        async def act_with(handler_type: _StepType) -> tuple[_Result, str]:
            handler = await resolve(handler_type)
            return await handler.act(context), handler_type.__name__

        fallback = step.fallback
        if fallback is None:
            return await act_with(step.handler)
        return await call_with_fallback(
            fallback.identifier,
            lambda: act_with(fallback.primary),
            lambda: act_with(fallback.fallback),
            fallback.failure_exceptions,
            fallback.circuit_breaker,
        )

    async def _compensate(self) -> None:
        if self.status is not SagaStatus.COMPENSATING:
            await self.storage.update_status(self.saga_id, SagaStatus.COMPENSATING, self.error)
            self.status = SagaStatus.COMPENSATING
        compensated = {
            entry.step_name
            for entry in self.history
            if entry.action is SagaStepAction.COMPENSATE
            and entry.status is SagaStepStatus.COMPLETED
        }
        all_undone = True
        for name in reversed(self._acted()):
            if name not in compensated:
                all_undone = await self._compensate_step(name) and all_undone
        final = SagaStatus.FAILED if all_undone else SagaStatus.COMPENSATION_FAILED
        await self.storage.update_status(self.saga_id, final, self.error)
        self.status = final

    async def _compensate_step(self, name: str) -> bool:
        storage, saga_id = self.storage, self.saga_id
        handler_type = self.runner.handlers_by_name[name]
        delays = self.runner.compensation.delays()
        while True:
            await storage.log_step(saga_id, name, SagaStepAction.COMPENSATE, SagaStepStatus.STARTED)
            try:
                handler = await self.runner.container.resolve(handler_type)
                await handler.compensate(self.context)
            except Exception as exc:
                await storage.log_step(
                    saga_id, name, SagaStepAction.COMPENSATE, SagaStepStatus.FAILED, _describe(exc)
                )
                delay = next(delays, None)
                if delay is None:
                    return False
                await asyncio.sleep(delay)
                continue
            self.version = await storage.update_context(
                saga_id, self.context.to_dict(), self.version
            )
            await storage.log_step(
                saga_id, name, SagaStepAction.COMPENSATE, SagaStepStatus.COMPLETED
            )
            return True


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__qualname__}: {exc}"
