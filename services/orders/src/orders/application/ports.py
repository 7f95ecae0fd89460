"""The ports the orders use cases and the saga need, each implemented by an adapter.

`UnitOfWorkFactory` opens a unit of work: one database transaction holding the
order repository, a saga storage, the read side's summaries and the requests'
idempotency keys, so an order, its saga, its summary and the key it was placed
under are written together or not at all. `PaymentPort` charges and refunds.
`SagaLauncher` creates a saga and runs its first pass in the caller's unit of work.
`OrderReads` reads an order with its saga. `OrderChanges` tells a follower that an
order's saga moved on.
"""

from __future__ import annotations

import asyncio
import contextlib
import decimal
import typing
import uuid

from cqrs.idempotency import IdempotentRequest
from cqrs.saga.models import SagaContext, SagaLogEntry, SagaState, SagaStatus
from cqrs.saga.storage.protocol import ISagaStorage
from orders.domain.order import Order

if typing.TYPE_CHECKING:
    # Only named here: order_history needs these ports at run time (its handler's DI).
    from orders.application.order_history import OrderSummaries

__all__ = (
    "IdempotencyKeys",
    "OrderChanges",
    "OrderReads",
    "OrderRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "PaymentPort",
    "BackupPaymentPort",
    "SagaLauncher",
)


class OrderRepository(typing.Protocol):
    """The stored orders, within one unit of work.

    `add` and `update` also apply the order's domain events (`pull_events`) to
    the read side (`order_history.project`), in the same transaction.
    """

    async def add(self, order: Order) -> None:
        """Store a new order with its items."""
        ...

    async def get(self, order_id: uuid.UUID) -> Order | None:
        """The order with `order_id`, or `None` when there is none."""
        ...

    async def update(self, order: Order) -> None:
        """Store the order's status and reason (its items never change).

        Raises `OrderNotFoundError` when the order is not stored.
        """
        ...


class IdempotencyKeys(typing.Protocol):
    """The clients' idempotency keys (`cqrs.idempotency`), within one unit of work: a key
    claimed here commits, or rolls back, with what the unit of work writes."""

    async def claim(self, request: IdempotentRequest) -> str | None:
        """Claim the request's key; `None` when it is new (or expired), else the answer
        saved under it. Waits while another unit of work holds an uncommitted claim of it.

        Raises `cqrs.idempotency.IdempotencyConflictError` when the key was used with
        another request body.
        """
        ...

    async def save(self, request: IdempotentRequest, answer: str) -> None:
        """Keep `answer` under the key this unit of work claimed."""
        ...


class UnitOfWork(typing.Protocol):
    """What one transaction reaches: the orders, and the sagas in the same transaction."""

    @property
    def orders(self) -> OrderRepository: ...

    @property
    def sagas(self) -> ISagaStorage: ...

    @property
    def summaries(self) -> OrderSummaries: ...

    @property
    def idempotency(self) -> IdempotencyKeys: ...


class UnitOfWorkFactory(typing.Protocol):
    """Opens units of work: `async with unit_of_work() as work: ...`.

    The transaction commits when the block exits cleanly and rolls back when
    it raises.
    """

    def __call__(self) -> contextlib.AbstractAsyncContextManager[UnitOfWork]: ...


class PaymentPort(typing.Protocol):
    """Takes money for an order, and gives it back."""

    async def charge(self, order_id: str, customer_id: str, amount: decimal.Decimal) -> None:
        """Charge `amount` for the order; charging the same order again changes nothing.

        Raises `PaymentDeclinedError` when the charge is refused,
        `PaymentUnavailableError` when the provider does not answer.
        """
        ...

    async def refund(self, order_id: str, amount: decimal.Decimal) -> None:
        """Give back what the order was charged; refunding twice changes nothing."""
        ...


class BackupPaymentPort(PaymentPort, typing.Protocol):
    """The provider the payment step falls back on when the primary is unavailable."""


class SagaLauncher(typing.Protocol):
    """Starts sagas (`cqrs.saga.mediator.SagaMediator` is one)."""

    async def start(
        self,
        context: SagaContext,
        saga_id: uuid.UUID | None = None,
        *,
        storage: ISagaStorage | None = None,
        hidden_until_commit: bool = False,
    ) -> SagaStatus:
        """Create the saga for `context` under `saga_id` and run its first pass, writing
        through `storage` (a unit of work's: the pass commits with it); its status then.
        A step that fails now is compensated and recorded, not raised. With
        `hidden_until_commit` (nobody sees the saga before that commit) the saga is
        neither claimed nor released."""
        ...


class OrderReads(typing.Protocol):
    """Reads an order with its saga, for the queries."""

    async def read(self, order_id: uuid.UUID) -> tuple[Order, SagaState, list[SagaLogEntry]] | None:
        """Order `order_id`, its saga and the saga's step log in write order, the order
        at least as new as the saga; None for an unknown id."""
        ...


class OrderChanges(typing.Protocol):
    """Tells whoever follows an order that its saga wrote something."""

    def following(
        self, saga_id: uuid.UUID
    ) -> contextlib.AbstractAsyncContextManager[asyncio.Event]:
        """An event set whenever the saga changes while the block runs (clear it after
        each read, so that no change between two reads is missed)."""
        ...

    async def changed(self, saga_id: uuid.UUID, *, notified: bool = False) -> None:
        """Wake the saga's followers after a write that committed; `notified`: the write
        told other processes itself (a `NOTIFY` in its statement)."""
        ...

    def version(self, saga_id: uuid.UUID) -> int:
        """A number that moves with each change of the saga this process hears of (and
        whenever changes may have gone unheard): taken before a read and unchanged
        later, the read still shows the saga."""
        ...
