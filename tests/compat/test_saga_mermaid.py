"""python-cqrs `examples/saga_mermaid.py`: Mermaid diagrams of a saga, with and without a fallback.

The diagrams are drawn differently from python-cqrs's (see the migration guide):
what is checked here is that its calls work on a saga instance and every step is drawn.
"""

from __future__ import annotations

import dataclasses

import cqrs
from cqrs.response import Response
from cqrs.saga.fallback import Fallback
from cqrs.saga.mermaid import SagaMermaid
from cqrs.saga.models import SagaContext
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult


@dataclasses.dataclass
class OrderContext(SagaContext):
    order_id: str
    items: list[str] = dataclasses.field(default_factory=list[str])


class ReserveInventoryResponse(Response):
    reservation_id: str


class ReserveInventoryStep(SagaStepHandler[OrderContext, ReserveInventoryResponse]):
    async def act(
        self, context: OrderContext
    ) -> SagaStepResult[OrderContext, ReserveInventoryResponse]:
        return self._generate_step_result(ReserveInventoryResponse(reservation_id="r1"))

    async def compensate(self, context: OrderContext) -> None:
        pass


class ReserveInventoryFallbackStep(ReserveInventoryStep):
    pass


class ProcessPaymentStep(SagaStepHandler[OrderContext, Response]):
    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, Response]:
        return self._generate_step_result(Response())


class OrderSaga(Saga[OrderContext]):
    steps = [ReserveInventoryStep, ProcessPaymentStep]


class OrderSagaWithFallback(Saga[OrderContext]):
    steps = [
        Fallback(step=ReserveInventoryStep, fallback=ReserveInventoryFallbackStep),
        ProcessPaymentStep,
    ]


def test_a_saga_instance_is_drawn_step_by_step() -> None:
    generator = SagaMermaid(OrderSaga())

    sequence = generator.sequence()
    classes = generator.class_diagram()

    assert sequence.startswith("sequenceDiagram\n")
    assert sequence.index("ReserveInventoryStep: act") < sequence.index("ProcessPaymentStep: act")
    assert classes.startswith("classDiagram\n")
    assert "class OrderContext" in classes
    assert "class ReserveInventoryResponse" in classes


def test_a_fallback_is_drawn_with_both_steps() -> None:
    sequence = cqrs.SagaMermaid(OrderSagaWithFallback()).sequence()

    assert "participant ReserveInventoryFallbackStep" in sequence
    assert "ReserveInventoryFallbackStep: act(context)" in sequence
