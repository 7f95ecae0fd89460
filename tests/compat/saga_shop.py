"""The order saga of python-cqrs's saga examples, written the way they write it.

Shared by the saga test modules (loaded by this folder's conftest, as the
tests run with `--import-mode=importlib`).
"""

from __future__ import annotations

import dataclasses
import typing

import cqrs
from cqrs import container as cqrs_container
from cqrs.events.event import Event
from cqrs.response import Response
from cqrs.saga.models import SagaContext
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult


@dataclasses.dataclass
class OrderContext(SagaContext):
    order_id: str
    user_id: str
    items: list[str]
    total_amount: float
    shipping_address: str
    inventory_reservation_id: str | None = None
    payment_id: str | None = None
    shipment_id: str | None = None


class ReserveInventoryResponse(Response):
    reservation_id: str


class ProcessPaymentResponse(Response):
    payment_id: str


class ShipOrderResponse(Response):
    shipment_id: str


class InventoryReservedEvent(cqrs.Event, frozen=True):  # pyright: ignore[reportGeneralTypeIssues]
    order_id: str
    reservation_id: str


class PaymentProcessedEvent(cqrs.Event, frozen=True):  # pyright: ignore[reportGeneralTypeIssues]
    order_id: str
    payment_id: str


class Services:
    """Inventory, payments and shipping, remembering what they did."""

    def __init__(self, payment_limit: float = 1000.0) -> None:
        self.payment_limit = payment_limit
        self.calls: list[str] = []
        self.reserved: set[str] = set()
        self.charged: set[str] = set()
        self.shipped: set[str] = set()
        self.failing_shipments = False


class ReserveInventoryStep(SagaStepHandler[OrderContext, ReserveInventoryResponse]):
    def __init__(self, services: Services) -> None:
        self._services = services
        self._events: list[Event] = []

    @property
    def events(self) -> list[Event]:
        return self._events.copy()

    async def act(
        self, context: OrderContext
    ) -> SagaStepResult[OrderContext, ReserveInventoryResponse]:
        self._services.calls.append("reserve")
        reservation_id = f"reservation_{context.order_id}"
        self._services.reserved.add(reservation_id)
        context.inventory_reservation_id = reservation_id
        self._events.append(
            InventoryReservedEvent(order_id=context.order_id, reservation_id=reservation_id)
        )
        return self._generate_step_result(ReserveInventoryResponse(reservation_id=reservation_id))

    async def compensate(self, context: OrderContext) -> None:
        self._services.calls.append("release")
        if context.inventory_reservation_id:
            self._services.reserved.discard(context.inventory_reservation_id)


class ProcessPaymentStep(SagaStepHandler[OrderContext, ProcessPaymentResponse]):
    def __init__(self, services: Services) -> None:
        self._services = services
        self._events: list[Event] = []

    @property
    def events(self) -> list[Event]:
        return self._events.copy()

    async def act(
        self, context: OrderContext
    ) -> SagaStepResult[OrderContext, ProcessPaymentResponse]:
        self._services.calls.append("charge")
        if context.total_amount > self._services.payment_limit:
            raise ValueError(f"payment of {context.total_amount} exceeds the limit")
        payment_id = f"payment_{context.order_id}"
        self._services.charged.add(payment_id)
        context.payment_id = payment_id
        self._events.append(PaymentProcessedEvent(order_id=context.order_id, payment_id=payment_id))
        return self._generate_step_result(ProcessPaymentResponse(payment_id=payment_id))

    async def compensate(self, context: OrderContext) -> None:
        self._services.calls.append("refund")
        if context.payment_id:
            self._services.charged.discard(context.payment_id)


class ShipOrderStep(SagaStepHandler[OrderContext, ShipOrderResponse]):
    def __init__(self, services: Services) -> None:
        self._services = services

    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, ShipOrderResponse]:
        self._services.calls.append("ship")
        if self._services.failing_shipments:
            raise ValueError("Shipping service unavailable")
        shipment_id = f"shipment_{context.order_id}"
        self._services.shipped.add(shipment_id)
        context.shipment_id = shipment_id
        return self._generate_step_result(ShipOrderResponse(shipment_id=shipment_id))

    async def compensate(self, context: OrderContext) -> None:
        self._services.calls.append("cancel shipment")


class OrderSaga(Saga[OrderContext]):
    steps = [ReserveInventoryStep, ProcessPaymentStep, ShipOrderStep]


class SimpleContainer(cqrs_container.Container[typing.Any]):
    """A container of the application's own, as python-cqrs's examples write one."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._external_container: typing.Any = None

    @property
    def external_container(self) -> typing.Any:
        return self._external_container

    def attach_external_container(self, container: typing.Any) -> None:
        self._external_container = container

    async def resolve(self, type_: type[typing.Any]) -> typing.Any:
        if issubclass(type_, SagaStepHandler):
            # The shop's steps take the services in their constructor.
            step_type = typing.cast("typing.Callable[[object], object]", type_)
            return step_type(self._services)
        raise ValueError(f"Unknown type: {type_}")


def order(order_id: str = "order_1", total_amount: float = 99.99) -> OrderContext:
    return OrderContext(
        order_id=order_id,
        user_id="user_1",
        items=["item_1", "item_2"],
        total_amount=total_amount,
        shipping_address="1 Main St",
    )
