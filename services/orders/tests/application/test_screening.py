"""The order screening: each rule of the chain alone, the chain through the mediator, and a
refused order through `PlaceOrder` (stored nowhere)."""

from __future__ import annotations

import decimal
import typing

import pytest

from orders.adapters.database import Database
from orders.application.errors import OrderRefusedError
from orders.application.place_order import PlaceOrder, PlaceOrderItem
from orders.application.screening import (
    AcceptRule,
    BlockedSkuRule,
    OrderTotalRule,
    ScreeningChain,
    ScreeningPolicy,
    ScreenOrder,
)
from orders.main import Overrides, build
from orders.settings import Settings

PASSED_ON: typing.Final = object()


def screen(skus: list[str], total: str = "10.00") -> ScreenOrder:
    return ScreenOrder(customer_id="c-1", skus=skus, total=decimal.Decimal(total))


async def passed_on(request: object) -> object:
    return PASSED_ON


async def test_the_blocked_sku_rule_refuses_a_blocked_sku_and_passes_the_rest_on() -> None:
    rule = BlockedSkuRule(ScreeningPolicy(blocked_skus=frozenset({"kettle", "urn"})))
    rule.set_next(passed_on)

    refused = await rule.handle(screen(["tea", "urn", "kettle"]))

    assert refused is not None
    assert (refused.accepted, refused.rule, refused.detail) == (
        False,
        "blocked_sku",
        "sku kettle, urn is blocked",
    )
    assert await rule.handle(screen(["tea"])) is PASSED_ON


async def test_the_order_total_rule_refuses_only_above_the_limit() -> None:
    rule = OrderTotalRule(ScreeningPolicy(max_order_total=decimal.Decimal("50.00")))
    rule.set_next(passed_on)

    refused = await rule.handle(screen(["tea"], total="50.01"))

    assert refused is not None
    assert (refused.accepted, refused.rule) == (False, "order_total")
    assert await rule.handle(screen(["tea"], total="50.00")) is PASSED_ON


async def test_without_limits_the_rules_pass_everything_on() -> None:
    for rule in (BlockedSkuRule(ScreeningPolicy()), OrderTotalRule(ScreeningPolicy())):
        rule.set_next(passed_on)
        assert await rule.handle(screen(["kettle"], total="999999.00")) is PASSED_ON


async def test_the_last_rule_accepts() -> None:
    accepted = await AcceptRule().handle(screen(["tea"]))

    assert accepted is not None
    assert (accepted.accepted, accepted.rule) == (True, "accept")


def test_the_chain_is_drawn_in_the_order_its_rules_are_tried() -> None:
    chain = ScreeningChain.of([BlockedSkuRule, OrderTotalRule, AcceptRule])

    assert chain.rules == ["BlockedSkuRule", "OrderTotalRule", "AcceptRule"]
    assert chain.mermaid.startswith("sequenceDiagram")
    assert "BlockedSkuRule->>OrderTotalRule: next(request)" in chain.mermaid


def kettle_order(unit_price: str = "3.00") -> PlaceOrder:
    item = PlaceOrderItem(sku="kettle", quantity=1, unit_price=decimal.Decimal(unit_price))
    return PlaceOrder(customer_id="c-1", items=[item])


async def test_the_service_screens_with_its_settings_and_stores_no_refused_order(
    database: Database, stored_rows: typing.Callable[[], typing.Awaitable[dict[str, int]]]
) -> None:
    settings = Settings(
        signing="off",
        database_url=str(database.engine.url),
        blocked_skus=frozenset({"kettle"}),
        max_order_total=decimal.Decimal("100.00"),
    )
    orders = build(settings, overrides=Overrides(database=database))

    with pytest.raises(OrderRefusedError, match="refused by the blocked_sku rule") as raised:
        await orders.requests.send(kettle_order())
    assert raised.value.rule == "blocked_sku"
    assert await stored_rows() == {"orders": 0, "sagas": 0}

    item = PlaceOrderItem(sku="tea", quantity=1, unit_price=decimal.Decimal("100.01"))
    with pytest.raises(OrderRefusedError, match="order_total"):
        await orders.requests.send(PlaceOrder(customer_id="c-1", items=[item]))

    item = PlaceOrderItem(sku="tea", quantity=1, unit_price=decimal.Decimal("99.00"))
    placed = await orders.requests.send(PlaceOrder(customer_id="c-1", items=[item]))
    assert placed.screening.rule == "accept"
