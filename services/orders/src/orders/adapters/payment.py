"""`SimulatedPayment`: a payment provider stand-in that declines orders above a credit limit.

>>> import asyncio
>>> from decimal import Decimal
>>> payment = SimulatedPayment(credit_limit=Decimal("100.00"))
>>> asyncio.run(payment.charge("o-1", "c-1", Decimal("99.99")))
>>> try:
...     asyncio.run(payment.charge("o-2", "c-1", Decimal("100.01")))
... except PaymentDeclinedError as declined:
...     print(declined)
order o-2: 100.01 is above the credit limit of 100.00
"""

from __future__ import annotations

import decimal
import logging

from orders.application.errors import PaymentDeclinedError

__all__ = ("SimulatedPayment",)

logger = logging.getLogger("orders.payment")


class SimulatedPayment:
    """`PaymentPort` that accepts any charge up to `credit_limit` and moves no money."""

    def __init__(self, credit_limit: decimal.Decimal) -> None:
        self.credit_limit = credit_limit

    async def charge(self, order_id: str, customer_id: str, amount: decimal.Decimal) -> None:
        """Accept `amount` up to the credit limit; `PaymentDeclinedError` above it."""
        if amount > self.credit_limit:
            raise PaymentDeclinedError(
                f"order {order_id}: {amount} is above the credit limit of {self.credit_limit}"
            )
        logger.info("order %s: charged %s to %s (simulated)", order_id, amount, customer_id)

    async def refund(self, order_id: str, amount: decimal.Decimal) -> None:
        """Log the refund; the simulator took no money, so there is nothing to give back."""
        logger.info("order %s: refunded %s (simulated)", order_id, amount)
