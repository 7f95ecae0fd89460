"""Stock levels over HTTP: the `Restock` command, the `GetStock` and `ListStock` queries.

```
mediator = cqrs.requests.bootstrap.bootstrap(
    di_container=container,  # binds UnitOfWorkFactory
    commands_mapper=lambda m: m.bind(Restock, RestockHandler),
    queries_mapper=lambda m: m.bind(GetStock, GetStockHandler),
)
view = await mediator.send(Restock(sku="tea", quantity=10))
```
"""

from __future__ import annotations

import typing

import cqrs
from inventory.application.contract import Sku, SoldUnits, StockLevel
from inventory.application.errors import UnknownSkuError
from inventory.application.ports import UnitOfWorkFactory
from inventory.domain import Stock

__all__ = (
    "MAX_LISTED_SKUS",
    "GetStock",
    "GetStockHandler",
    "ListStock",
    "ListStockHandler",
    "Restock",
    "RestockHandler",
    "StockList",
    "StockView",
)

MAX_LISTED_SKUS: typing.Final = 200
"""The most skus `ListStock` returns (the first, by sku)."""


class StockView(cqrs.Response):
    """A sku's stock level as the API shows it.

    >>> StockView.of(Stock("tea", available=3, reserved=1, sold=2)).to_dict()
    {'sku': 'tea', 'available': 3, 'reserved': 1, 'sold': 2}
    """

    sku: Sku
    available: StockLevel
    reserved: StockLevel
    sold: SoldUnits

    @classmethod
    def of(cls, stock: Stock) -> StockView:
        return cls(
            sku=stock.sku, available=stock.available, reserved=stock.reserved, sold=stock.sold
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
    """Every sku's stock level (the first `MAX_LISTED_SKUS`, by sku): the stock view."""

    stock: list[StockView]


class ListStock(cqrs.Request[StockList]):
    """Every sku's stock level.

    >>> ListStock().to_dict()
    {}
    """


class ListStockHandler(cqrs.RequestHandler[ListStock, StockList]):
    """Reads the committed levels."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._unit_of_work = unit_of_work

    async def handle(self, request: ListStock) -> StockList:
        async with self._unit_of_work() as work:
            stock = await work.stock.all(MAX_LISTED_SKUS)
        return StockList(stock=[StockView.of(level) for level in stock])
