"""Order screening: a chain of rules (`cqrs.CORRequestHandler`) that may refuse an order.

`ScreenOrder` travels down `SCREENING_CHAIN` until a rule decides: a rule that
has nothing to say about the order passes it on with `await self.next(...)`,
and the last link accepts. `PlaceOrderHandler` screens each order before
storing it, and refuses it with `OrderRefusedError` (422) naming the rule.

| link              | decides when                                               |
|-------------------|------------------------------------------------------------|
| `BlockedSkuRule`  | an item's sku is in `ScreeningPolicy.blocked_skus` (refuse) |
| `OrderTotalRule`  | the total is above `ScreeningPolicy.max_order_total` (refuse) |
| `AcceptRule`      | always: no rule before it refused (accept)                 |

Both limits are off by default (`ORDERS_BLOCKED_SKUS`, `ORDERS_MAX_ORDER_TOTAL`).

`DescribeScreening` asks what the screening is: its rules in order, its
Mermaid diagram and the limits in force (`GET /screening`). Nothing in it
waits on anything, so its handler is a `cqrs.SyncRequestHandler`, and the
query and its answer are dataclasses (`DCRequest`, `DCResponse`).

```
requests.bind(ScreenOrder, SCREENING_CHAIN)
screening = await mediator.send(ScreenOrder(customer_id="c-1", skus=["tea"], total=...))
```
"""

from __future__ import annotations

import dataclasses
import decimal
import typing

import cqrs
from cqrs.requests.cor_request_handler import CORRequestHandler
from cqrs.requests.mermaid import CoRMermaid
from cqrs.requests.request import DCRequest
from cqrs.requests.request_handler import SyncRequestHandler
from cqrs.response import DCResponse

__all__ = (
    "SCREENING_CHAIN",
    "AcceptRule",
    "BlockedSkuRule",
    "DescribeScreening",
    "DescribeScreeningHandler",
    "OrderScreening",
    "OrderTotalRule",
    "ScreenOrder",
    "Screening",
    "ScreeningChain",
    "ScreeningPolicy",
)


class Screening(cqrs.Response):
    """What the chain decided: `accepted` or not, by which `rule`, and why (`detail`).

    >>> Screening(accepted=True, rule="accept", detail="no rule refused it").rule
    'accept'
    """

    accepted: bool
    rule: str
    detail: str


class ScreenOrder(cqrs.Request[Screening]):
    """Screen an order of `customer_id` for `skus` worth `total`.

    >>> ScreenOrder(customer_id="c-1", skus=["tea"], total=decimal.Decimal("7.00")).skus
    ['tea']
    """

    customer_id: str
    skus: list[str]
    total: decimal.Decimal


@dataclasses.dataclass(frozen=True)
class ScreeningPolicy:
    """The rules' settings: skus refused outright, and the largest total (`None`: no limit).

    >>> ScreeningPolicy(blocked_skus=frozenset({"kettle"})).max_order_total is None
    True
    """

    blocked_skus: frozenset[str] = frozenset()
    max_order_total: decimal.Decimal | None = None


class BlockedSkuRule(CORRequestHandler[ScreenOrder, Screening]):
    """Refuses an order with a blocked sku; passes the others on."""

    def __init__(self, policy: ScreeningPolicy) -> None:
        self._policy = policy

    async def handle(self, request: ScreenOrder) -> Screening | None:
        blocked = sorted(self._policy.blocked_skus.intersection(request.skus))
        if blocked:
            return Screening(
                accepted=False, rule="blocked_sku", detail=f"sku {', '.join(blocked)} is blocked"
            )
        return await self.next(request)


class OrderTotalRule(CORRequestHandler[ScreenOrder, Screening]):
    """Refuses an order whose total is above the limit; passes the others on."""

    def __init__(self, policy: ScreeningPolicy) -> None:
        self._policy = policy

    async def handle(self, request: ScreenOrder) -> Screening | None:
        limit = self._policy.max_order_total
        if limit is not None and request.total > limit:
            return Screening(
                accepted=False,
                rule="order_total",
                detail=f"the total {request.total} is above the limit of {limit}",
            )
        return await self.next(request)


class AcceptRule(CORRequestHandler[ScreenOrder, Screening]):
    """The chain's last link: accepts what no rule before it refused."""

    async def handle(self, request: ScreenOrder) -> Screening | None:
        return Screening(accepted=True, rule="accept", detail="no rule refused the order")


SCREENING_CHAIN: typing.Final[list[type[CORRequestHandler[ScreenOrder, Screening]]]] = [
    BlockedSkuRule,
    OrderTotalRule,
    AcceptRule,
]
"""The links in the order they are tried (bound to `ScreenOrder`; `GET /screening` draws it)."""


@dataclasses.dataclass
class ScreeningChain(DCResponse):
    """The chain's links in order, its Mermaid sequence diagram, and the limits its rules
    apply (`GET /screening`).

    >>> ScreeningChain.of(SCREENING_CHAIN).rules
    ['BlockedSkuRule', 'OrderTotalRule', 'AcceptRule']
    """

    rules: list[str]
    mermaid: str
    #: `BlockedSkuRule` refuses these skus (`ORDERS_BLOCKED_SKUS`).
    blocked_skus: list[str] = dataclasses.field(default_factory=list[str])
    #: `OrderTotalRule` refuses a total above this (`ORDERS_MAX_ORDER_TOTAL`; `None`: no limit).
    max_order_total: decimal.Decimal | None = None

    @classmethod
    def of(
        cls,
        chain: typing.Sequence[type[CORRequestHandler[ScreenOrder, Screening]]],
        policy: ScreeningPolicy | None = None,
    ) -> ScreeningChain:
        policy = policy or ScreeningPolicy()
        return cls(
            rules=[link.__name__ for link in chain],
            mermaid=CoRMermaid(chain).sequence(),
            blocked_skus=sorted(policy.blocked_skus),
            max_order_total=policy.max_order_total,
        )


@dataclasses.dataclass
class DescribeScreening(DCRequest[ScreeningChain]):
    """Ask what the screening is: `SCREENING_CHAIN` with the policy in force.

    >>> DescribeScreening()
    DescribeScreening()
    """


class DescribeScreeningHandler(SyncRequestHandler[DescribeScreening, ScreeningChain]):
    """Describes `SCREENING_CHAIN` under the service's `ScreeningPolicy`: computed in
    memory, so a plain function.

    >>> handler = DescribeScreeningHandler(ScreeningPolicy(blocked_skus=frozenset({"kettle"})))
    >>> handler.handle(DescribeScreening()).blocked_skus
    ['kettle']
    """

    def __init__(self, policy: ScreeningPolicy) -> None:
        self._policy = policy

    def handle(self, request: DescribeScreening) -> ScreeningChain:
        return ScreeningChain.of(SCREENING_CHAIN, self._policy)


class OrderScreening(typing.Protocol):
    """Runs `ScreenOrder` through the chain (a `cqrs.RequestMediator` with it bound)."""

    async def send(self, request: ScreenOrder) -> Screening:
        """The chain's decision (its last link always decides)."""
        ...
