"""What the orders domain refuses.

```
OrderError
├── InvalidOrderError   an order or item breaks a rule (the caller's input is wrong)
└── OrderStateError     a status change the order's current status does not allow
```
"""

from __future__ import annotations

__all__ = ("OrderError", "InvalidOrderError", "OrderStateError")


class OrderError(Exception):
    """Base of the orders domain's errors."""


class InvalidOrderError(OrderError, ValueError):
    """An order or one of its items breaks a rule; the message says which and how to fix it."""


class OrderStateError(OrderError):
    """The order's status does not allow the change asked for (e.g. rejecting a confirmed order)."""
