"""`Saga`: an ordered list of steps, checked when the class is defined.

>>> import dataclasses
>>> from cqrs.saga.models import SagaContext
>>> from cqrs.saga.step import SagaStepHandler, SagaStepResult
>>> @dataclasses.dataclass
... class Ctx(SagaContext):
...     pass
>>> class Reserve(SagaStepHandler[Ctx, None]):
...     async def act(self, context: Ctx) -> SagaStepResult[Ctx, None]:
...         return self._generate_step_result(None)
>>> class OrderSaga(Saga[Ctx]):
...     steps = [Reserve]
>>> [step.name for step in OrderSaga.step_definitions()]
['Reserve']
"""

from __future__ import annotations

import dataclasses
import typing
import uuid

from cqrs.exceptions import ConfigurationError
from cqrs.saga.fallback import Fallback
from cqrs.saga.messaging import MessagingStep
from cqrs.saga.step import ContextT, SagaStepHandler
from cqrs.saga.storage.protocol import ISagaStorage

if typing.TYPE_CHECKING:
    from cqrs.saga.transaction import SagaTransaction

__all__ = ("Saga", "SagaStep", "SagaDefinitionError")

StepHandlerType = type[SagaStepHandler[typing.Any, typing.Any]]


class SagaDefinitionError(ConfigurationError):
    """A saga's `steps` cannot work: empty, not steps, or a step class listed twice."""


@dataclasses.dataclass(frozen=True)
class SagaStep:
    """One position of a saga: its handler class and, optionally, a fallback.

    `name` is the step's name in the log (its primary handler's class name);
    `handler_types` and `handler_names` the classes that may act at this
    position, the handler first, then its fallback.
    """

    position: int
    handler: StepHandlerType
    fallback: Fallback | None = None

    # Derived once: the engine reads them on every step.
    name: str = dataclasses.field(init=False)
    handler_types: tuple[StepHandlerType, ...] = dataclasses.field(init=False)
    handler_names: tuple[str, ...] = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        types = (self.handler,) if self.fallback is None else (self.handler, self.fallback.fallback)
        object.__setattr__(self, "name", self.handler.__name__)
        object.__setattr__(self, "handler_types", types)
        object.__setattr__(self, "handler_names", tuple(t.__name__ for t in types))


class Saga(typing.Generic[ContextT]):
    """Subclass with `steps = [StepA, Fallback(step=StepB, fallback=StepC), ...]`.

    Steps run in order; when one fails, those that completed are compensated
    in reverse. A step class may appear once only, because the log names
    steps by class; a mistake raises `SagaDefinitionError` at class creation.
    """

    steps: typing.ClassVar[typing.Sequence[StepHandlerType | Fallback]] = ()
    _definitions: typing.ClassVar[tuple[SagaStep, ...]] = ()

    def __init_subclass__(cls, **kwargs: typing.Any) -> None:
        super().__init_subclass__(**kwargs)
        if "steps" in cls.__dict__:
            cls._definitions = _define(cls.__qualname__, cls.steps)

    @classmethod
    def step_definitions(cls) -> tuple[SagaStep, ...]:
        """The steps, in order, with their positions and fallbacks."""
        return cls._definitions

    @classmethod
    def saga_name(cls) -> str:
        """The name the saga is stored under."""
        return cls.__qualname__

    @property
    def steps_count(self) -> int:
        """How many steps the saga has."""
        return len(self._definitions)

    def transaction(
        self,
        context: ContextT,
        container: object | None,
        storage: ISagaStorage,
        saga_id: uuid.UUID | None = None,
        compensation_retry_count: int | None = None,
        compensation_retry_delay: float | None = None,
        compensation_retry_backoff: float | None = None,
    ) -> SagaTransaction[ContextT]:
        """Run this saga without a mediator, as python-cqrs did (see `SagaTransaction`).

        `container` builds the steps (a `di.Container`, any
        `cqrs.container.Container`, or `None`); the `compensation_retry_*`
        settings are python-cqrs's (see `CompensationPolicy.with_retry`).
        """
        # Imported here: the transaction runs on the engine, which imports this module.
        from cqrs.saga.transaction import SagaTransaction

        return SagaTransaction(
            type(self),
            context,
            container,
            storage,
            saga_id,
            compensation_retry_count,
            compensation_retry_delay,
            compensation_retry_backoff,
        )


def _define(
    saga_name: str, steps: typing.Sequence[StepHandlerType | Fallback]
) -> tuple[SagaStep, ...]:
    if not steps:
        raise SagaDefinitionError(
            f"{saga_name}.steps is empty; list at least one step. (python-cqrs completed "
            f"a saga without steps at once; here that is taken for a mistake: give the saga "
            f"its first step, or call what it stood for directly.)"
        )
    definitions: list[SagaStep] = []
    seen: set[str] = set()
    for position, item in enumerate(steps):
        if isinstance(item, Fallback):
            step = SagaStep(position, item.step, item)
            if any(issubclass(handler, MessagingStep) for handler in step.handler_types):
                raise SagaDefinitionError(
                    f"{saga_name}.steps[{position}] puts a messaging step in a Fallback; "
                    f"fallbacks are for local steps (a messaging step fails by its reply "
                    f"or timeout, which a fallback cannot retry safely)."
                )
        elif isinstance(item, type) and issubclass(item, SagaStepHandler):
            step = SagaStep(position, item)
        else:
            raise SagaDefinitionError(
                f"{saga_name}.steps[{position}] is {item!r}; list SagaStepHandler "
                f"subclasses or Fallback(step=..., fallback=...)."
            )
        for name in step.handler_names:
            if name in seen:
                raise SagaDefinitionError(
                    f"{saga_name} lists a step named {name} more than once; the log names "
                    f"steps by class name, so give each position a class of its own."
                )
            seen.add(name)
        definitions.append(step)
    return tuple(definitions)
