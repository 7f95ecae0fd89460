"""`Saga` definitions: steps in order, checked when the class is created; step results."""

from __future__ import annotations

import dataclasses
import typing

import pytest

import cqrs
from cqrs.saga.fallback import Fallback
from cqrs.saga.models import SagaContext
from cqrs.saga.saga import Saga, SagaDefinitionError, SagaStep
from cqrs.saga.step import SagaStepHandler, SagaStepResult


@dataclasses.dataclass
class TripContext(SagaContext):
    flight: str | None = None


@dataclasses.dataclass
class OtherContext(SagaContext):
    pass


class BookFlight(SagaStepHandler[TripContext, str]):
    async def act(self, context: TripContext) -> SagaStepResult[TripContext, str]:
        context.flight = "LH-400"
        return self._generate_step_result("LH-400")


class BookTrain(SagaStepHandler[TripContext, str]):
    async def act(self, context: TripContext) -> SagaStepResult[TripContext, str]:
        return self._generate_step_result("ICE-5")


class BookHotel(SagaStepHandler[TripContext, str]):
    async def act(self, context: TripContext) -> SagaStepResult[TripContext, str]:
        return self._generate_step_result("hotel")


class BookCar(SagaStepHandler[TripContext, int]):
    async def act(self, context: TripContext) -> SagaStepResult[TripContext, int]:
        return self._generate_step_result(1)


class NotifyOther(SagaStepHandler[OtherContext, str]):
    async def act(self, context: OtherContext) -> SagaStepResult[OtherContext, str]:
        return self._generate_step_result("sent")


class NotAStep:
    async def act(self, context: TripContext) -> None:
        return None


class TripSaga(Saga[TripContext]):
    steps = [BookFlight, Fallback(step=BookHotel, fallback=BookTrain)]


def test_step_definitions_keep_the_listed_order_and_positions() -> None:
    definitions = TripSaga.step_definitions()

    assert [(step.position, step.name) for step in definitions] == [
        (0, "BookFlight"),
        (1, "BookHotel"),
    ]
    assert definitions[0] == SagaStep(position=0, handler=BookFlight)


def test_a_fallback_position_is_named_after_its_primary_and_lists_both_handlers() -> None:
    position = TripSaga.step_definitions()[1]

    assert position.handler is BookHotel
    assert position.fallback is not None
    assert position.fallback.step is BookHotel
    assert position.fallback.fallback is BookTrain
    assert position.handler_names == ("BookHotel", "BookTrain")
    assert TripSaga.step_definitions()[0].handler_names == ("BookFlight",)


def test_saga_name_is_the_class_qualname() -> None:
    assert TripSaga.saga_name() == "TripSaga"


def test_a_step_class_listed_twice_raises_at_class_definition() -> None:
    with pytest.raises(SagaDefinitionError, match="BookFlight"):

        class TwiceSaga(Saga[TripContext]):  # pyright: ignore[reportUnusedClass]
            steps = [BookFlight, BookHotel, BookFlight]


def test_a_fallback_reusing_a_listed_step_raises_at_class_definition() -> None:
    with pytest.raises(SagaDefinitionError, match="BookTrain"):

        class ReusedSaga(Saga[TripContext]):  # pyright: ignore[reportUnusedClass]
            steps = [BookTrain, Fallback(step=BookHotel, fallback=BookTrain)]


@pytest.mark.parametrize("steps", [[], ()], ids=["empty list", "empty tuple"])
def test_an_empty_steps_list_raises_at_class_definition(steps: list[type]) -> None:
    with pytest.raises(SagaDefinitionError, match=r"EmptySaga\.steps is empty"):
        type("EmptySaga", (Saga,), {"steps": steps})


@pytest.mark.parametrize(
    "item",
    [NotAStep, BookFlight(), "BookFlight", None],
    ids=["plain class", "step instance", "string", "None"],
)
def test_a_non_step_raises_at_class_definition(item: typing.Any) -> None:
    with pytest.raises(SagaDefinitionError, match=r"steps\[1\]"):

        class BrokenSaga(Saga[TripContext]):  # pyright: ignore[reportUnusedClass]
            steps = [BookHotel, item]


def test_definition_errors_are_configuration_errors() -> None:
    assert issubclass(SagaDefinitionError, cqrs.ConfigurationError)


def test_a_subclass_without_steps_inherits_its_parents_definitions() -> None:
    class AuditedTripSaga(TripSaga):
        pass

    assert AuditedTripSaga.step_definitions() == TripSaga.step_definitions()
    assert AuditedTripSaga.saga_name().endswith("AuditedTripSaga")


def test_a_fallback_must_share_the_steps_types() -> None:
    with pytest.raises(cqrs.FallbackTypeMismatchError):
        Fallback(step=BookHotel, fallback=BookCar)
    with pytest.raises(cqrs.FallbackTypeMismatchError):
        Fallback(step=BookHotel, fallback=NotifyOther)


def test_a_fallback_of_non_steps_is_an_invalid_binding() -> None:
    with pytest.raises(cqrs.InvalidBindingError, match="fallback"):
        Fallback(step=BookHotel, fallback=NotAStep)  # type: ignore[arg-type]


async def test_generate_step_result_names_the_step_class() -> None:
    context = TripContext()

    result = await BookFlight().act(context)

    assert result == SagaStepResult(response="LH-400", step_type=BookFlight)
    assert context.flight == "LH-400"


async def test_the_default_compensate_does_nothing() -> None:
    context = TripContext(flight="LH-400")

    await BookFlight().compensate(context)

    assert context == TripContext(flight="LH-400")
