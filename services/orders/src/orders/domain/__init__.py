"""The orders domain: pure rules about orders, with no I/O and no framework."""

from orders.domain.errors import InvalidOrderError, OrderError, OrderStateError
from orders.domain.limits import (
    MAX_CUSTOMER_ID_LENGTH,
    MAX_ORDER_ID_LENGTH,
    MAX_ORDER_ITEMS,
    MAX_QUANTITY,
    MAX_SKU_LENGTH,
    MAX_UNIT_PRICE,
)
from orders.domain.order import (
    Order,
    OrderEvent,
    OrderItem,
    OrderStatus,
    OrderWasConfirmed,
    OrderWasPlaced,
    OrderWasRejected,
    RejectionReason,
)

__all__ = (
    "Order",
    "OrderEvent",
    "OrderWasPlaced",
    "OrderWasConfirmed",
    "OrderWasRejected",
    "OrderItem",
    "OrderStatus",
    "RejectionReason",
    "MAX_CUSTOMER_ID_LENGTH",
    "MAX_ORDER_ID_LENGTH",
    "MAX_ORDER_ITEMS",
    "MAX_QUANTITY",
    "MAX_SKU_LENGTH",
    "MAX_UNIT_PRICE",
    "OrderError",
    "InvalidOrderError",
    "OrderStateError",
)
