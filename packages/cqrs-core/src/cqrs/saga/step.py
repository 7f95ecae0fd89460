"""Saga steps: an `act` that does something and a `compensate` that undoes it.

Steps take their dependencies in `__init__` (resolved by the DI container),
share data through the context, and return `self._generate_step_result(...)`
from `act`. Events a step records in `events` are emitted by the saga
mediator once the step is recorded: domain events to their handlers,
notification events to the message broker.

>>> import dataclasses
>>> from cqrs.response import Response
>>> from cqrs.saga.models import SagaContext
>>> @dataclasses.dataclass
... class Ctx(SagaContext):
...     charged: bool = False
>>> class Charge(SagaStepHandler[Ctx, Response]):
...     async def act(self, context: Ctx) -> SagaStepResult[Ctx, Response]:
...         context.charged = True
...         return self._generate_step_result(Response())
...     async def compensate(self, context: Ctx) -> None:
...         context.charged = False
"""

from __future__ import annotations

import abc
import dataclasses
import typing

from typing_extensions import TypeVar

from cqrs.events.event_handler import EventSource
from cqrs.saga.models import ContextT

__all__ = ("SagaStepHandler", "SagaStepResult", "ContextT", "StepResponseT", "Resp")

StepResponseT = TypeVar("StepResponseT", default=typing.Any)
#: python-cqrs's name for `StepResponseT`.
Resp = StepResponseT


@dataclasses.dataclass(frozen=True)
class SagaStepResult(typing.Generic[ContextT, StepResponseT]):
    """What one completed step produced; `mediator.stream` yields one per step."""

    response: StepResponseT
    step_type: type[SagaStepHandler[typing.Any, typing.Any]]


class SagaStepHandler(EventSource, abc.ABC, typing.Generic[ContextT, StepResponseT]):
    """One step of a saga."""

    @abc.abstractmethod
    async def act(self, context: ContextT) -> SagaStepResult[ContextT, StepResponseT]:
        """Do the step's work, updating `context`; raise to fail the saga."""

    async def compensate(self, context: ContextT) -> None:
        """Undo `act` (it completed); must be safe to run again after a crash."""

    def _generate_step_result(
        self, response: StepResponseT
    ) -> SagaStepResult[ContextT, StepResponseT]:
        """Wrap `response` as this step's result."""
        return SagaStepResult(response=response, step_type=type(self))
