"""`SagaMermaid`: draw a `Saga` as Mermaid diagrams.

`sequence()` shows the saga calling each step's `act` in order, a fallback
taking over when its primary fails, and the compensation of the completed
steps, newest first, when a step fails; `class_diagram()` shows the saga, its
context, the steps, their fallbacks and responses. Paste either into any
Mermaid renderer (GitHub, GitLab, mkdocs).

>>> import dataclasses
>>> from cqrs.saga.fallback import Fallback
>>> from cqrs.saga.models import SagaContext
>>> from cqrs.saga.step import SagaStepHandler, SagaStepResult
>>> @dataclasses.dataclass
... class Ctx(SagaContext):
...     order_id: str
>>> class Reserve(SagaStepHandler[Ctx, None]):
...     async def act(self, context: Ctx) -> SagaStepResult[Ctx, None]:
...         return self._generate_step_result(None)
>>> class Ship(Reserve):
...     pass
>>> class ShipLater(Reserve):
...     pass
>>> class OrderSaga(Saga[Ctx]):
...     steps = [Reserve, Fallback(step=Ship, fallback=ShipLater)]
>>> print(SagaMermaid(OrderSaga).sequence())
sequenceDiagram
    participant OrderSaga
    participant Reserve
    participant Ship
    participant ShipLater
    OrderSaga->>Reserve: act(context)
    Reserve-->>OrderSaga: None
    OrderSaga->>Ship: act(context)
    alt Ship succeeds
        Ship-->>OrderSaga: None
    else Ship fails
        Ship--xOrderSaga: any exception
        Note over Ship,ShipLater: fallback for Ship
        OrderSaga->>ShipLater: act(context)
        ShipLater-->>OrderSaga: None
    end
    break a step fails
        Note over OrderSaga: compensate the steps that completed, newest first
        OrderSaga->>Reserve: compensate(context)
    end
"""

from __future__ import annotations

import typing

from cqrs._generics import generic_args
from cqrs._mermaid import (
    INDENT,
    Ids,
    class_block,
    class_fields,
    is_message_class,
    message_label,
    message_text,
)
from cqrs.exceptions import InvalidBindingError
from cqrs.saga.fallback import Fallback
from cqrs.saga.saga import Saga, SagaStep
from cqrs.saga.step import SagaStepHandler

__all__ = ("SagaMermaid",)

_SagaClass = type[Saga[typing.Any]]
_StepClass = type[SagaStepHandler[typing.Any, typing.Any]]

_CALL = "act(context)"
_UNDO = "compensate(context)"


class SagaMermaid:
    """Mermaid source for a `Saga` subclass (or an instance of one) with steps.

    Raises `InvalidBindingError` for anything else, including `Saga` itself.
    The last step is never compensated: once it acts, the saga has completed.
    """

    def __init__(self, saga: Saga[typing.Any] | _SagaClass) -> None:
        self._saga = _checked(saga)
        self._steps = self._saga.step_definitions()
        self._context = _context_type(self._saga)
        self._ids = Ids()
        self._ids.add(self._saga, self._saga.__name__)
        for handler in self._handlers():
            self._ids.add(handler, handler.__name__)
        for message_type in self._message_types():
            self._ids.add(message_type, message_type.__name__)

    def sequence(self) -> str:
        """A `sequenceDiagram`: each step acts in order; on a failure, undo in reverse."""
        saga = self._ids[self._saga]
        lines = [
            "sequenceDiagram",
            f"{INDENT}participant {saga}",
            *(f"{INDENT}participant {self._ids[handler]}" for handler in self._handlers()),
            *(line for step in self._steps for line in self._act_lines(step)),
            *self._compensation_lines(),
        ]
        return "\n".join(lines)

    def class_diagram(self) -> str:
        """A `classDiagram`: saga, context, steps with fallbacks, responses, relations."""
        lines = [
            "classDiagram",
            *class_block(self._ids[self._saga], ["<<saga>>"]),
            *(line for step in self._steps for line in self._step_classes(step)),
            *(line for kind in self._message_types() for line in self._message_class(kind)),
            *dict.fromkeys(self._step_edges()),
            *dict.fromkeys(self._dependency_edges()),
        ]
        return "\n".join(lines)

    # --- sequence diagram --------------------------------------------------------

    def _act_lines(self, step: SagaStep) -> list[str]:
        saga, primary = self._ids[self._saga], self._ids[step.handler]
        call = f"{INDENT}{saga}->>{primary}: {_CALL}"
        answer = f"{primary}-->>{saga}: {self._response_label(step.handler)}"
        if step.fallback is None:
            return [call, f"{INDENT}{answer}"]
        return [
            call,
            f"{INDENT}alt {primary} succeeds",
            f"{INDENT * 2}{answer}",
            *self._fallback_lines(step.fallback),
            f"{INDENT}end",
        ]

    def _fallback_lines(self, fallback: Fallback) -> list[str]:
        saga = self._ids[self._saga]
        primary, alternative = self._ids[fallback.step], self._ids[fallback.fallback]
        note = f"fallback for {primary}"
        failure = f"{primary} fails"
        if fallback.circuit_breaker is not None:
            note += f", circuit breaker {type(fallback.circuit_breaker).__name__}"
            failure += " or its circuit breaker is open"
        response = self._response_label(fallback.fallback)
        return [
            f"{INDENT}else {message_text(failure)}",
            f"{INDENT * 2}{primary}--x{saga}: {_failure_label(fallback)}",
            f"{INDENT * 2}Note over {primary},{alternative}: {message_text(note)}",
            f"{INDENT * 2}{saga}->>{alternative}: {_CALL}",
            f"{INDENT * 2}{alternative}-->>{saga}: {response}",
        ]

    def _compensation_lines(self) -> list[str]:
        # A failing step is not compensated, so the last step never is.
        completed = self._steps[:-1]
        if not completed:
            return []
        saga = self._ids[self._saga]
        return [
            f"{INDENT}break a step fails",
            f"{INDENT * 2}Note over {saga}: compensate the steps that completed, newest first",
            *(line for step in reversed(completed) for line in self._undo_lines(step)),
            f"{INDENT}end",
        ]

    def _undo_lines(self, step: SagaStep) -> list[str]:
        saga, primary = self._ids[self._saga], self._ids[step.handler]
        if step.fallback is None:
            return [f"{INDENT * 2}{saga}->>{primary}: {_UNDO}"]
        # Whichever of the two acted is the one compensated.
        alternative = self._ids[step.fallback.fallback]
        return [
            f"{INDENT * 2}alt {primary} acted",
            f"{INDENT * 3}{saga}->>{primary}: {_UNDO}",
            f"{INDENT * 2}else {alternative} acted",
            f"{INDENT * 3}{saga}->>{alternative}: {_UNDO}",
            f"{INDENT * 2}end",
        ]

    def _response_label(self, handler: _StepClass) -> str:
        return message_label(self._ids, _response_type(handler))

    # --- class diagram -----------------------------------------------------------

    def _step_classes(self, step: SagaStep) -> list[str]:
        members = [f"+{_CALL}", f"+{_UNDO}"]
        lines = class_block(self._ids[step.handler], members)
        if step.fallback is not None:
            lines += class_block(self._ids[step.fallback.fallback], ["<<fallback>>", *members])
        return lines

    def _message_class(self, message: type[object]) -> list[str]:
        members = [f"+{field}: {label}" for field, label in class_fields(message)]
        return class_block(self._ids[message], members)

    def _step_edges(self) -> list[str]:
        saga = self._ids[self._saga]
        edges: list[str] = []
        for step in self._steps:
            primary = self._ids[step.handler]
            edges.append(f"{INDENT}{saga} --> {primary} : step {step.position + 1}")
            if step.fallback is not None:
                alternative = self._ids[step.fallback.fallback]
                edges.append(f"{INDENT}{primary} --> {alternative} : fallback")
        return edges

    def _dependency_edges(self) -> list[str]:
        edges: list[str] = []
        if is_message_class(self._context):
            context = self._ids[self._context]
            edges.append(f"{INDENT}{self._ids[self._saga]} ..> {context} : context")
            edges += [f"{INDENT}{self._ids[h]} ..> {context} : context" for h in self._handlers()]
        for handler in self._handlers():
            response = _response_type(handler)
            if is_message_class(response):
                edges.append(f"{INDENT}{self._ids[handler]} ..> {self._ids[response]} : returns")
        return edges

    # --- shared ------------------------------------------------------------------

    def _handlers(self) -> list[_StepClass]:
        """Every step class, each primary followed by its fallback."""
        handlers: list[_StepClass] = []
        for step in self._steps:
            handlers.append(step.handler)
            if step.fallback is not None:
                handlers.append(step.fallback.fallback)
        return handlers

    def _message_types(self) -> list[type[object]]:
        candidates = [self._context, *(_response_type(h) for h in self._handlers())]
        return list(dict.fromkeys(kind for kind in candidates if is_message_class(kind)))


def _checked(saga: object) -> _SagaClass:
    saga_class = saga if isinstance(saga, type) else type(saga)
    if issubclass(saga_class, Saga):
        checked = typing.cast("_SagaClass", saga_class)
        if checked.step_definitions():
            return checked
    raise InvalidBindingError(
        "SagaMermaid takes a Saga subclass that lists steps, or an instance of one, "
        f"e.g. SagaMermaid(OrderSaga); got {saga!r}."
    )


def _context_type(saga: _SagaClass) -> object:
    args = generic_args(saga, Saga) or ()
    return args[0] if args else None


def _response_type(handler: _StepClass) -> object:
    # A step that does not parametrise SagaStepHandler is drawn with a placeholder.
    args = generic_args(handler, SagaStepHandler) or ()
    return args[1] if len(args) > 1 else "result"


def _failure_label(fallback: Fallback) -> str:
    if not fallback.failure_exceptions:
        return "any exception"
    return message_text(" or ".join(exc.__name__ for exc in fallback.failure_exceptions))
