"""Chain of responsibility: the first link that can handle a request does.

A shop issues refunds through different channels. Each channel is a
`CORRequestHandler` (from `cqrs.requests.cor_request_handler`): it either
handles the refund and returns a result, or passes the request on with
`await self.next(request)`. The chain is bound as an ordered list with
`mapper.bind(Command, [First, Second, Last])`; the last link is a catch-all
that always answers. Links get their services injected, and the events a link
records are dispatched like any handler's.

Run: `python examples/chain_of_responsibility.py`
"""

from __future__ import annotations

import asyncio
import typing

import di
from di import dependent

import cqrs
from cqrs.events.event import Event
from cqrs.requests import bootstrap
from cqrs.requests.cor_request_handler import CORRequestHandler

STORE_CREDIT_BALANCES: dict[str, float] = {}
GIFT_CARDS_ISSUED: list[str] = []
REFUND_AUDIT: list[str] = []
LINKS_VISITED: list[str] = []


class IssueRefundCommand(cqrs.Request):
    order_id: str
    customer_id: str
    amount: float
    channel: str


class RefundResult(cqrs.Response):
    accepted: bool
    channel: str
    reference: str = ""


class RefundIssued(cqrs.DomainEvent):
    order_id: str
    channel: str
    amount: float


# --- services the links depend on --------------------------------------------


class StoreCreditServiceProtocol(typing.Protocol):
    async def credit(self, customer_id: str, amount: float) -> str: ...


class GiftCardServiceProtocol(typing.Protocol):
    async def issue(self, amount: float) -> str: ...


class InMemoryStoreCredit:
    async def credit(self, customer_id: str, amount: float) -> str:
        balance = STORE_CREDIT_BALANCES.get(customer_id, 0.0) + amount
        STORE_CREDIT_BALANCES[customer_id] = balance
        return f"credit-{customer_id}-{balance:.2f}"


class InMemoryGiftCards:
    async def issue(self, amount: float) -> str:
        code = f"GIFT-{len(GIFT_CARDS_ISSUED) + 1:03d}-{amount:.0f}"
        GIFT_CARDS_ISSUED.append(code)
        return code


# --- the chain ---------------------------------------------------------------


class StoreCreditRefundHandler(CORRequestHandler[IssueRefundCommand, RefundResult]):
    def __init__(self, store_credit: StoreCreditServiceProtocol) -> None:
        self._store_credit = store_credit
        self._events: list[Event] = []

    @property
    def events(self) -> list[Event]:
        return self._events

    async def handle(self, request: IssueRefundCommand) -> RefundResult | None:
        LINKS_VISITED.append("store_credit")
        if request.channel == "store_credit":
            reference = await self._store_credit.credit(request.customer_id, request.amount)
            self._events.append(
                RefundIssued(
                    order_id=request.order_id, channel=request.channel, amount=request.amount
                )
            )
            return RefundResult(accepted=True, channel="store_credit", reference=reference)
        return await self.next(request)


class GiftCardRefundHandler(CORRequestHandler[IssueRefundCommand, RefundResult]):
    def __init__(self, gift_cards: GiftCardServiceProtocol) -> None:
        self._gift_cards = gift_cards
        self._events: list[Event] = []

    @property
    def events(self) -> list[Event]:
        return self._events

    async def handle(self, request: IssueRefundCommand) -> RefundResult | None:
        LINKS_VISITED.append("gift_card")
        if request.channel == "gift_card":
            code = await self._gift_cards.issue(request.amount)
            self._events.append(
                RefundIssued(
                    order_id=request.order_id, channel=request.channel, amount=request.amount
                )
            )
            return RefundResult(accepted=True, channel="gift_card", reference=code)
        return await self.next(request)


class ManualReviewRefundHandler(CORRequestHandler[IssueRefundCommand, RefundResult]):
    """The end of the chain: anything else waits for a human."""

    @property
    def events(self) -> list[Event]:
        return []

    async def handle(self, request: IssueRefundCommand) -> RefundResult | None:
        LINKS_VISITED.append("manual_review")
        return RefundResult(accepted=False, channel=request.channel, reference="needs-review")


class AuditRefund(cqrs.EventHandler[RefundIssued]):
    async def handle(self, event: RefundIssued) -> None:
        REFUND_AUDIT.append(f"{event.order_id} via {event.channel}: {event.amount:.2f}")


# --- wiring ------------------------------------------------------------------


def setup_di() -> di.Container:
    container = di.Container()
    container.bind(
        di.bind_by_type(
            dependent.Dependent(InMemoryStoreCredit, scope="request"), StoreCreditServiceProtocol
        )
    )
    container.bind(
        di.bind_by_type(
            dependent.Dependent(InMemoryGiftCards, scope="request"), GiftCardServiceProtocol
        )
    )
    return container


def refund_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(
        IssueRefundCommand,
        [
            StoreCreditRefundHandler,
            GiftCardRefundHandler,
            ManualReviewRefundHandler,  # catch-all
        ],
    )


def events_mapper(mapper: cqrs.EventMap) -> None:
    mapper.bind(RefundIssued, AuditRefund)


async def main() -> dict[str, tuple[RefundResult, list[str]]]:
    for store in (STORE_CREDIT_BALANCES, GIFT_CARDS_ISSUED, REFUND_AUDIT):
        store.clear()
    mediator = bootstrap.bootstrap(
        di_container=setup_di(),
        commands_mapper=refund_mapper,
        domain_events_mapper=events_mapper,
    )

    outcomes: dict[str, tuple[RefundResult, list[str]]] = {}
    for order_id, channel in (("o-1", "store_credit"), ("o-2", "gift_card"), ("o-3", "crypto")):
        LINKS_VISITED.clear()
        result = await mediator.send(
            IssueRefundCommand(order_id=order_id, customer_id="c-9", amount=25.0, channel=channel)
        )
        outcomes[channel] = (result, list(LINKS_VISITED))
        print(f"{order_id} ({channel}): {result.to_dict()} after {LINKS_VISITED}")

    print(f"audit={REFUND_AUDIT}")
    return outcomes


if __name__ == "__main__":
    asyncio.run(main())
