"""Draw a chain of responsibility as Mermaid diagrams.

A checkout authorises a payment through three links, tried in order: the
customer's prepaid wallet, then the card network, then a pay-by-invoice
fallback that approves small amounts for known customers. `CoRMermaid`
(from `cqrs.requests.mermaid`) turns the same list of classes you bind with
`mapper.bind(AuthorizePayment, PAYMENT_CHAIN)` into a sequence diagram (how a
request travels down the chain) and a class diagram (the links, the request,
the response and their fields).

The output is Markdown: paste it into a README or a pull request, or into
https://mermaid.live, to see the diagrams.

Run: `python examples/cor_mermaid.py`
"""

from __future__ import annotations

import dataclasses

import cqrs
from cqrs.requests.cor_request_handler import CORRequestHandler
from cqrs.requests.mermaid import CoRMermaid

WALLET_BALANCES_CENTS = {"cust-1": 5_000}
INVOICE_LIMIT_CENTS = 20_000


class AuthorizePayment(cqrs.Request):
    order_id: str
    customer_id: str
    amount_cents: int
    card_token: str | None = None


@dataclasses.dataclass
class PaymentDecision(cqrs.DCResponse):
    approved: bool
    provider: str
    reference: str


class PrepaidWalletHandler(CORRequestHandler[AuthorizePayment, PaymentDecision]):
    async def handle(self, request: AuthorizePayment) -> PaymentDecision | None:
        balance = WALLET_BALANCES_CENTS.get(request.customer_id, 0)
        if balance >= request.amount_cents:
            WALLET_BALANCES_CENTS[request.customer_id] = balance - request.amount_cents
            return PaymentDecision(True, "wallet", f"wallet-{request.order_id}")
        return await self.next(request)


class CardNetworkHandler(CORRequestHandler[AuthorizePayment, PaymentDecision]):
    async def handle(self, request: AuthorizePayment) -> PaymentDecision | None:
        if request.card_token:
            return PaymentDecision(True, "card", f"auth-{request.card_token[-4:]}")
        return await self.next(request)


class PayByInvoiceHandler(CORRequestHandler[AuthorizePayment, PaymentDecision]):
    """The last link: it always answers, so the chain never returns `None`."""

    async def handle(self, request: AuthorizePayment) -> PaymentDecision | None:
        approved = request.amount_cents <= INVOICE_LIMIT_CENTS
        return PaymentDecision(approved, "invoice", f"inv-{request.order_id}")


PAYMENT_CHAIN = [PrepaidWalletHandler, CardNetworkHandler, PayByInvoiceHandler]


def payments_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(AuthorizePayment, PAYMENT_CHAIN)


def main() -> CoRMermaid:
    diagrams = CoRMermaid(PAYMENT_CHAIN)
    print("## How AuthorizePayment travels down the chain\n")
    print(f"```mermaid\n{diagrams.sequence()}\n```\n")
    print("## The links, the request and the response\n")
    print(f"```mermaid\n{diagrams.class_diagram()}\n```")
    return diagrams


if __name__ == "__main__":
    main()
