"""The read side and the payment fallback, on the running system.

- `GET /orders?customer_id=` lists the customer's orders with their outcome,
  total and timing, kept from the order's domain events.
- With the primary payment provider down (`PAYMENT_PRIMARY_FAILS=true`) every
  order still confirms, through the backup provider, and after three failures
  in a row the circuit breaker opens: the primary is not called any more. The
  page's saga diagram shows it: the failure branch taken, the backup done,
  and the orders server's log says each order the backup charged (the
  `PaymentFellBack` event the step records).
"""

from __future__ import annotations

import collections.abc
import pathlib
import uuid

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from cqrs_demo import ReferenceSystem

from . import page
from .running import started_system
from .shop import Shop

#: The orders placed with the primary down: three open the breaker, the rest pass it by.
ORDERS_WITH_THE_PRIMARY_DOWN = 5


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> collections.abc.Iterator[ReferenceSystem]:
    folder = tmp_path_factory.mktemp("system-payment")
    with started_system("sqlite", folder, {"PAYMENT_PRIMARY_FAILS": "true"}) as system:
        yield system


async def test_the_backup_provider_confirms_orders_and_the_breaker_opens(
    shop: Shop, sku: str, system: ReferenceSystem
) -> None:
    customer = f"payer-{uuid.uuid4().hex[:8]}"
    await shop.restock(sku, ORDERS_WITH_THE_PRIMARY_DOWN)
    order_ids = [
        await shop.place_order(sku, 1, customer=customer)
        for _ in range(ORDERS_WITH_THE_PRIMARY_DOWN)
    ]

    orders = await shop.wait_until_all_final(order_ids)

    assert {order["status"] for order in orders} == {"confirmed"}
    for order in orders:
        steps = [entry["step"] for entry in order["history"]]
        assert "ChargeBackupPayment" in steps
    # The fallback says why it ran: the provider failing, the breaker opening on the third
    # failure in a row, then the open breaker keeping the last orders from the primary.
    log = system_log(system)
    assert "PaymentUnavailableError" in log
    assert "circuit breaker opened" in log
    assert "circuit breaker still open" in log
    # The backup's step records PaymentFellBack; its in-process handler says so.
    for order_id in order_ids:
        assert f"order {order_id}: the backup payment provider took the charge" in log

    summaries = await shop.customer_orders(customer)
    assert sorted(summary["order_id"] for summary in summaries) == sorted(order_ids)
    assert {summary["status"] for summary in summaries} == {"confirmed"}
    assert all(summary["decided_at"] is not None for summary in summaries)
    assert {summary["total"] for summary in summaries} == {"1.00"}


async def test_the_page_shows_the_backup_provider_taking_the_payment(
    shop: Shop, browser: webdriver.Chrome, sku: str
) -> None:
    await shop.restock(sku, 1)
    browser.get(f"{shop.orders_url}/")
    page.record_highlights(browser)

    page.place_order_on_page(browser, customer="dora", sku=sku, quantity=1, unit_price="2.00")

    assert page.wait_for_outcome(browser) == "confirmed"
    assert page.highlights(browser) == [
        "OpenOrder:done",
        "ReserveStock:waiting",
        "ReserveStock:done",
        "ChargeBackupPayment:done",
        "ConfirmOrder:done",
    ]
    svg = page.diagram(browser)

    def classes(selector: str) -> list[set[str]]:
        found = svg.find_elements(By.CSS_SELECTOR, f".message{selector}")
        assert found, selector
        return [set((m.get_attribute("class") or "").split()) for m in found]

    # The backup's act is done, the primary's call and its failure are marked failed, and
    # the primary's answer in the branch not taken is left alone.
    act = '[data-text="act(context)"]'
    assert all("done" in c for c in classes(f'[data-to="ChargeBackupPayment"]{act}'))
    assert all("failed" in c for c in classes(f'[data-to="ChargePayment"]{act}'))
    assert all("failed" in c for c in classes('[data-arrow="--x"]'))
    assert classes('[data-from="ChargePayment"][data-arrow="-->>"]') == [{"message"}]
    primary = svg.find_element(By.CSS_SELECTOR, '.participant[data-participant="ChargePayment"]')
    assert "failed" in (primary.get_attribute("class") or "")
    assert svg.get_attribute("data-outcome") == "confirmed"
    page.keep_screenshot(browser, "orders-page-backup-payment")


def system_log(system: ReferenceSystem) -> str:
    """What the system's processes have written so far (`running.started_system`'s log)."""
    return pathlib.Path(system.supervisor.output.name).read_text()
