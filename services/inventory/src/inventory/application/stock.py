"""Stock levels over HTTP: the `Restock` command, the `GetStock` and `ListStock` queries.

```
mediator = cqrs.requests.bootstrap.bootstrap(
    di_container=container,  # binds UnitOfWorkFactory
    commands_mapper=lambda m: m.bind(Restock, RestockHandler),
    queries_mapper=lambda m: m.bind(GetStock, GetStockHandler),
)
view = await mediator.send(Restock(sku="tea", quantity=10))
```

`ListStock` (the stock view) is bound to `LIST_STOCK`, a
`cqrs.RequestHandlerFallback`: `ListStockHandler` reads the database and
keeps what it read in the process's `StockSnapshot`; when the database does
not answer (`StorageUnavailableError`), `LastKnownStockHandler` serves that
snapshot instead, marked `stale`, so the page keeps showing the levels and
says they are the last known ones. Before a first good read there is
nothing to serve, and the error stands (503).
"""

from __future__ import annotations

import datetime
import decimal
import typing

import cqrs
from cqrs.clock import utc_now
from cqrs.requests.fallback import RequestHandlerFallback
from inventory.application.contract import Sku, SoldUnits, StockLevel
from inventory.application.errors import StorageUnavailableError, UnknownSkuError
from inventory.application.ports import UnitOfWorkFactory
from inventory.domain import Stock

__all__ = (
    "LIST_STOCK",
    "MAX_LISTED_SKUS",
    "GetStock",
    "GetStockHandler",
    "LastKnownStockHandler",
    "ListStock",
    "ListStockHandler",
    "Restock",
    "RestockHandler",
    "StockList",
    "StockSnapshot",
    "StockView",
)

CENTS_DIGITS: typing.Final = 2
"""Decimal places of a revenue: it is counted in cents."""

MAX_LISTED_SKUS: typing.Final = 200
"""The most skus `ListStock` returns (the first, by sku)."""


class StockView(cqrs.Response):
    """A sku's stock level as the API shows it.

    `revenue` is what the sold units were sold for, in the currency's units, as the
    orders service priced them (the lines `order_confirmed` carries).

    >>> StockView.of(Stock("tea", available=3, reserved=1, sold=2, revenue_cents=700)).to_dict()
    {'sku': 'tea', 'available': 3, 'reserved': 1, 'sold': 2, 'revenue': '7.00'}
    """

    sku: Sku
    available: StockLevel
    reserved: StockLevel
    sold: SoldUnits
    revenue: decimal.Decimal = decimal.Decimal("0.00")

    @classmethod
    def of(cls, stock: Stock) -> StockView:
        return cls(
            sku=stock.sku,
            available=stock.available,
            reserved=stock.reserved,
            sold=stock.sold,
            revenue=decimal.Decimal(stock.revenue_cents).scaleb(-CENTS_DIGITS),
        )


class Restock(cqrs.Request[StockView]):
    """Add `quantity` units of `sku` (a sku seen for the first time starts at zero).

    >>> Restock(sku="tea", quantity=10).quantity
    10
    """

    sku: str
    quantity: int


class GetStock(cqrs.Request[StockView]):
    """The stock level of `sku`.

    >>> GetStock(sku="tea").sku
    'tea'
    """

    sku: Sku


class RestockHandler(cqrs.RequestHandler[Restock, StockView]):
    """Adds the units under the sku's row lock, so concurrent restocks and reserves queue."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._unit_of_work = unit_of_work

    async def handle(self, request: Restock) -> StockView:
        async with self._unit_of_work() as work:
            stock = await work.stock.lock_or_create(request.sku)
            stock.restock(request.quantity)
            await work.stock.save([stock])
        return StockView.of(stock)


class GetStockHandler(cqrs.RequestHandler[GetStock, StockView]):
    """Reads the committed level; `UnknownSkuError` for a sku never restocked."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._unit_of_work = unit_of_work

    async def handle(self, request: GetStock) -> StockView:
        async with self._unit_of_work() as work:
            stock = await work.stock.get(request.sku)
        if stock is None:
            raise UnknownSkuError(request.sku)
        return StockView.of(stock)


class StockList(cqrs.Response):
    """Every sku's stock level (the first `MAX_LISTED_SKUS`, by sku): the stock view.

    `stale`: the database did not answer, these are the levels last read, at
    `read_at`.
    """

    stock: list[StockView]
    stale: bool = False
    read_at: datetime.datetime | None = None


class ListStock(cqrs.Request[StockList]):
    """Every sku's stock level.

    >>> ListStock().to_dict()
    {}
    """


class StockSnapshot:
    """The stock view last read from the database, kept by the process for when the
    database does not answer.

    >>> snapshot = StockSnapshot()
    >>> snapshot.last is None
    True
    >>> snapshot.keep(StockList(stock=[]))
    >>> snapshot.last.stale, snapshot.last.read_at is not None
    (True, True)
    """

    def __init__(self) -> None:
        self._last: StockList | None = None

    def keep(self, levels: StockList) -> None:
        """Remember `levels`, read now."""
        self._last = levels.model_copy(update={"stale": True, "read_at": utc_now()})

    @property
    def last(self) -> StockList | None:
        """The levels last kept, marked stale; `None` before a first read."""
        return self._last


class ListStockHandler(cqrs.RequestHandler[ListStock, StockList]):
    """Reads the committed levels, and keeps them in the process's snapshot."""

    def __init__(self, unit_of_work: UnitOfWorkFactory, snapshot: StockSnapshot) -> None:
        self._unit_of_work = unit_of_work
        self._snapshot = snapshot

    async def handle(self, request: ListStock) -> StockList:
        async with self._unit_of_work() as work:
            stock = await work.stock.all(MAX_LISTED_SKUS)
        levels = StockList(stock=[StockView.of(level) for level in stock])
        self._snapshot.keep(levels)
        return levels


class LastKnownStockHandler(cqrs.RequestHandler[ListStock, StockList]):
    """The fallback of `ListStockHandler`: the snapshot, stale; while there is none,
    `StorageUnavailableError` (503)."""

    def __init__(self, snapshot: StockSnapshot) -> None:
        self._snapshot = snapshot

    async def handle(self, request: ListStock) -> StockList:
        last = self._snapshot.last
        if last is None:
            raise StorageUnavailableError(
                "the inventory's database does not answer, and no stock level was read "
                "before it stopped; try again once it is back (see GET /health)"
            )
        return last


LIST_STOCK: typing.Final = RequestHandlerFallback(
    primary=ListStockHandler,
    fallback=LastKnownStockHandler,
    failure_exceptions=(StorageUnavailableError,),
)
"""What `ListStock` is bound to: the database's levels, else the last known ones."""
