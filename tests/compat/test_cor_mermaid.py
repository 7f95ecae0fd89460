"""python-cqrs `examples/cor_mermaid.py`: Mermaid diagrams of a handler chain.

The diagrams are drawn differently from python-cqrs's (see the migration guide):
what is checked here is that its calls work and every link is drawn, in order.
"""

from __future__ import annotations

import cqrs
from cqrs.requests.cor_request_handler import CORRequestHandler
from cqrs.requests.mermaid import CoRMermaid


class ProcessPaymentCommand(cqrs.Request):
    payment_method: str


class PaymentResult(cqrs.Response):
    success: bool


class CreditCardHandler(CORRequestHandler[ProcessPaymentCommand, PaymentResult]):
    async def handle(self, request: ProcessPaymentCommand) -> PaymentResult | None:
        return await self.next(request)


class PayPalHandler(CreditCardHandler):
    pass


class DefaultPaymentHandler(CORRequestHandler[ProcessPaymentCommand, PaymentResult]):
    async def handle(self, request: ProcessPaymentCommand) -> PaymentResult | None:
        return PaymentResult(success=False)


HANDLERS = [CreditCardHandler, PayPalHandler, DefaultPaymentHandler]


def test_the_sequence_diagram_walks_the_chain_in_order() -> None:
    diagram = CoRMermaid(HANDLERS).sequence()

    assert diagram.startswith("sequenceDiagram\n")
    positions = [diagram.index(f"participant {handler.__name__}") for handler in HANDLERS]
    assert positions == sorted(positions)
    assert "CreditCardHandler->>PayPalHandler: next(request)" in diagram
    assert "PayPalHandler->>DefaultPaymentHandler: next(request)" in diagram


def test_the_class_diagram_shows_links_request_and_response() -> None:
    diagram = cqrs.CoRMermaid(HANDLERS).class_diagram()

    assert diagram.startswith("classDiagram\n")
    for name in ("CreditCardHandler", "PayPalHandler", "DefaultPaymentHandler"):
        assert f"class {name}" in diagram
    assert "class ProcessPaymentCommand" in diagram
    assert "+payment_method: str" in diagram
    assert "class PaymentResult" in diagram
