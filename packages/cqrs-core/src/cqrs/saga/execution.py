"""The saga engine: runs a saga's steps against its storage, compensating on failure.

Guarantees, whatever the crash point or concurrency:

* one worker at a time advances a saga (a lease, `claim`, plus a version
  that every write is fenced by), so two starts, two recoveries or two
  deliveries of one saga run each `act` at most once between them;
* every step transition is one atomic `record_step`: the log entry, the
  context, what the saga waits for and the commands it sends (staged in the
  outbox) are written together;
* a step failure is recorded together with the move to `compensating`, so no
  recovery can run the saga forward after it;
* completed steps are compensated once each, strictly in reverse, each
  retried with exponential backoff; one that keeps failing stops the
  compensation in `compensation_failed`, from which recovery carries on;
* a messaging step whose reply does not come in time is compensated as well;
* a step interrupted by a crash (its `act` started but not recorded done) is
  run again on recovery: write acts to be idempotent.

The lease is renewed before a step once half of it has passed, so a step
that takes less than half the lease (30 s by default) never loses it; give
slower steps a longer `lease`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import datetime
import itertools
import logging
import math
import time
import typing
import uuid

from cqrs._generics import generic_args
from cqrs.backoff import exponential_delays
from cqrs.clock import utc_now
from cqrs.container.protocol import Container
from cqrs.events.event import NotificationEvent
from cqrs.fallback import call_with_fallback
from cqrs.message_brokers.protocol import Message
from cqrs.outbox.repository import outbox_message
from cqrs.saga.errors import (
    SagaAlreadyExistsError,
    SagaConcurrencyError,
    SagaNotRetriableError,
    SagaStepTimeoutError,
    SagaTypeMismatchError,
)
from cqrs.saga.messaging import MessagingStep
from cqrs.saga.models import (
    SagaContext,
    SagaLogEntry,
    SagaState,
    SagaStatus,
    SagaStepAction,
    SagaStepStatus,
    SagaWait,
)
from cqrs.saga.saga import Saga, SagaDefinitionError, SagaStep
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.protocol import ISagaStorage, StoredTrace, claim_and_load
from cqrs.tracing import opentelemetry_installed, telemetry_recording

if typing.TYPE_CHECKING:
    from cqrs.telemetry.saga import SagaTelemetry

__all__ = (
    "CompensationPolicy",
    "SagaRunner",
    "EmitEvents",
    "ContinueIn",
    "ContextBuilder",
    "DEFAULT_COMPENSATION",
    "DEFAULT_LEASE",
)

logger: logging.Logger = logging.getLogger("cqrs.saga")

_Result = SagaStepResult[typing.Any, typing.Any]
_StepType = type[SagaStepHandler[typing.Any, typing.Any]]
_Reply = NotificationEvent[typing.Any]
#: Builds a saga's context from its stored dict (python-cqrs's `context_builder`).
ContextBuilder = typing.Callable[[typing.Mapping[str, typing.Any]], SagaContext]
#: Emits the events a local step recorded (see `SagaRunner`'s `emit`).
EmitEvents = typing.Callable[[typing.Sequence[object]], typing.Awaitable[None]]
#: Opens a transaction of the caller's for saga `id` and yields a storage joined to it
#: (see `SagaRunner.deliver`).
ContinueIn = typing.Callable[[uuid.UUID], contextlib.AbstractAsyncContextManager[ISagaStorage]]
# How one step's compensation went: undone, waiting for a reply, or given up.
_Outcome = typing.Literal["done", "waiting", "failed"]

ACT, COMPENSATE = SagaStepAction.ACT, SagaStepAction.COMPENSATE
STARTED, COMPLETED = SagaStepStatus.STARTED, SagaStepStatus.COMPLETED
FAILED, TIMED_OUT = SagaStepStatus.FAILED, SagaStepStatus.TIMED_OUT
# The saga statuses the hot path reads, as module constants: on Python 3.11 reading
# a member off an enum class costs as much as a small function call.
SAGA_PENDING, SAGA_RUNNING = SagaStatus.PENDING, SagaStatus.RUNNING
SAGA_COMPLETED: typing.Final = SagaStatus.COMPLETED
_FINAL_STATUSES: typing.Final = frozenset(status for status in SagaStatus if status.is_final)


@dataclasses.dataclass(frozen=True)
class CompensationPolicy:
    """How often and how patiently a failing compensation is retried.

    A messaging compensation is resent up to `attempts` times, each send
    waiting its step's `compensation_timeout` for a reply.
    """

    attempts: int = 3
    initial_delay: float = 0.1
    multiplier: float = 2.0
    max_delay: float = 5.0

    def with_retry(
        self,
        count: int | None = None,
        delay: float | None = None,
        backoff: float | None = None,
    ) -> CompensationPolicy:
        """This policy with python-cqrs's `compensation_retry_*` settings applied.

        `count` is the number of attempts, `delay` the first pause and
        `backoff` its multiplier; python-cqrs did not cap the pauses, so once
        any of them is given neither does this policy. All `None`: `self`.
        """
        if count is None and delay is None and backoff is None:
            return self
        return CompensationPolicy(
            attempts=self.attempts if count is None else count,
            initial_delay=self.initial_delay if delay is None else delay,
            multiplier=self.multiplier if backoff is None else backoff,
            max_delay=math.inf,
        )

    def delays(self) -> typing.Iterator[float]:
        """The pauses between attempts (one fewer than `attempts`)."""
        return exponential_delays(
            self.attempts,
            initial=self.initial_delay,
            multiplier=self.multiplier,
            maximum=self.max_delay,
        )


DEFAULT_COMPENSATION: typing.Final = CompensationPolicy()
DEFAULT_LEASE: typing.Final = datetime.timedelta(seconds=60)
# How long `deliver` keeps asking for a saga another worker is briefly holding.
DEFAULT_CLAIM_WAIT: typing.Final = datetime.timedelta(seconds=5)


class SagaRunner:
    """Runs sagas of one class; one runner serves any number of saga instances.

    `emit`, when given, gets the events each local step recorded in its
    `events`, once the step is recorded and before its result is yielded;
    an error it raises reaches the caller and leaves the saga where it is
    (the step stays done; recovery carries on from there).
    """

    def __init__(
        self,
        saga_type: type[Saga[typing.Any]],
        container: Container,
        storage: ISagaStorage,
        *,
        context_type: type[SagaContext] | ContextBuilder | None = None,
        compensation: CompensationPolicy = DEFAULT_COMPENSATION,
        lease: datetime.timedelta = DEFAULT_LEASE,
        claim_wait: datetime.timedelta = DEFAULT_CLAIM_WAIT,
        clock: typing.Callable[[], datetime.datetime] = utc_now,
        emit: EmitEvents | None = None,
    ) -> None:
        if not (isinstance(saga_type, type) and issubclass(saga_type, Saga)):
            raise SagaDefinitionError(f"{saga_type!r} is not a Saga subclass.")
        self.saga_type = saga_type
        self.saga_name: str = saga_type.saga_name()
        self.container = container
        self.storage = storage
        self.compensation = compensation
        self.lease = lease
        self.claim_wait = claim_wait
        self.clock = clock
        self.emit = emit
        self.telemetry: SagaTelemetry | None = _saga_telemetry(self.saga_name)
        self.steps: tuple[SagaStep, ...] = saga_type.step_definitions()
        if not self.steps:
            raise SagaDefinitionError(
                f"{saga_type.__qualname__} declares no steps; set `steps = [...]` on the class "
                f"(python-cqrs completed a saga without steps at once; here it is a mistake)."
            )
        self.build_context = _context_builder(context_type or _context_type_of(saga_type))
        # Owner tokens: unique per runner (random prefix) and per pass (counter),
        # without paying for a uuid4 on every pass.
        self._owner_prefix = f"{uuid.uuid4().hex}:"
        self._passes = itertools.count()
        # The positions of the messaging steps, precomputed: an ABC subclass
        # check costs more than a set lookup per step.
        self.messaging_positions: frozenset[int] = frozenset(
            step.position for step in self.steps if issubclass(step.handler, MessagingStep)
        )
        self._half_lease = lease.total_seconds() / 2
        self.handlers_by_name: dict[str, _StepType] = {}
        self.steps_by_name: dict[str, SagaStep] = {}
        for step in self.steps:
            for handler in step.handler_types:
                self.handlers_by_name[handler.__name__] = handler
                self.steps_by_name[handler.__name__] = step
            if issubclass(step.handler, MessagingStep) and not step.handler.replies:
                raise SagaDefinitionError(
                    f"{step.name} is a messaging step without `replies`; list the event "
                    f"names that answer its command."
                )

    async def stream(
        self, context: SagaContext, saga_id: uuid.UUID
    ) -> typing.AsyncGenerator[_Result, None]:
        """Start (or resume) saga `saga_id`; yield each step's result as it completes.

        A new saga runs on `context` itself; one that exists already resumes
        from its stored context; a finished one yields nothing. The pass ends
        when the saga finishes or waits for a messaging step's reply. Raises
        the failing step's error after compensating, and
        `SagaConcurrencyError` if another worker holds the saga.

        An exception thrown into the stream at a result (`athrow`, as a
        python-cqrs `saga.transaction()` block that raises does) fails the
        saga at its next step and compensates what was done, then comes back
        out; a saga the last step completed stays completed. Closing the
        stream early (`aclose`, or `break`) only stops it: recovery resumes.
        """
        run = _Run.new(self, saga_id, self._new_owner(), context)
        try:
            await self._create(run)
        except SagaAlreadyExistsError:
            async for result in self._resume(saga_id, type(context).from_dict):
                yield result
            return
        # A new saga, created already claimed: it can only go forward.
        try:
            # The status check saves a call once the last step completed the saga.
            while (
                run.status is not SAGA_COMPLETED
                and (result := await run.step_forward()) is not None
            ):
                try:
                    yield result
                except Exception as exc:
                    await run.abort(exc)
                    raise
        finally:
            if run.status not in _FINAL_STATUSES:  # finishing released it
                await self.storage.release(saga_id, run.owner)

    def on(self, storage: ISagaStorage) -> SagaRunner:
        """This runner, writing through `storage` instead: say, a storage joined to the
        caller's open transaction (see `start`)."""
        runner = copy.copy(self)
        runner.storage = storage
        return runner

    async def start(
        self, context: SagaContext, saga_id: uuid.UUID, *, hidden_until_commit: bool = False
    ) -> SagaStatus:
        """Create saga `saga_id` on `context` and run its first pass; its status then.

        The pass goes as far as the saga goes: to its end, or to a messaging
        step's reply it then waits for (delivered later by `deliver`). A step
        that fails now is compensated and recorded, not raised, as in
        `deliver`. On a runner `on` a storage joined to the caller's
        transaction, the saga, its first steps and the commands they stage
        commit, or roll back, with the caller's own writes: run local steps
        whose writes join that transaction too (their unit of work nested in
        the caller's). Raises `SagaAlreadyExistsError` for an id in use.

        `hidden_until_commit` says that no other worker can see the saga
        before the caller commits (this runner's storage is joined to the
        caller's open transaction): the saga is then created unclaimed and the
        pass neither claims nor releases it, as there is nobody to keep out.
        Once committed it is as a released saga is, so recovery and `deliver`
        take it up as usual.
        """
        run = _Run.new(self, saga_id, self._new_owner(), context)
        if hidden_until_commit:
            run.lease_renew_at = math.inf  # no claim to renew
            await self._create(run, claimed=False)
            await run.settled(run.forward())
            return run.status
        await self._create(run)
        try:
            await run.settled(run.forward())
        finally:
            await self._release(saga_id, run.owner, run)
        return run.status

    async def _create(self, run: _Run, *, claimed: bool = True) -> None:
        """Store the new saga of `run`, claimed by its owner unless not `claimed`."""
        await self.storage.create_saga(
            run.saga_id,
            self.saga_name,
            run.context.to_dict(),
            owner=run.owner if claimed else None,
            lease=self.lease if claimed else None,
            **run.trace(),
        )

    def resume(self, saga_id: uuid.UUID) -> typing.AsyncGenerator[_Result, None]:
        """Carry on stored saga `saga_id` from where it stands, as `stream` does.

        This is what recovery runs: forward after the last completed step,
        on through compensation, or into a timeout whose deadline has passed.
        """
        return self._resume(saga_id, self.build_context)

    async def run_stored(self, saga_id: uuid.UUID) -> SagaStatus:
        """`resume` to the end of the pass; the saga's status then (read from no storage:
        the pass knows it). Raises what `resume` raises."""
        ended: list[SagaStatus] = []
        async for _ in self._resume(saga_id, self.build_context, ended):
            pass
        return ended[0]

    async def _resume(
        self,
        saga_id: uuid.UUID,
        build_context: ContextBuilder | None,
        ended: list[SagaStatus] | None = None,
    ) -> typing.AsyncGenerator[_Result, None]:
        owner = self._new_owner()
        loaded = await claim_and_load(self.storage, saga_id, owner, self.lease)
        if loaded is None:
            raise SagaConcurrencyError(f"saga {saga_id} is being run by another worker")
        run: _Run | None = None
        try:
            run = _Run.load(self, saga_id, owner, build_context, *loaded)
            if run is not None:
                async for result in run.advance():
                    yield result
            if ended is not None:
                ended.append(loaded[0].status if run is None else run.status)
        finally:
            await self._release(saga_id, owner, run)

    async def _release(self, saga_id: uuid.UUID, owner: str, run: _Run | None) -> None:
        """Give the claim up at the end of a pass, unless the pass finished the saga: the
        write that did so released it already."""
        if run is None or run.status not in _FINAL_STATUSES:
            await self.storage.release(saga_id, owner)

    async def deliver(
        self, saga_id: uuid.UUID, reply: _Reply, *, continue_in: ContinueIn | None = None
    ) -> SagaState:
        """Hand `reply` to the step saga `saga_id` waits on, run the saga on, return its state.

        A reply the saga does not wait for (a duplicate, a late one, or a stray
        event name) changes nothing. A step that fails now is compensated and
        recorded, not raised: the reply was handled. Raises
        `SagaConcurrencyError` when another worker keeps the saga past
        `claim_wait`, so the caller can redeliver later.

        `continue_in(saga_id)`, when given, opens a transaction of the caller's
        and yields a storage joined to it: once the reply's step is recorded
        (committed on its own, so what follows starts from a durable point),
        the rest of the pass (the next steps, their writes and the saga's end)
        writes through that storage and commits with it, one transaction
        instead of one per step. Local steps whose own writes join that
        transaction (a unit of work nested in the caller's) commit with them.
        If the transaction fails, nothing of the rest is stored: the pass
        raises, gives its claim up, and the saga stands where the reply's
        write left it, for recovery to run on (as after a crash at that
        point; acts run again, as they must be idempotent anyway). Events
        the steps record are emitted after the commit. A reply that fails its
        step, or answers a compensation, goes on as without `continue_in`.
        """
        owner = self._new_owner()
        state, history = await self._claim_patiently(saga_id, owner)
        run: _Run | None = None
        unsettled = False
        try:
            run = _Run.load(self, saga_id, owner, self.build_context, state, history)
            if run is not None:
                if continue_in is None:
                    await run.settled(_drain(run.receive(reply)))  # the reply was handled
                else:
                    # Until the rest committed, the pass may have been rolled back to a
                    # state it does not know: give the claim up whatever it thinks.
                    unsettled = True
                    await run.settled(run.receive_continuing(reply, continue_in))
                    unsettled = False
        finally:
            await self._release(saga_id, owner, None if unsettled else run)
        # What the pass wrote, as the storage now holds it: no read-back.
        return state if run is None else run.state(state)

    async def retry(self, saga_id: uuid.UUID) -> SagaState:
        """Run stored saga `saga_id` on now, for an operator; return its state afterwards.

        The saga goes on as `resume` takes it: forward after its last completed
        step, into the timeout of a reply that is overdue, or on through its
        compensation (a `compensation_failed` saga tries its compensations
        again, with fresh attempts). A step that fails now is compensated and
        recorded, not raised. Raises `SagaConcurrencyError` at once while
        another worker holds the saga, and `SagaNotRetriableError`, running
        nothing, for a finished saga or one waiting for a reply within its
        deadline.
        """
        owner = self._new_owner()
        loaded = await claim_and_load(self.storage, saga_id, owner, self.lease)
        if loaded is None:
            raise SagaConcurrencyError(f"saga {saga_id} is being run by another worker")
        run: _Run | None = None
        try:
            run = _Run.load(self, saga_id, owner, self.build_context, *loaded)
            if run is None:
                status = loaded[0].status
                raise SagaNotRetriableError(
                    f"saga {saga_id} is {status.value}: a finished saga is not run again"
                )
            waiting = run.waiting
            if waiting is not None and self.clock() < waiting.deadline:
                raise SagaNotRetriableError(
                    f"saga {saga_id} waits for the reply to {waiting.step_name} until "
                    f"{waiting.deadline.isoformat()}; retry it after that, or resolve it"
                )
            await run.settled(_drain(run.advance()))
            return run.state(loaded[0])
        finally:
            await self._release(saga_id, owner, run)

    def _new_owner(self) -> str:
        return f"{self._owner_prefix}{next(self._passes)}"

    async def _claim_patiently(
        self, saga_id: uuid.UUID, owner: str
    ) -> tuple[SagaState, list[SagaLogEntry]]:
        deadline = time.monotonic() + self.claim_wait.total_seconds()
        delay = 0.005
        while (loaded := await claim_and_load(self.storage, saga_id, owner, self.lease)) is None:
            if time.monotonic() >= deadline:
                raise SagaConcurrencyError(
                    f"saga {saga_id} is held by another worker; deliver the reply again later"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
        return loaded


def _saga_telemetry(saga_name: str) -> SagaTelemetry | None:
    if not opentelemetry_installed():
        return None
    from cqrs.telemetry.saga import SagaTelemetry  # the `otel` extra: imported only with it

    return SagaTelemetry(saga_name)


class _StepOutcome(typing.Protocol):
    """Told, inside a step's span, the status the step recorded when not `completed`."""

    def __call__(self, status: SagaStepStatus, /) -> None: ...


def _ignore_outcome(status: SagaStepStatus) -> None:
    """The outcome sink of a step that is not observed."""


# No trace context to store (telemetry off): storages that predate it are called as before.
_NO_TRACE: typing.Final[StoredTrace] = {}
# Reusable: entering it returns the sink and does nothing else.
_UNOBSERVED: typing.Final = contextlib.nullcontext(typing.cast(_StepOutcome, _ignore_outcome))


def _context_builder(
    context_type: type[SagaContext] | ContextBuilder | None,
) -> ContextBuilder | None:
    """How to rebuild a context: the class's `from_dict`, or the given function."""
    if isinstance(context_type, type) and issubclass(context_type, SagaContext):
        return context_type.from_dict
    return typing.cast("ContextBuilder | None", context_type)


def _context_type_of(saga_type: type[Saga[typing.Any]]) -> type[SagaContext] | None:
    args = generic_args(saga_type, Saga)
    if args and isinstance(args[0], type) and issubclass(args[0], SagaContext):
        return args[0]
    return None


# Typed for the checker, yet a plain `set` call: `set[str]()` builds a generic alias each time.
_new_name_set = typing.cast("typing.Callable[[], set[str]]", set)


@dataclasses.dataclass(slots=True)
class _Run:
    """One worker's pass over one saga, from its stored (or just created) state."""

    runner: SagaRunner
    saga_id: uuid.UUID
    owner: str
    context: SagaContext
    version: int
    status: SagaStatus
    error: str | None = None
    waiting: SagaWait | None = None
    # Names of the handlers whose act completed, or timed out (their effect is
    # unknown), and of those whose compensation completed.
    acted: set[str] = dataclasses.field(default_factory=_new_name_set)
    compensated: set[str] = dataclasses.field(default_factory=_new_name_set)
    # Every step before this position has acted (see `step_forward`).
    cursor: int = 0
    lease_renew_at: float = 0.0
    # The step error this pass recorded (and compensated), if any.
    failure: BaseException | None = None
    # The saga's spans and metrics, when an SDK records them (decided once per pass).
    telemetry: SagaTelemetry | None = None
    # Links of this pass's spans: the span that last moved the saga on, in another trace.
    links: tuple[typing.Any, ...] = ()
    # The trace context this pass last stored, if any.
    trace_context: str | None = None

    @classmethod
    def new(cls, runner: SagaRunner, saga_id: uuid.UUID, owner: str, context: SagaContext) -> _Run:
        run = cls(runner, saga_id, owner, context, 1, SAGA_PENDING)
        run._leased()
        run._observing()
        return run

    @classmethod
    def load(
        cls,
        runner: SagaRunner,
        saga_id: uuid.UUID,
        owner: str,
        build_context: ContextBuilder | None,
        state: SagaState,
        history: list[SagaLogEntry],
    ) -> _Run | None:
        """The pass over a claimed saga of `state` and step log `history`; None when it
        is finished."""
        if state.name != runner.saga_name:
            raise SagaTypeMismatchError(saga_id, state.name, runner.saga_name)
        if state.status.is_final:
            return None
        if build_context is None:
            raise SagaDefinitionError(
                f"cannot rebuild the context of {runner.saga_name}: declare the saga as "
                f"Saga[YourContext] or pass context_type to SagaRunner."
            )
        run = cls(
            runner,
            saga_id,
            owner,
            build_context(state.context),
            state.version,
            state.status,
            state.error,
            state.waiting,
        )
        run._leased()
        run._observing()
        if run.telemetry is not None:
            run.links = run.telemetry.links_to(state.trace_context)
        failed = False
        for entry in history:
            if entry.action is ACT:
                if entry.status in (COMPLETED, TIMED_OUT):
                    run.acted.add(entry.step_name)
                failed = failed or entry.status in (FAILED, TIMED_OUT)
            elif entry.action is COMPENSATE and entry.status is COMPLETED:
                run.compensated.add(entry.step_name)
        if failed and run.status in (SagaStatus.PENDING, SagaStatus.RUNNING):
            # Only a storage that lost part of a write could get here; never go forward.
            run.status = SagaStatus.COMPENSATING
        return run

    @property
    def storage(self) -> ISagaStorage:
        return self.runner.storage

    async def settled(self, work: typing.Awaitable[None]) -> None:
        """Await this pass's `work`; a step failure it recorded is compensated and stored
        by then, and not raised. Anything else (storage, container) reaches the caller."""
        try:
            await work
        except Exception as exc:
            if exc is not self.failure:
                raise

    async def forward(self) -> None:
        """Go forward as far as the saga goes: to its end, or to a reply it waits for."""
        while self.status is not SAGA_COMPLETED and await self.step_forward() is not None:
            pass

    def state(self, loaded: SagaState) -> SagaState:
        """The saga's state as this pass left it, from the state it `loaded`."""
        return dataclasses.replace(
            loaded,
            status=self.status,
            context=self.context.to_dict(),
            version=self.version,
            error=self.error,
            waiting=self.waiting,
            trace_context=self.trace_context or loaded.trace_context,
        )

    # -- passes -------------------------------------------------------------

    async def advance(self) -> typing.AsyncIterator[_Result]:
        """Run the saga as far as it goes: forward, or through its compensation."""
        if self.waiting is not None:
            if self.runner.clock() < self.waiting.deadline:
                return  # still waiting for a reply, within its deadline
            await self._time_out(self.waiting)
            return
        if self.status in (SagaStatus.COMPENSATING, SagaStatus.COMPENSATION_FAILED):
            await self._compensate()
            return
        while (
            self.status is not SAGA_COMPLETED and (result := await self.step_forward()) is not None
        ):
            try:
                yield result
            except Exception as exc:
                await self.abort(exc)
                raise

    async def abort(self, error: Exception) -> None:
        """The caller failed between two steps: fail the next step with `error`, compensate.

        A completed saga has nothing left to undo and stays completed.
        """
        if self.status is SAGA_COMPLETED:
            return
        await self._fail(self.runner.steps[self.cursor].name, error)

    async def receive(self, reply: _Reply) -> typing.AsyncGenerator[_Result, None]:
        """Apply `reply` if the saga waits for it, then go on as far as it goes."""
        waiting = self.waiting
        if waiting is None or not self._expects(waiting, reply):
            logger.info(
                "saga %s ignored a %r reply: it waits for %s",
                self.saga_id,
                reply.event_name,
                "nothing" if waiting is None else f"{waiting.step_name} ({waiting.action.value})",
            )
            return
        handler = await self._resolve(waiting.step_name)
        assert isinstance(handler, MessagingStep)
        if waiting.action is COMPENSATE:
            await self._receive_compensation_reply(handler, waiting, reply)
            return
        try:
            with self._observed(waiting.step_name, ACT):
                result = await handler.on_reply(self.context, reply)
        except Exception as exc:
            await self._fail(waiting.step_name, exc)
            raise
        step = self.runner.steps_by_name[waiting.step_name]
        await self._record(waiting.step_name, ACT, COMPLETED, saga_status=self._status_after(step))
        self.acted.add(waiting.step_name)
        yield result
        while (
            self.status is not SAGA_COMPLETED and (result := await self.step_forward()) is not None
        ):
            yield result

    async def receive_continuing(self, reply: _Reply, continue_in: ContinueIn) -> None:
        """`receive`, with what follows the reply's own write run in `continue_in`'s
        transaction (see `SagaRunner.deliver`)."""
        waiting = self.waiting
        if waiting is None or waiting.action is not ACT or not self._expects(waiting, reply):
            await _drain(self.receive(reply))  # ignored, or a compensation's reply
            return
        replied = self.receive(reply)
        try:
            await anext(replied)  # the reply's step, recorded (a failure raises here)
        except StopAsyncIteration:
            return
        finally:
            await replied.aclose()
        if self.status is SAGA_COMPLETED:
            return
        runner = self.runner
        emitted: list[object] = []
        async with continue_in(self.saga_id) as storage:
            self.runner = runner.on(storage)
            if runner.emit is not None:
                self.runner.emit = _collect_into(emitted)
            try:
                await self.settled(self.forward())
            finally:
                self.runner = runner
        if emitted and runner.emit is not None:
            await runner.emit(emitted)

    # -- forward --------------------------------------------------------------

    async def step_forward(self) -> _Result | None:
        """Run the first step not acted yet and return its result.

        None once the saga has completed, or when the step was a messaging
        step that now waits for its reply. Going forward is calling this until
        it returns None: a loop rather than an async generator, as each
        generator layer costs the engine more per step than its own checks.
        """
        steps, acted = self.runner.steps, self.acted
        while self.cursor < len(steps) and not acted.isdisjoint(steps[self.cursor].handler_names):
            self.cursor += 1
        if self.cursor == len(steps):
            if self.status is not SAGA_COMPLETED:
                await self._finish(SAGA_COMPLETED)
            return None
        step = steps[self.cursor]
        if time.monotonic() >= self.lease_renew_at:
            await self._renew_lease()
        if step.position in self.runner.messaging_positions:
            await self._send(step)
            return None
        # A local step, the hot path: act, then the one write it needs.
        # Without telemetry neither a span (even an empty `with`) nor a trace context
        # (a `**` unpack makes the call build a dict) is paid for: each costs about as
        # much per step as the storage's clock.
        untraced = self.telemetry is None
        acted_name = step.name
        try:
            if untraced and step.fallback is None:
                handler = await self.runner.container.resolve(step.handler)
                result = await handler.act(self.context)
            else:
                with self._observed(step.name, ACT):
                    result, acted_name, handler = await self._act(step)
        except Exception as exc:
            await self._fail(step.name, exc)
            raise
        saga_status = self._status_after(step)
        if untraced:
            self.version = await self.runner.storage.record_step(
                self.saga_id,
                acted_name,
                ACT,
                COMPLETED,
                context=self.context.to_dict(),
                current_version=self.version,
                saga_status=saga_status,
            )
            if saga_status is not None:
                self.status = saga_status
        else:
            await self._record(acted_name, ACT, COMPLETED, saga_status=saga_status)
        acted.add(acted_name)
        self.cursor = step.position + 1
        emit = self.runner.emit
        if emit is not None:
            events = handler.events
            if events:
                await emit(events)
        return result

    async def _act(
        self, step: SagaStep
    ) -> tuple[_Result, str, SagaStepHandler[typing.Any, typing.Any]]:
        """Act with the step's handler, or its primary then fallback; return the result,
        who acted, and its handler."""
        fallback = step.fallback
        if fallback is None:
            return await self._act_with(step.handler)
        return await call_with_fallback(
            fallback.identifier,
            lambda: self._act_with(fallback.primary),
            lambda: self._act_with(fallback.fallback),
            fallback.failure_exceptions,
            fallback.circuit_breaker,
        )

    async def _act_with(
        self, handler_type: _StepType
    ) -> tuple[_Result, str, SagaStepHandler[typing.Any, typing.Any]]:
        handler = await self.runner.container.resolve(handler_type)
        return await handler.act(self.context), handler_type.__name__, handler

    async def _send(self, step: SagaStep) -> None:
        """Send a messaging step's command and record the saga as waiting, in one write."""
        with self._observed(step.name, ACT) as outcome:
            try:
                handler = typing.cast(
                    MessagingStep[typing.Any, typing.Any], await self._resolve(step.name)
                )
                command = await handler.command(self.context, self.saga_id)
                message = outbox_message(command, handler.partition_key(self.context, self.saga_id))
            except Exception as exc:
                failure = exc
                outcome(FAILED)
            else:
                failure = None
                wait = SagaWait(step.name, ACT, self.runner.clock() + handler.timeout)
                saga_status = SagaStatus.RUNNING if self.status is SagaStatus.PENDING else None
                # In the span: the command staged in the outbox carries its context.
                await self._record(
                    step.name, ACT, STARTED, saga_status=saga_status, wait=wait, messages=(message,)
                )
                outcome(STARTED)
        if failure is not None:
            await self._fail(step.name, failure)
            raise failure

    def _status_after(self, step: SagaStep) -> SagaStatus | None:
        if step is self.runner.steps[-1]:
            return SAGA_COMPLETED
        return SAGA_RUNNING if self.status is SAGA_PENDING else None

    async def _fail(self, step_name: str, exc: BaseException, *, timed_out: bool = False) -> None:
        """Record the failure and the move to compensating in one write, then compensate."""
        self.failure = exc
        self.error = _describe(exc)
        await self._record(
            step_name,
            ACT,
            TIMED_OUT if timed_out else FAILED,
            details=self.error,
            saga_status=SagaStatus.COMPENSATING,
            error=self.error,
        )
        if timed_out:
            self.acted.add(step_name)
        await self._compensate()

    async def _time_out(self, waiting: SagaWait) -> None:
        # The handler instance, not its class: a container may set its timeouts.
        handler = await self._resolve(waiting.step_name)
        assert isinstance(handler, MessagingStep)
        if waiting.action is COMPENSATE:
            await self._compensation_try_failed(
                handler, waiting, TIMED_OUT, f"no reply within {handler.compensation_timeout}"
            )
            return
        error = SagaStepTimeoutError(
            f"{waiting.step_name} got no reply within {handler.timeout}; its command may have been "
            f"carried out, so it is compensated too"
        )
        await self._fail(waiting.step_name, error, timed_out=True)
        raise error

    # -- compensation -----------------------------------------------------------

    async def _compensate(self) -> None:
        """Undo what was done, strictly in reverse; stop at a compensation that keeps failing."""
        if self.status is not SagaStatus.COMPENSATING:
            await self.storage.update_status(self.saga_id, SagaStatus.COMPENSATING)
            self.status = SagaStatus.COMPENSATING
        for name in reversed(self._done_in_order()):
            if name in self.compensated:
                continue
            if time.monotonic() >= self.lease_renew_at:
                await self._renew_lease()
            handler = await self._resolve(name)
            if isinstance(handler, MessagingStep):
                outcome = await self._send_compensation(handler, name, attempt=1)
            else:
                outcome = await self._compensate_locally(handler, name)
            if outcome == "waiting":
                return
            if outcome == "failed":
                await self._finish(SagaStatus.COMPENSATION_FAILED)
                return
        # The last compensation wrote `failed` itself (`_compensated`); with nothing
        # left to compensate, the saga ends here.
        if typing.cast(SagaStatus, self.status) is not SagaStatus.FAILED:
            await self._finish(SagaStatus.FAILED)

    def _done_in_order(self) -> list[str]:
        return [
            name for step in self.runner.steps for name in step.handler_names if name in self.acted
        ]

    async def _compensate_locally(
        self, handler: SagaStepHandler[typing.Any, typing.Any], name: str
    ) -> _Outcome:
        delays = self.runner.compensation.delays()
        while True:
            try:
                with self._observed(name, COMPENSATE):
                    await handler.compensate(self.context)
            except Exception as exc:
                await self._record(name, COMPENSATE, FAILED, details=_describe(exc))
                delay = next(delays, None)
                if delay is None:
                    return "failed"
                await asyncio.sleep(delay)
                continue
            return await self._compensated(name)

    async def _send_compensation(
        self,
        handler: MessagingStep[typing.Any, typing.Any],
        name: str,
        attempt: int,
        previous_try: tuple[SagaStepStatus, str] | None = None,
    ) -> _Outcome:
        """Send the compensation command, waiting for its reply if the step expects one.

        On a resend, `previous_try` (how the last send ended) is logged in the
        same write as the new send, so a crash cannot reset the attempt count.
        """
        with self._observed(name, COMPENSATE) as observed:
            outcome = await self._send_compensation_command(handler, name, attempt, previous_try)
            observed({"done": COMPLETED, "waiting": STARTED, "failed": FAILED}[outcome])
        return outcome

    async def _send_compensation_command(
        self,
        handler: MessagingStep[typing.Any, typing.Any],
        name: str,
        attempt: int,
        previous_try: tuple[SagaStepStatus, str] | None,
    ) -> _Outcome:
        try:
            command = await handler.compensation_command(self.context, self.saga_id)
            message = (
                None
                if command is None
                else outbox_message(command, handler.partition_key(self.context, self.saga_id))
            )
        except Exception as exc:
            # Building the command is local code: a bug there is not cured by resending.
            await self._log_previous_try(name, previous_try)
            await self._record(name, COMPENSATE, FAILED, details=_describe(exc))
            return "failed"
        if message is None or not handler.compensation_replies:
            await self._log_previous_try(name, previous_try)
            return await self._compensated(name, messages=() if message is None else (message,))
        wait = SagaWait(
            name, COMPENSATE, self.runner.clock() + handler.compensation_timeout, attempt
        )
        if previous_try is None:
            status, details = STARTED, None
        else:
            status, details = previous_try[0], f"{previous_try[1]}; sent again (attempt {attempt})"
        await self._record(
            name, COMPENSATE, status, details=details, wait=wait, messages=(message,)
        )
        return "waiting"

    async def _log_previous_try(
        self, name: str, previous_try: tuple[SagaStepStatus, str] | None
    ) -> None:
        if previous_try is not None:
            await self._record(name, COMPENSATE, previous_try[0], details=previous_try[1])

    async def _compensated(self, name: str, messages: typing.Sequence[Message] = ()) -> _Outcome:
        # The last compensation ends the saga in the same write, so no reader
        # sees a saga with nothing left to undo still `compensating`.
        last = set(self.acted) - self.compensated == {name}
        await self._record(
            name,
            COMPENSATE,
            COMPLETED,
            messages=messages,
            saga_status=SagaStatus.FAILED if last else None,
        )
        self.compensated.add(name)
        return "done"

    async def _receive_compensation_reply(
        self, handler: MessagingStep[typing.Any, typing.Any], waiting: SagaWait, reply: _Reply
    ) -> None:
        try:
            with self._observed(waiting.step_name, COMPENSATE):
                await handler.on_compensation_reply(self.context, reply)
        except Exception as exc:
            await self._compensation_try_failed(handler, waiting, FAILED, _describe(exc))
            return
        await self._compensated(waiting.step_name)
        await self._compensate()

    async def _compensation_try_failed(
        self,
        handler: MessagingStep[typing.Any, typing.Any],
        waiting: SagaWait,
        status: SagaStepStatus,
        details: str,
    ) -> None:
        """Resend the compensation command while attempts remain; else stop compensating."""
        if waiting.attempt >= self.runner.compensation.attempts:
            await self._record(waiting.step_name, COMPENSATE, status, details=details)
            await self._finish(SagaStatus.COMPENSATION_FAILED)
            return
        outcome = await self._send_compensation(
            handler, waiting.step_name, waiting.attempt + 1, previous_try=(status, details)
        )
        if outcome == "done":
            await self._compensate()
        elif outcome == "failed":
            await self._finish(SagaStatus.COMPENSATION_FAILED)

    async def _finish(self, status: SagaStatus) -> None:
        await self.storage.update_status(self.saga_id, status)
        self.status = status
        if self.telemetry is not None:
            self.telemetry.status(status)

    # -- plumbing ---------------------------------------------------------------

    def _expects(self, waiting: SagaWait, reply: _Reply) -> bool:
        handler_type = typing.cast(
            type[MessagingStep[typing.Any, typing.Any]],
            self.runner.handlers_by_name[waiting.step_name],
        )
        expected = (
            handler_type.replies if waiting.action is ACT else handler_type.compensation_replies
        )
        return reply.event_name in expected

    async def _resolve(self, name: str) -> SagaStepHandler[typing.Any, typing.Any]:
        return await self.runner.container.resolve(self.runner.handlers_by_name[name])

    async def _record(
        self,
        step_name: str,
        action: SagaStepAction,
        status: SagaStepStatus,
        *,
        details: str | None = None,
        saga_status: SagaStatus | None = None,
        error: str | None = None,
        wait: SagaWait | None = None,
        messages: typing.Sequence[Message] = (),
    ) -> None:
        self.version = await self.storage.record_step(
            self.saga_id,
            step_name,
            action,
            status,
            context=self.context.to_dict(),
            current_version=self.version,
            details=details,
            saga_status=saga_status,
            error=error,
            wait=wait,
            messages=messages,
            **self.trace(),
        )
        self._counted(step_name, action, status, saga_status)
        self.waiting = wait
        if saga_status is not None:
            self.status = saga_status

    def trace(self) -> StoredTrace:
        """The trace context to store with a write (none without telemetry), noted."""
        telemetry = self.telemetry
        if telemetry is None:
            return _NO_TRACE
        stored = telemetry.stored_context()
        self.trace_context = stored.get("trace_context", self.trace_context)
        return stored

    def _observed(
        self, step_name: str, action: SagaStepAction
    ) -> contextlib.AbstractContextManager[_StepOutcome]:
        """The span of one act or compensation of a step (nothing without telemetry)."""
        telemetry = self.telemetry
        if telemetry is None:
            return _UNOBSERVED
        return telemetry.step(self.saga_id, step_name, action, self.links)

    def _counted(
        self,
        step_name: str,
        action: SagaStepAction,
        status: SagaStepStatus,
        saga_status: SagaStatus | None,
    ) -> None:
        telemetry = self.telemetry
        if telemetry is not None:
            telemetry.transition(step_name, action, status, saga_status)

    def _observing(self) -> None:
        telemetry = self.runner.telemetry
        if telemetry is not None and telemetry_recording():
            self.telemetry = telemetry

    def _leased(self) -> None:
        # Renew once half the lease is gone: often enough to keep it, rarely enough
        # to cost nothing on short steps.
        self.lease_renew_at = time.monotonic() + self.runner._half_lease  # pyright: ignore[reportPrivateUsage]

    async def _renew_lease(self) -> None:
        if not await self.storage.claim(self.saga_id, self.owner, self.runner.lease):
            raise SagaConcurrencyError(f"saga {self.saga_id}: the lease was lost to another worker")
        self._leased()


def _collect_into(events: list[object]) -> EmitEvents:
    """An `emit` that keeps the events for later."""

    async def collect(recorded: typing.Sequence[object]) -> None:
        events.extend(recorded)

    return collect


async def _drain(results: typing.AsyncIterator[_Result]) -> None:
    async for _ in results:
        pass


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__qualname__}: {exc}"
