"""The orders page in headless Chromium (the `browser` fixture of tests/conftest.py)."""

from __future__ import annotations

import collections.abc
import pathlib
import typing
import uuid

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from cqrs_demo import ReferenceSystem

from .running import started_system
from .shop import Shop

#: Where the browser tests leave their screenshots (ignored by git).
ARTEFACTS = pathlib.Path(__file__).parents[2] / "test-artefacts"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> collections.abc.Iterator[ReferenceSystem]:
    with started_system("sqlite", tmp_path_factory.mktemp("system-web")) as system:
        yield system


def fill(browser: webdriver.Chrome, element_id: str, value: str) -> None:
    field = browser.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(value)


async def test_an_order_placed_on_the_page_ends_confirmed(
    shop: Shop, browser: webdriver.Chrome, sku: str
) -> None:
    await shop.restock(sku, 5)
    browser.get(f"{shop.orders_url}/")
    assert browser.find_element(By.ID, "order-form").is_displayed()

    fill(browser, "customer", "carol")
    fill(browser, "sku", sku)
    fill(browser, "quantity", "2")
    fill(browser, "unit-price", "3.25")
    browser.find_element(By.ID, "place").click()

    def final_status(driver: webdriver.Chrome) -> str | None:
        text = driver.find_element(By.ID, "status").text
        return text if text in {"confirmed", "rejected"} else None

    assert WebDriverWait(browser, 60).until(final_status) == "confirmed"
    sold = await shop.wait_until_sold(sku, 2)
    assert sold == {"sku": sku, "available": 3, "reserved": 0, "sold": 2}

    # The saga's diagram marks each step, the customer's orders list this one, and the
    # stock table (read from the inventory) shows the sku.
    def lane(step: str) -> str:
        element = browser.find_element(By.CSS_SELECTOR, f'#diagram .lane[data-step="{step}"]')
        return element.get_attribute("class") or ""

    assert "done" in lane("ConfirmOrder")
    WebDriverWait(browser, 30).until(
        lambda driver: "confirmed" in driver.find_element(By.ID, "orders").text
    )
    WebDriverWait(browser, 30).until(lambda driver: sku in driver.find_element(By.ID, "stock").text)
    mermaid = browser.find_element(By.ID, "mermaid").get_attribute("textContent") or ""
    assert mermaid.startswith("sequenceDiagram")
    assert browser.find_element(By.ID, "inventory-link").get_attribute("href") == (
        f"{shop.inventory_url}/docs"
    )
    keep_screenshot(browser, "orders-page-confirmed")


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


def keep_screenshot(browser: webdriver.Chrome, name: str) -> None:
    """Save the page as `ARTEFACTS/name.png`, kept after the run for a person to look at."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    browser.set_window_size(1280, 1100)  # pyright: ignore[reportUnknownMemberType]
    (ARTEFACTS / f"{name}.png").write_bytes(browser.get_screenshot_as_png())
