"""The orders domain: pure rules about orders, with no I/O and no framework."""

from orders.domain.errors import InvalidOrderError, OrderError, OrderStateError
from orders.domain.order import (
    MAX_QUANTITY,
    MAX_UNIT_PRICE,
    Order,
    OrderItem,
    OrderStatus,
    RejectionReason,
)

__all__ = (
    "Order",
    "OrderItem",
    "OrderStatus",
    "RejectionReason",
    "MAX_QUANTITY",
    "MAX_UNIT_PRICE",
    "OrderError",
    "InvalidOrderError",
    "OrderStateError",
)
