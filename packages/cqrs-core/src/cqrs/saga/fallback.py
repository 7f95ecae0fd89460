"""`Fallback`: a saga step with an alternative that runs when the primary fails.

>>> import dataclasses
>>> from cqrs.saga.models import SagaContext
>>> from cqrs.saga.step import SagaStepHandler, SagaStepResult
>>> @dataclasses.dataclass
... class Ctx(SagaContext):
...     pass
>>> class CallCarrier(SagaStepHandler[Ctx, None]):
...     async def act(self, context: Ctx) -> SagaStepResult[Ctx, None]:
...         raise ConnectionError
>>> class QueueForCarrier(SagaStepHandler[Ctx, None]):
...     async def act(self, context: Ctx) -> SagaStepResult[Ctx, None]:
...         return self._generate_step_result(None)
>>> step = Fallback(step=CallCarrier, fallback=QueueForCarrier)
"""

from __future__ import annotations

import typing

from cqrs.circuit_breaker import ICircuitBreaker
from cqrs.fallback import HandlerFallback
from cqrs.saga.step import SagaStepHandler

__all__ = ("Fallback",)


class Fallback(HandlerFallback):
    """Runs `fallback`'s `act` when `step`'s raises (one of `failure_exceptions`, if
    given) or its `circuit_breaker` is open. Whichever acted is the one compensated.
    Both must share the context and response types.
    """

    handler_bases: typing.ClassVar[tuple[type[typing.Any], ...]] = (SagaStepHandler,)

    def __init__(
        self,
        step: type[SagaStepHandler[typing.Any, typing.Any]],
        fallback: type[SagaStepHandler[typing.Any, typing.Any]],
        circuit_breaker: ICircuitBreaker | None = None,
        failure_exceptions: tuple[type[BaseException], ...] = (),
    ) -> None:
        super().__init__(step, fallback, failure_exceptions, circuit_breaker)

    @property
    def step(self) -> type[SagaStepHandler[typing.Any, typing.Any]]:
        """The primary step."""
        return self.primary
