"""`SimulatedPayment`: a payment provider stand-in that declines orders above a credit limit.

The service runs two, `primary` and `backup` (the payment step falls back on
the second); `unavailable=True` makes one fail every call, as a provider that
is down would (`PAYMENT_PRIMARY_FAILS=true` for the primary, to watch its
circuit breaker open in the demo).

>>> import asyncio
>>> from decimal import Decimal
>>> payment = SimulatedPayment(credit_limit=Decimal("100.00"))
>>> asyncio.run(payment.charge("o-1", "c-1", Decimal("99.99")))
>>> try:
...     asyncio.run(payment.charge("o-2", "c-1", Decimal("100.01")))
... except PaymentDeclinedError as declined:
...     print(declined)
order o-2: 100.01 is above the credit limit of 100.00
>>> down = SimulatedPayment(Decimal("100.00"), name="primary", unavailable=True)
>>> try:
...     asyncio.run(down.charge("o-3", "c-1", Decimal("1.00")))
... except PaymentUnavailableError as error:
...     print(error)
the primary payment provider did not answer (simulated: PAYMENT_PRIMARY_FAILS)
"""

from __future__ import annotations

import decimal
import logging

from orders.application.errors import PaymentDeclinedError, PaymentUnavailableError

__all__ = ("SimulatedPayment",)

logger = logging.getLogger("orders.payment")


class SimulatedPayment:
    """`PaymentPort` that accepts any charge up to `credit_limit` and moves no money."""

    def __init__(
        self, credit_limit: decimal.Decimal, *, name: str = "primary", unavailable: bool = False
    ) -> None:
        self.credit_limit = credit_limit
        self.name = name
        self.unavailable = unavailable
        #: How many charges reached this provider (an open breaker keeps them away).
        self.calls = 0

    async def charge(self, order_id: str, customer_id: str, amount: decimal.Decimal) -> None:
        """Accept `amount` up to the credit limit; `PaymentDeclinedError` above it,
        `PaymentUnavailableError` on every call when `unavailable`."""
        self.calls += 1
        if self.unavailable:
            raise PaymentUnavailableError(
                f"the {self.name} payment provider did not answer (simulated: "
                "PAYMENT_PRIMARY_FAILS)"
            )
        if amount > self.credit_limit:
            raise PaymentDeclinedError(
                f"order {order_id}: {amount} is above the credit limit of {self.credit_limit}"
            )
        logger.info(
            "order %s: charged %s to %s (simulated, %s)", order_id, amount, customer_id, self.name
        )

    async def refund(self, order_id: str, amount: decimal.Decimal) -> None:
        """Log the refund; the simulator took no money, so there is nothing to give back."""
        logger.info("order %s: refunded %s (simulated)", order_id, amount)
