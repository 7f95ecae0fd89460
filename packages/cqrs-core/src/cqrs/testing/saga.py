"""`SagaTestHarness`: unit-test a saga without a broker or a database.

Give it a context, replies and failures; read back the commands the saga
sent, what it compensated and how it ended. Everything runs on the real
engine over `MemorySagaStorage`, with a `FakeClock` for timeouts.

>>> import asyncio, dataclasses
>>> from cqrs.saga.models import SagaContext
>>> from cqrs.saga.saga import Saga
>>> from cqrs.saga.step import SagaStepHandler, SagaStepResult
>>> @dataclasses.dataclass
... class TripContext(SagaContext):
...     booked: bool = False
>>> class BookHotel(SagaStepHandler[TripContext, None]):
...     async def act(self, context: TripContext) -> SagaStepResult[TripContext, None]:
...         context.booked = True
...         return self._generate_step_result(None)
...     async def compensate(self, context: TripContext) -> None:
...         context.booked = False
>>> class PayTrip(SagaStepHandler[TripContext, None]):
...     async def act(self, context: TripContext) -> SagaStepResult[TripContext, None]:
...         return self._generate_step_result(None)
>>> class TripSaga(Saga[TripContext]):
...     steps = [BookHotel, PayTrip]
>>> harness = SagaTestHarness(TripSaga).fail(PayTrip)
>>> outcome = asyncio.run(harness.start(TripContext()))
>>> outcome.status.value, outcome.acted, outcome.compensated, outcome.context.booked
('failed', ['BookHotel'], ['BookHotel'], False)
"""

from __future__ import annotations

import collections
import dataclasses
import typing
import uuid

from cqrs.container.protocol import Container
from cqrs.container.resolve import as_container
from cqrs.events.event import NotificationEvent
from cqrs.message_brokers.protocol import Message
from cqrs.saga.errors import SagaError
from cqrs.saga.execution import CompensationPolicy, SagaRunner
from cqrs.saga.models import SagaContext, SagaLogEntry, SagaStatus, SagaStepAction, SagaStepStatus
from cqrs.saga.saga import Saga
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.testing.clock import FakeClock

__all__ = ("SagaTestHarness", "SagaOutcome", "InjectedFailure", "HarnessError")

ContextT = typing.TypeVar("ContextT", bound=SagaContext)

# Compensations fail for good at once, without sleeping: tests opt into retries.
NO_RETRIES: typing.Final = CompensationPolicy(attempts=1, initial_delay=0.0)

StepMethod = typing.Literal[
    "act", "compensate", "command", "on_reply", "compensation_command", "on_compensation_reply"
]


class InjectedFailure(Exception):
    """The default error `SagaTestHarness.fail` makes a step raise."""


class HarnessError(SagaError, AssertionError):
    """The test asked for something the saga's state does not allow."""


@dataclasses.dataclass(frozen=True)
class SagaOutcome(typing.Generic[ContextT]):
    """Where a saga stands after a pass of the harness."""

    saga_id: uuid.UUID
    status: SagaStatus
    context: ContextT
    #: Handlers whose act completed, in order.
    acted: list[str]
    #: Handlers whose compensation completed, in order.
    compensated: list[str]
    #: Every command this saga sent through the outbox so far, in order.
    commands: list[Message]
    #: The step whose reply the saga waits for, or `None`.
    waiting_for: str | None
    #: The stored error that failed the saga, if any.
    error: str | None
    #: What the pass raised (the failing step's error), if anything.
    raised: BaseException | None
    history: list[SagaLogEntry]

    def command_names(self) -> list[str]:
        """The event names of `commands`, in order."""
        return [message.message_name for message in self.commands]


class SagaTestHarness(typing.Generic[ContextT]):
    """Runs one saga class on in-memory ports with injectable failures."""

    def __init__(
        self,
        saga: type[Saga[ContextT]],
        *,
        container: object | None = None,
        compensation: CompensationPolicy = NO_RETRIES,
        clock: FakeClock | None = None,
    ) -> None:
        self.clock: FakeClock = clock or FakeClock()
        self.storage: MemorySagaStorage = MemorySagaStorage(clock=self.clock)
        self._faults = _FaultInjector(as_container(container))
        self.runner: SagaRunner = SagaRunner(
            saga, self._faults, self.storage, compensation=compensation, clock=self.clock
        )
        self._commands: dict[uuid.UUID, list[Message]] = collections.defaultdict(list)

    def fail(
        self,
        step: type[typing.Any],
        error: BaseException | None = None,
        *,
        on: StepMethod = "act",
        times: int = 1,
    ) -> SagaTestHarness[ContextT]:
        """Make `step`'s method `on` raise `error` the next `times` calls; chainable."""
        self._faults.add(step, on, error or InjectedFailure(f"{step.__name__}.{on} failed"), times)
        return self

    async def start(
        self, context: ContextT, saga_id: uuid.UUID | None = None
    ) -> SagaOutcome[ContextT]:
        """Start (or resume) the saga on `context` and run it as far as it goes."""
        saga_id = saga_id or uuid.uuid4()
        return await self._pass(saga_id, lambda: _drain(self.runner.stream(context, saga_id)))

    async def reply(
        self, saga_id: uuid.UUID, reply: NotificationEvent[typing.Any]
    ) -> SagaOutcome[ContextT]:
        """Deliver `reply` to the saga, as the event side would, and run it on."""

        async def deliver() -> None:
            await self.runner.deliver(saga_id, reply)

        return await self._pass(saga_id, deliver)

    async def time_out(self, saga_id: uuid.UUID) -> SagaOutcome[ContextT]:
        """Move the clock to the deadline the saga waits for, and let recovery act on it."""
        waiting = (await self.storage.load_saga_state(saga_id)).waiting
        if waiting is None:
            raise HarnessError(f"saga {saga_id} waits for no reply, so nothing can time out")
        self.clock.now = max(self.clock.now, waiting.deadline)
        return await self.recover(saga_id)

    async def recover(self, saga_id: uuid.UUID) -> SagaOutcome[ContextT]:
        """Resume the saga from storage, as the recovery worker would."""
        return await self._pass(saga_id, lambda: _drain(self.runner.resume(saga_id)))

    async def outcome(
        self, saga_id: uuid.UUID, raised: BaseException | None = None
    ) -> SagaOutcome[ContextT]:
        """The saga's current state, read from storage."""
        state = await self.storage.load_saga_state(saga_id)
        history = await self.storage.get_step_history(saga_id)
        build_context = typing.cast(
            "typing.Callable[[typing.Mapping[str, typing.Any]], ContextT]",
            self.runner.build_context,
        )
        return SagaOutcome(
            saga_id=saga_id,
            status=state.status,
            context=build_context(state.context),
            acted=_names(history, SagaStepAction.ACT),
            compensated=_names(history, SagaStepAction.COMPENSATE),
            commands=list(self._commands[saga_id]),
            waiting_for=state.waiting.step_name if state.waiting else None,
            error=state.error,
            raised=raised,
            history=history,
        )

    async def _pass(
        self, saga_id: uuid.UUID, run: typing.Callable[[], typing.Awaitable[None]]
    ) -> SagaOutcome[ContextT]:
        sent_before = len(self.storage.outbox.messages())
        raised: BaseException | None = None
        try:
            await run()
        except Exception as exc:
            raised = exc
        self._commands[saga_id].extend(self.storage.outbox.messages()[sent_before:])
        return await self.outcome(saga_id, raised)


async def _drain(results: typing.AsyncIterator[object]) -> None:
    async for _ in results:
        pass


def _names(history: list[SagaLogEntry], action: SagaStepAction) -> list[str]:
    return [
        entry.step_name
        for entry in history
        if entry.action is action and entry.status is SagaStepStatus.COMPLETED
    ]


class _FaultInjector:
    """A container that makes chosen step methods raise, a set number of times."""

    def __init__(self, inner: Container) -> None:
        self._inner = inner
        self._faults: dict[tuple[type[typing.Any], str], list[BaseException]] = {}

    def add(self, step: type[typing.Any], method: str, error: BaseException, times: int) -> None:
        if not callable(getattr(step, method, None)):
            raise HarnessError(f"{step.__qualname__} has no method {method!r} to fail")
        self._faults.setdefault((step, method), []).extend([error] * times)

    async def resolve(self, dependency_type: type[typing.Any]) -> typing.Any:
        instance = await self._inner.resolve(dependency_type)
        for (step, method), errors in self._faults.items():
            if step is dependency_type and errors:
                # An instance attribute shadows the class's method for this object only.
                setattr(instance, method, _failing(getattr(instance, method), errors))
        return instance


def _failing(
    method: typing.Callable[..., typing.Awaitable[typing.Any]], errors: list[BaseException]
) -> typing.Callable[..., typing.Awaitable[typing.Any]]:
    async def fail_or_call(*args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        if errors:
            raise errors.pop(0)
        return await method(*args, **kwargs)

    return fail_or_call
