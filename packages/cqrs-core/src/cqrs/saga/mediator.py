"""`SagaMediator`: runs the saga bound to a context's type and streams step results.

>>> import asyncio, dataclasses, uuid
>>> from cqrs.container.di import DIContainer
>>> from cqrs.saga.map import SagaMap
>>> from cqrs.saga.models import SagaContext, SagaState, SagaStatus
>>> from cqrs.saga.saga import Saga
>>> from cqrs.saga.step import SagaStepHandler, SagaStepResult
>>> from cqrs.saga.storage.memory import MemorySagaStorage
>>> @dataclasses.dataclass
... class Ctx(SagaContext):
...     done: bool = False
>>> class Finish(SagaStepHandler[Ctx, None]):
...     async def act(self, context: Ctx) -> SagaStepResult[Ctx, None]:
...         context.done = True
...         return self._generate_step_result(None)
>>> class DocSaga(Saga[Ctx]):
...     steps = [Finish]
>>> sagas = SagaMap()
>>> sagas.bind(Ctx, DocSaga)
>>> mediator = SagaMediator(sagas, DIContainer(), storage=MemorySagaStorage())
>>> async def run():
...     return [r.step_type.__name__ async for r in mediator.stream(Ctx(), saga_id=uuid.uuid4())]
>>> asyncio.run(run())
['Finish']
"""

from __future__ import annotations

import datetime
import typing
import uuid

from cqrs.clock import utc_now
from cqrs.container.protocol import Container
from cqrs.events.emitter import EventEmitter, mediator_emitter
from cqrs.events.event import NotificationEvent
from cqrs.events.map import EventMap
from cqrs.middlewares.base import Middleware
from cqrs.saga.errors import SagaError, SagaTypeMismatchError
from cqrs.saga.execution import (
    DEFAULT_COMPENSATION,
    DEFAULT_LEASE,
    CompensationPolicy,
    ContinueIn,
    EmitEvents,
    SagaRunner,
)
from cqrs.saga.map import SagaMap
from cqrs.saga.models import SagaContext, SagaState, SagaStatus
from cqrs.saga.step import SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.saga.storage.protocol import ISagaStorage

__all__ = ("SagaMediator", "SagaNotBoundError")


class SagaNotBoundError(SagaError, LookupError):
    """No saga is bound to the context's type in the `SagaMap`."""


class SagaMediator:
    """Starts or resumes sagas; one result per completed step.

    The arguments are python-cqrs's, in its order. Events the local steps
    record go to `event_emitter` (or to a new emitter on `event_map`, without
    a broker), with the given handler concurrency. `storage` defaults to a
    `MemorySagaStorage`, which does not survive the process. The
    `compensation_retry_*` settings, when given, override those of
    `compensation` (see `CompensationPolicy.with_retry`). `middleware_chain`
    is accepted and not applied to sagas, as in python-cqrs. `clock` dates
    reply deadlines; give the storage the same one.
    """

    def __init__(
        self,
        saga_map: SagaMap,
        container: Container,
        event_emitter: EventEmitter | None = None,
        middleware_chain: typing.Sequence[Middleware] | None = None,
        event_map: EventMap | None = None,
        max_concurrent_event_handlers: int | None = None,
        concurrent_event_handle_enable: bool | None = None,
        storage: ISagaStorage | None = None,
        compensation_retry_count: int | None = None,
        compensation_retry_delay: float | None = None,
        compensation_retry_backoff: float | None = None,
        *,
        compensation: CompensationPolicy = DEFAULT_COMPENSATION,
        lease: datetime.timedelta = DEFAULT_LEASE,
        clock: typing.Callable[[], datetime.datetime] = utc_now,
    ) -> None:
        del middleware_chain  # python-cqrs took it for sagas and never applied it
        self._storage = storage if storage is not None else MemorySagaStorage()
        self._emitter = emitter = mediator_emitter(
            container,
            event_emitter,
            event_map,
            max_concurrent_event_handlers,
            concurrent_event_handle_enable,
        )
        policy = compensation.with_retry(
            compensation_retry_count, compensation_retry_delay, compensation_retry_backoff
        )
        # Each bound saga gets its runner now, so definition problems surface here.
        self._runners = {
            context_type: SagaRunner(
                saga_type,
                container,
                self._storage,
                context_type=context_type,
                compensation=policy,
                lease=lease,
                clock=clock,
                emit=emitter.emit_all,
            )
            for context_type, saga_type in saga_map.items()
        }
        self._runners_by_name = {runner.saga_name: runner for runner in self._runners.values()}

    @property
    def emit(self) -> EmitEvents:
        """Emits events as this mediator does those its steps record: give it to the
        `SagaRecoveryWorker` (or `recover_saga`) resuming these sagas, so the steps
        they run emit theirs too."""
        return self._emitter.emit_all

    @property
    def storage(self) -> ISagaStorage:
        """Where the sagas are persisted, e.g. to read `get_step_history`."""
        return self._storage

    def stream(
        self, context: SagaContext, saga_id: uuid.UUID | None = None
    ) -> typing.AsyncGenerator[SagaStepResult[typing.Any, typing.Any], None]:
        """Run the saga for `context` under `saga_id` (a new id when omitted).

        An existing unfinished `saga_id` resumes from its stored context; a
        finished one yields nothing. Raises `SagaNotBoundError` at once when
        no saga is bound to the context's type.
        """
        return self._runner_for(context).stream(context, saga_id or uuid.uuid4())

    def _runner_for(self, context: SagaContext) -> SagaRunner:
        runner = self._runners.get(type(context))
        if runner is None:
            raise SagaNotBoundError(
                f"no saga is bound to {type(context).__qualname__}; bind one in the "
                f"sagas_mapper, e.g. `mapper.bind({type(context).__name__}, MySaga)`."
            )
        return runner

    async def start(
        self,
        context: SagaContext,
        saga_id: uuid.UUID | None = None,
        *,
        storage: ISagaStorage | None = None,
        hidden_until_commit: bool = False,
    ) -> SagaStatus:
        """Create the saga for `context` under `saga_id` (a new id when omitted) and run
        its first pass: to its end, or to the reply it then waits for. Return its status.

        A step that fails now is compensated and recorded, not raised.
        `storage`, when given, is what this pass writes through instead of the
        mediator's: one joined to the caller's open transaction makes the saga,
        its first steps and the commands they stage commit (or roll back) with
        the caller's own writes, in one transaction. With `hidden_until_commit`
        the caller vouches that no other worker sees the saga before that
        transaction commits: the saga is created unclaimed, and the pass takes
        and gives up no claim (a statement less on a database), see
        `SagaRunner.start`. Raises `SagaNotBoundError` when no saga is bound to
        the context's type, `SagaAlreadyExistsError` for an id in use, and
        `ValueError` for `hidden_until_commit` without a `storage` (the
        mediator's own storage is shared: others see what it stores at once).
        """
        if hidden_until_commit and storage is None:
            raise ValueError(
                "hidden_until_commit needs the storage joined to your open transaction: "
                "pass it as storage=..."
            )
        runner = self._runner_for(context)
        if storage is not None:
            runner = runner.on(storage)
        return await runner.start(
            context, saga_id or uuid.uuid4(), hidden_until_commit=hidden_until_commit
        )

    async def deliver(
        self,
        saga_id: uuid.UUID,
        reply: NotificationEvent[typing.Any],
        *,
        continue_in: ContinueIn | None = None,
    ) -> SagaState:
        """Hand a reply event to saga `saga_id` and run the saga on; return its state.

        Call it from the event handler that consumes replies, on any instance.
        A reply the saga does not wait for is ignored (so redelivery is
        harmless); a step that fails now is compensated and recorded in the
        returned state rather than raised. Raises `SagaNotFoundError` for an
        unknown id, `SagaNotBoundError` when the saga's class is not bound
        here, and `SagaConcurrencyError` when another worker keeps holding
        the saga (deliver again later).

        `continue_in(saga_id)`, when given, opens a transaction of the
        caller's and yields a storage joined to it: the pass records the
        reply's step on its own, then runs the rest (the steps after it, to
        the saga's end or its next wait) in that one transaction instead of
        one per step; see `SagaRunner.deliver` for what happens when it fails.
        """
        if len(self._runners_by_name) == 1:
            # One saga bound: its runner checks the stored name as it loads the saga.
            (runner,) = self._runners_by_name.values()
            try:
                return await runner.deliver(saga_id, reply, continue_in=continue_in)
            except SagaTypeMismatchError as mismatch:
                raise _unbound(saga_id, mismatch.stored) from None
        state = await self._storage.load_saga_state(saga_id)
        runner = self._runners_by_name.get(state.name)
        if runner is None:
            raise _unbound(saga_id, state.name)
        return await runner.deliver(saga_id, reply, continue_in=continue_in)


def _unbound(saga_id: uuid.UUID, name: str) -> SagaNotBoundError:
    return SagaNotBoundError(
        f"saga {saga_id} is a {name}, which no binding in this mediator's "
        f"sagas_mapper runs; bind its context type to it."
    )
