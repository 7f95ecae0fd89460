"""Saga data: the context, statuses and the step log.

The context is a dataclass subclass of `SagaContext`; it is persisted as a
snake_case JSON dict after every step, so everything in it must be
JSON-serialisable through pydantic (str, numbers, UUID, datetime, lists,
nested dataclasses...).

>>> import dataclasses
>>> @dataclasses.dataclass
... class OrderContext(SagaContext):
...     order_id: str
...     reservation_id: str | None = None
>>> OrderContext.from_dict(**OrderContext(order_id="o1").to_dict())
OrderContext(order_id='o1', reservation_id=None)
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import typing
import uuid

from typing_extensions import Self, TypeVar

from cqrs._message import DataclassSerializable

__all__ = (
    "SagaContext",
    "ContextT",
    "SagaStatus",
    "SagaStepAction",
    "SagaStepStatus",
    "SagaLogEntry",
    "SagaState",
    "SagaWait",
)


@dataclasses.dataclass
class SagaContext(DataclassSerializable):
    """Base of saga contexts: the data the steps share (subclass it as a dataclass).

    `from_dict` also takes the dict positionally, as python-cqrs's did
    (`OrderContext.from_dict(data)`), and `model_dump` is `to_dict`.
    """

    @classmethod
    def from_dict(
        cls, data: typing.Mapping[str, typing.Any] | None = None, /, **kwargs: typing.Any
    ) -> Self:
        """Build a context from `to_dict`'s output, as one dict or as keywords."""
        return super().from_dict(**(dict(data) if data is not None else {}), **kwargs)

    def model_dump(self) -> dict[str, typing.Any]:
        """The same as `to_dict` (python-cqrs's alias)."""
        return self.to_dict()


#: A saga's context type, as its steps and `Saga[...]` declare it.
ContextT = TypeVar("ContextT", bound=SagaContext)


class _ValueEnum(str, enum.Enum):
    """A string enum that prints as its value, as python-cqrs's did: `completed`."""

    def __str__(self) -> str:
        return self.value


class SagaStatus(_ValueEnum):
    """Where a saga is in its life.

    `pending` (created, no step ran) -> `running` -> `completed`; or, when a
    step fails, `compensating` -> `failed` (every completed step undone) or
    `compensation_failed` (a compensation kept failing; needs recovery or an
    operator). An operator may close any unfinished saga as `resolved` (the
    step log says who and why); nothing moves it on from there, recovery
    included.
    """

    PENDING = "pending"
    RUNNING = "running"
    COMPENSATING = "compensating"
    COMPLETED = "completed"
    FAILED = "failed"
    COMPENSATION_FAILED = "compensation_failed"
    RESOLVED = "resolved"

    @property
    def is_final(self) -> bool:
        """`completed`, `failed` and `resolved` never change again."""
        return self in (SagaStatus.COMPLETED, SagaStatus.FAILED, SagaStatus.RESOLVED)


class SagaStepAction(_ValueEnum):
    """What a log entry records: a step's `act` or its `compensate`, or an operator's
    `resolve` of the whole saga (its `step_name` is then the saga's name and its
    details say who resolved it and why)."""

    ACT = "act"
    COMPENSATE = "compensate"
    RESOLVE = "resolve"


class SagaStepStatus(_ValueEnum):
    """Outcome of one action of one step.

    `started` marks a command sent to another service (a messaging step) whose
    reply is awaited; `timed_out` one whose reply did not come in time, so
    its effect is unknown and the step is compensated like a completed one.
    `compensated` is python-cqrs's name, kept so code naming it runs; neither
    engine writes it: a compensation that succeeded is logged as action
    `compensate`, status `completed`.
    """

    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    COMPENSATED = "compensated"


@dataclasses.dataclass(frozen=True)
class SagaLogEntry:
    """One line of a saga's step log, read back in the order it was written."""

    saga_id: uuid.UUID
    step_name: str
    action: SagaStepAction
    status: SagaStepStatus
    timestamp: datetime.datetime
    details: str | None = None


@dataclasses.dataclass(frozen=True)
class SagaWait:
    """What a suspended saga waits for: a reply to the command one step sent.

    `action` says whether the command was the step's act or its compensation;
    `attempt` counts the sends of a compensation command (retried on timeout).
    """

    step_name: str
    action: SagaStepAction
    deadline: datetime.datetime
    attempt: int = 1


@dataclasses.dataclass(frozen=True)
class SagaState:
    """A saga as stored: its status, last context and version, and what it waits for.

    It unpacks as python-cqrs's `(status, context, version)` tuple did:
    `status, context, version = await storage.load_saga_state(saga_id)`.
    """

    saga_id: uuid.UUID
    name: str
    status: SagaStatus
    context: typing.Mapping[str, typing.Any]
    version: int
    recovery_attempts: int = 0
    error: str | None = None
    waiting: SagaWait | None = None
    #: The W3C `traceparent` of the span that last moved the saga on, when one was
    #: recording (`cqrs-core[otel]`): a pass that resumes the saga links to it.
    trace_context: str | None = None

    def __iter__(self) -> typing.Iterator[typing.Any]:
        return iter((self.status, self.context, self.version))
