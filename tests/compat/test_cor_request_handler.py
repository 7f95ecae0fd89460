"""python-cqrs `examples/cor_request_handler.py`: a chain of responsibility of payment handlers."""

from __future__ import annotations

import typing

import di

import cqrs
from cqrs.events.event import Event
from cqrs.requests import bootstrap
from cqrs.requests.cor_request_handler import CORRequestHandler


class ProcessPaymentCommand(cqrs.Request):
    amount: float
    payment_method: str
    user_id: str


class PaymentResult(cqrs.Response):
    success: bool
    transaction_id: str | None = None
    message: str = ""


class PaymentProcessedEvent(cqrs.DomainEvent, frozen=True):  # pyright: ignore[reportGeneralTypeIssues]
    transaction_id: str


PROCESSED: list[str] = []


class MethodHandler(CORRequestHandler[ProcessPaymentCommand, PaymentResult]):
    method = ""

    def __init__(self) -> None:
        super().__init__()
        self._events: typing.List[Event] = []  # noqa: UP006 - python-cqrs's spelling

    @property
    def events(self) -> typing.List[Event]:  # noqa: UP006
        return self._events.copy()

    async def handle(self, request: ProcessPaymentCommand) -> PaymentResult | None:
        if request.payment_method == self.method:
            transaction_id = f"{self.method}-{request.user_id}"
            self._events.append(PaymentProcessedEvent(transaction_id=transaction_id))
            return PaymentResult(success=True, transaction_id=transaction_id)
        return await self.next(request)


class CreditCardPaymentHandler(MethodHandler):
    method = "credit_card"


class PayPalPaymentHandler(MethodHandler):
    method = "paypal"


class DefaultPaymentHandler(CORRequestHandler[ProcessPaymentCommand, PaymentResult]):
    @property
    def events(self) -> typing.List[Event]:  # noqa: UP006
        return []

    async def handle(self, request: ProcessPaymentCommand) -> PaymentResult | None:
        return PaymentResult(success=False, message=f"unsupported: {request.payment_method}")


class RecordPayment(cqrs.EventHandler[PaymentProcessedEvent]):
    async def handle(self, event: PaymentProcessedEvent) -> None:
        PROCESSED.append(event.transaction_id)


def payment_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(
        ProcessPaymentCommand,
        [CreditCardPaymentHandler, PayPalPaymentHandler, DefaultPaymentHandler],
    )


def mediator() -> cqrs.RequestMediator:
    return bootstrap.bootstrap(
        di_container=di.Container(),
        commands_mapper=payment_mapper,
        domain_events_mapper=lambda mapper: mapper.bind(PaymentProcessedEvent, RecordPayment),
    )


def pay(method: str) -> ProcessPaymentCommand:
    return ProcessPaymentCommand(amount=10.0, payment_method=method, user_id="u1")


async def test_the_first_link_that_can_handles_it_and_its_events_are_emitted() -> None:
    PROCESSED.clear()

    by_card = await mediator().send(pay("credit_card"))
    by_paypal = await mediator().send(pay("paypal"))

    assert (by_card.success, by_card.transaction_id) == (True, "credit_card-u1")
    assert (by_paypal.success, by_paypal.transaction_id) == (True, "paypal-u1")
    assert PROCESSED == ["credit_card-u1", "paypal-u1"]


async def test_the_last_link_is_the_fallback() -> None:
    result = await mediator().send(pay("cash"))

    assert (result.success, result.message) == (False, "unsupported: cash")
