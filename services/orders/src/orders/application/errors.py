"""What the orders use cases and the order saga raise.

```
OrdersApplicationError
├── DataRejectedError      the database refused a value of the request
├── OrderNotFoundError     no order has that id
├── OrderRefusedError      a screening rule refused the order (nothing is stored)
├── PaymentDeclinedError   the payment port refused the charge (fails the saga)
├── PaymentUnavailableError the payment provider did not answer (the backup is tried)
├── StockRejectedError     the inventory could not reserve the items (fails the saga)
└── StorageUnavailableError the database did not answer (a retry may succeed)
```
"""

from __future__ import annotations

import typing
import uuid

__all__ = (
    "DataRejectedError",
    "OrdersApplicationError",
    "OrderNotFoundError",
    "OrderRefusedError",
    "PaymentDeclinedError",
    "PaymentUnavailableError",
    "StockRejectedError",
    "StorageUnavailableError",
)


class OrdersApplicationError(Exception):
    """Base of the orders application's errors."""


class DataRejectedError(OrdersApplicationError, ValueError):
    """The database refused a value of the request (a character or a number it cannot
    store): the request cannot succeed as it is; change the value."""


class OrderNotFoundError(OrdersApplicationError, LookupError):
    """No order has the id asked for."""

    def __init__(self, order_id: uuid.UUID | str) -> None:
        super().__init__(f"no order {order_id}; check the id returned by POST /orders")
        self.order_id = str(order_id)


class OrderRefusedError(OrdersApplicationError, ValueError):
    """A rule of the order screening (`orders.application.screening`) refused the order."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(
            f"the order was refused by the {rule} rule: {detail}; change the order "
            f"(GET /screening lists the rules)"
        )
        self.rule = rule


class PaymentDeclinedError(OrdersApplicationError):
    """The payment provider refused to charge the order."""


class PaymentUnavailableError(OrdersApplicationError, ConnectionError):
    """The payment provider did not answer; the payment step falls back to the backup
    provider (check the provider, or `PAYMENT_PRIMARY_FAILS`)."""


class StockRejectedError(OrdersApplicationError):
    """The inventory could not reserve every item of the order."""

    def __init__(self, order_id: str, skus: typing.Sequence[str]) -> None:
        super().__init__(f"order {order_id}: not enough stock of {', '.join(skus) or 'its items'}")
        self.order_id = order_id
        self.skus = list(skus)


class StorageUnavailableError(OrdersApplicationError, ConnectionError):
    """The database did not answer; try again once it is back (see GET /health)."""
