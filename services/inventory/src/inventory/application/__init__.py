"""The inventory's use cases: reserve and release (Kafka commands), sell and release
(the orders' outcomes), restock and read (HTTP)."""

from inventory.application.errors import (
    DataRejectedError,
    StorageUnavailableError,
    UnknownSkuError,
)
from inventory.application.ports import (
    InventoryUnitOfWork,
    Replies,
    ReservationRepository,
    StockRepository,
    UnitOfWorkFactory,
)
from inventory.application.reservations import (
    ReleaseStockCommand,
    ReleaseStockHandler,
    ReserveStockCommand,
    ReserveStockHandler,
)
from inventory.application.sales import (
    OrderConfirmedHandler,
    OrderOutcome,
    OrderRejectedHandler,
)
from inventory.application.stock import (
    LIST_STOCK,
    GetStock,
    GetStockHandler,
    ListStock,
    ListStockHandler,
    Restock,
    RestockHandler,
    StockList,
    StockSnapshot,
    StockView,
)

__all__ = (
    "DataRejectedError",
    "GetStock",
    "GetStockHandler",
    "InventoryUnitOfWork",
    "ListStock",
    "ListStockHandler",
    "OrderConfirmedHandler",
    "OrderOutcome",
    "OrderRejectedHandler",
    "LIST_STOCK",
    "StockList",
    "StockSnapshot",
    "ReleaseStockCommand",
    "ReleaseStockHandler",
    "Replies",
    "ReservationRepository",
    "ReserveStockCommand",
    "ReserveStockHandler",
    "Restock",
    "RestockHandler",
    "StockRepository",
    "StockView",
    "StorageUnavailableError",
    "UnitOfWorkFactory",
    "UnknownSkuError",
)
