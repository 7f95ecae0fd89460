"""The inventory's use cases: reserve and release (Kafka commands), restock and read (HTTP)."""

from inventory.application.errors import StorageUnavailableError, UnknownSkuError
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
    StockRequest,
)
from inventory.application.stock import (
    GetStock,
    GetStockHandler,
    Restock,
    RestockHandler,
    StockView,
)

__all__ = (
    "GetStock",
    "GetStockHandler",
    "InventoryUnitOfWork",
    "ReleaseStockCommand",
    "ReleaseStockHandler",
    "Replies",
    "ReservationRepository",
    "ReserveStockCommand",
    "ReserveStockHandler",
    "Restock",
    "RestockHandler",
    "StockRepository",
    "StockRequest",
    "StockView",
    "StorageUnavailableError",
    "UnitOfWorkFactory",
    "UnknownSkuError",
)
