from __future__ import annotations

import decimal

import pytest

from orders.adapters.payment import SimulatedPayment
from orders.application.errors import PaymentDeclinedError

LIMIT = decimal.Decimal("250.00")


async def test_charges_up_to_the_credit_limit_are_accepted() -> None:
    payment = SimulatedPayment(LIMIT)
    await payment.charge("o-1", "c-1", LIMIT)
    await payment.charge("o-1", "c-1", LIMIT)  # again: nothing changes
    await payment.refund("o-1", LIMIT)


async def test_a_charge_above_the_limit_is_declined() -> None:
    with pytest.raises(PaymentDeclinedError, match=r"250\.01 is above the credit limit"):
        await SimulatedPayment(LIMIT).charge("o-1", "c-1", decimal.Decimal("250.01"))
