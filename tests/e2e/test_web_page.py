"""The orders page in headless Chromium (the `browser` fixture of tests/conftest.py)."""

from __future__ import annotations

import collections.abc
import re
import typing
import uuid

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from cqrs_demo import ReferenceSystem

from .page import (
    diagram,
    fill,
    highlights,
    keep_screenshot,
    place_order_on_page,
    record_highlights,
    wait_for_outcome,
)
from .running import started_system
from .shop import Shop


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> collections.abc.Iterator[ReferenceSystem]:
    with started_system("sqlite", tmp_path_factory.mktemp("system-web")) as system:
        yield system


async def test_an_order_placed_on_the_page_ends_confirmed(
    shop: Shop, browser: webdriver.Chrome, sku: str
) -> None:
    await shop.restock(sku, 5)
    browser.get(f"{shop.orders_url}/")
    assert browser.find_element(By.ID, "order-form").is_displayed()

    # Every change of the diagram's highlight, as "step:state" of the current participant.
    record_highlights(browser)
    place_order_on_page(browser, customer="carol", sku=sku, quantity=2, unit_price="3.25")

    assert wait_for_outcome(browser) == "confirmed"
    sold = await shop.wait_until_sold(sku, 2)
    assert sold == {"sku": sku, "available": 3, "reserved": 0, "sold": 2, "revenue": "6.50"}

    # The saga's diagram is drawn as SVG: the saga and its steps, every message.
    svg = diagram(browser)
    mermaid = browser.find_element(By.ID, "mermaid").get_attribute("textContent") or ""
    assert mermaid.startswith("sequenceDiagram")
    participants = [
        element.get_attribute("data-participant")
        for element in svg.find_elements(By.CSS_SELECTOR, ".participant")
    ]
    assert participants == re.findall(r"^\s*participant (\w+)$", mermaid, re.M)
    assert participants[0] == "OrderSaga"
    assert "ChargeBackupPayment" in participants
    messages = svg.find_elements(By.CSS_SELECTOR, ".message")
    assert len(messages) == len(re.findall(r"^\s*\w+(?:->>|-->>|--x)\w+:", mermaid, re.M))
    assert {m.text for m in messages} >= {"act(context)", "compensate(context)", "None"}
    assert float(svg.get_attribute("width") or 0) > 400  # drawn, not an empty element

    # The highlight moved through the steps as the transitions arrived, and rests on the
    # last one, done, with the saga's box saying how it ended.
    assert highlights(browser) == [
        "OpenOrder:done",
        "ReserveStock:waiting",
        "ReserveStock:done",
        "ChargePayment:done",
        "ConfirmOrder:done",
    ]
    current = svg.find_elements(By.CSS_SELECTOR, ".message.current")
    assert [(m.get_attribute("data-from"), m.get_attribute("data-to")) for m in current] == [
        ("OrderSaga", "ConfirmOrder"),
        ("ConfirmOrder", "OrderSaga"),
    ]
    assert all("done" in (m.get_attribute("class") or "") for m in current)
    assert svg.get_attribute("data-outcome") == "confirmed"
    saga_box = svg.find_element(By.CSS_SELECTOR, '.participant[data-participant="OrderSaga"]')
    assert "confirmed" in (saga_box.get_attribute("class") or "")
    # The primary payment took it: the backup's branch is not marked.
    backup = svg.find_elements(By.CSS_SELECTOR, '.message[data-to="ChargeBackupPayment"]')
    assert all("done" not in (m.get_attribute("class") or "") for m in backup)

    # The customer's orders list this one, and the stock table (read from the
    # inventory) shows the sku.
    WebDriverWait(browser, 30).until(
        lambda driver: "confirmed" in driver.find_element(By.ID, "orders").text
    )
    WebDriverWait(browser, 30).until(lambda driver: sku in driver.find_element(By.ID, "stock").text)
    assert browser.find_element(By.ID, "inventory-link").get_attribute("href") == (
        f"{shop.inventory_url}/docs"
    )
    keep_screenshot(browser, "orders-page-confirmed")


async def test_a_rejected_order_shows_its_failed_step_and_the_compensation(
    shop: Shop, browser: webdriver.Chrome, sku: str
) -> None:
    await shop.restock(sku, 1)
    browser.get(f"{shop.orders_url}/")
    record_highlights(browser)

    place_order_on_page(browser, customer="erin", sku=sku, quantity=2, unit_price="1.00")

    assert wait_for_outcome(browser) == "rejected"
    assert browser.find_element(By.ID, "reason").text == "insufficient_stock"
    # The inventory refused the reservation: that step failed, so it is not undone, and
    # the order is rejected by undoing the step before it.
    assert highlights(browser) == [
        "OpenOrder:done",
        "ReserveStock:waiting",
        "ReserveStock:failed",
        "OpenOrder:compensated",
    ]
    svg = diagram(browser)
    [undo] = svg.find_elements(By.CSS_SELECTOR, ".message.current")
    assert (undo.get_attribute("data-to"), undo.get_attribute("data-text")) == (
        "OpenOrder",
        "compensate(context)",
    )
    assert "compensated" in (undo.get_attribute("class") or "")
    assert svg.get_attribute("data-outcome") == "rejected"
    keep_screenshot(browser, "orders-page-rejected")


#: Wraps the page's `fetch` so that the answer to its first `POST /orders` is lost on the
#: way back (the order reached the server): the page must retry that submit.
LOSE_THE_FIRST_ANSWER = """
const realFetch = window.fetch;
window.sentKeys = [];
window.fetch = async (url, init) => {
  const response = await realFetch(url, init);
  if (init && init.method === "POST") {
    window.sentKeys.push(init.headers["Idempotency-Key"]);
    if (window.sentKeys.length === 1) { throw new TypeError("the answer was lost"); }
  }
  return response;
};
"""


async def test_a_submit_whose_answer_was_lost_is_retried_under_its_key(
    shop: Shop, browser: webdriver.Chrome, sku: str
) -> None:
    await shop.restock(sku, 5)
    customer = f"dora-{uuid.uuid4().hex[:8]}"
    browser.get(f"{shop.orders_url}/")
    browser.execute_script(LOSE_THE_FIRST_ANSWER)  # pyright: ignore[reportUnknownMemberType]

    fill(browser, "customer", customer)
    fill(browser, "sku", sku)
    fill(browser, "quantity", "1")
    browser.find_element(By.ID, "place").click()

    def shown_order_id(driver: webdriver.Chrome) -> str | None:
        return driver.find_element(By.ID, "order-id").text or None

    order_id = WebDriverWait(browser, 60).until(shown_order_id)
    keys = typing.cast(
        list[str],
        browser.execute_script("return window.sentKeys"),  # pyright: ignore[reportUnknownMemberType]
    )
    assert len(set(keys)) == 1, keys  # one key, sent twice
    assert len(keys) == 2, keys
    uuid.UUID(keys[0])
    # The server placed the order once; the retry was answered with it.
    assert [order["order_id"] for order in await shop.customer_orders(customer)] == [order_id]
