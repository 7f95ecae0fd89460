from __future__ import annotations

import decimal
import uuid

import pytest

from orders.domain.errors import InvalidOrderError, OrderStateError
from orders.domain.limits import (
    MAX_CUSTOMER_ID_LENGTH,
    MAX_ORDER_ITEMS,
    MAX_QUANTITY,
    MAX_SKU_LENGTH,
)
from orders.domain.order import (
    Order,
    OrderItem,
    OrderStatus,
    RejectionReason,
)

D = decimal.Decimal


def tea(quantity: int = 1, price: str = "2.50") -> OrderItem:
    return OrderItem("tea", quantity, D(price))


def test_a_placed_order_is_pending_with_a_fresh_id_and_the_sum_of_its_items() -> None:
    first = Order.place("c-1", [tea(2, "3.50"), OrderItem("cup", 1, D("4"))])
    second = Order.place("c-1", [tea()])

    assert first.status is OrderStatus.PENDING
    assert first.reason is None
    assert first.total == D("11.00")
    assert str(first.total) == "11.00"
    assert first.order_id != second.order_id


def test_place_keeps_a_given_id() -> None:
    order_id = uuid.uuid4()
    assert Order.place("c-1", [tea()], order_id=order_id).order_id == order_id


def test_prices_are_kept_to_the_cent() -> None:
    assert str(tea(price="3.5").unit_price) == "3.50"
    assert tea(3, "0.10").subtotal == D("0.30")


@pytest.mark.parametrize(
    ("sku", "quantity", "price", "complaint"),
    [
        ("", 1, "1.00", "sku must not be empty"),
        ("  ", 1, "1.00", "sku must not be empty"),
        ("tea", 0, "1.00", "quantity of 'tea' must be a whole number from 1"),
        ("tea", -2, "1.00", "quantity of 'tea' must be a whole number from 1"),
        ("tea", MAX_QUANTITY + 1, "1.00", "quantity of 'tea' must be a whole number from 1"),
        ("x" * (MAX_SKU_LENGTH + 1), 1, "1.00", f"at most {MAX_SKU_LENGTH} characters"),
        ("tea", 1, "-0.01", "unit price of 'tea' must be from 0"),
        ("tea", 1, "NaN", "unit price of 'tea' must be from 0"),
        ("tea", 1, "Infinity", "unit price of 'tea' must be from 0"),
        ("tea", 1, "1000000000.01", "unit price of 'tea' must be from 0"),
        ("tea", 1, "1.005", "more than two decimal places"),
    ],
)
def test_an_item_breaking_a_rule_is_refused(
    sku: str, quantity: int, price: str, complaint: str
) -> None:
    with pytest.raises(InvalidOrderError, match=complaint):
        OrderItem(sku, quantity, D(price))


def test_a_free_item_is_allowed() -> None:
    assert Order.place("c-1", [tea(price="0")]).total == D("0.00")


def test_an_order_needs_a_customer_and_an_item() -> None:
    with pytest.raises(InvalidOrderError, match="customer_id must not be empty"):
        Order.place(" ", [tea()])
    with pytest.raises(InvalidOrderError, match="at least one item"):
        Order.place("c-1", [])


def test_an_order_has_bounded_customer_ids_and_item_counts() -> None:
    largest = Order.place("c" * MAX_CUSTOMER_ID_LENGTH, [tea()] * MAX_ORDER_ITEMS)
    assert len(largest.items) == MAX_ORDER_ITEMS
    with pytest.raises(InvalidOrderError, match=f"at most {MAX_CUSTOMER_ID_LENGTH} characters"):
        Order.place("c" * (MAX_CUSTOMER_ID_LENGTH + 1), [tea()])
    with pytest.raises(InvalidOrderError, match=f"at most {MAX_ORDER_ITEMS}"):
        Order.place("c-1", [tea()] * (MAX_ORDER_ITEMS + 1))


def test_only_a_rejected_order_has_a_reason() -> None:
    with pytest.raises(InvalidOrderError, match="rejected order has a reason"):
        Order(uuid.uuid4(), "c-1", (tea(),), OrderStatus.REJECTED)
    with pytest.raises(InvalidOrderError, match="rejected order has a reason"):
        Order(uuid.uuid4(), "c-1", (tea(),), reason=RejectionReason.PAYMENT_DECLINED)


def test_confirm_decides_a_pending_order_and_may_be_repeated() -> None:
    order = Order.place("c-1", [tea()])
    order.confirm()
    order.confirm()

    assert order.status is OrderStatus.CONFIRMED
    assert order.is_decided


def test_reject_records_the_first_reason_only() -> None:
    order = Order.place("c-1", [tea()])
    order.reject(RejectionReason.INVENTORY_TIMEOUT)
    order.reject(RejectionReason.INTERNAL_ERROR)

    assert order.status is OrderStatus.REJECTED
    assert order.reason is RejectionReason.INVENTORY_TIMEOUT


def test_a_decided_order_cannot_change_its_outcome() -> None:
    confirmed = Order.place("c-1", [tea()])
    confirmed.confirm()
    rejected = Order.place("c-1", [tea()])
    rejected.reject(RejectionReason.INSUFFICIENT_STOCK)

    with pytest.raises(OrderStateError, match="was confirmed"):
        confirmed.reject(RejectionReason.PAYMENT_DECLINED)
    with pytest.raises(OrderStateError, match="was rejected"):
        rejected.confirm()
    assert confirmed.status is OrderStatus.CONFIRMED
    assert rejected.status is OrderStatus.REJECTED
