"""The orders page in headless Chromium (the `browser` fixture of tests/conftest.py)."""

from __future__ import annotations

import collections.abc
import pathlib
import re

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

    # Every change of the diagram's highlight, as "step:state" of the current participant.
    browser.execute_script(_RECORD_HIGHLIGHTS)  # pyright: ignore[reportUnknownMemberType]

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

    # The saga's diagram is drawn as SVG: the saga and its steps, every message.
    svg = browser.find_element(By.CSS_SELECTOR, "#diagram svg.sequence-diagram")
    participants = [
        element.get_attribute("data-participant")
        for element in svg.find_elements(By.CSS_SELECTOR, ".participant")
    ]
    assert participants == [
        "OrderSaga",
        "OpenOrder",
        "ReserveStock",
        "ChargePayment",
        "ChargeBackupPayment",
        "ConfirmOrder",
    ]
    mermaid = browser.find_element(By.ID, "mermaid").get_attribute("textContent") or ""
    assert mermaid.startswith("sequenceDiagram")
    messages = svg.find_elements(By.CSS_SELECTOR, ".message")
    assert len(messages) == len(re.findall(r"^\s*\w+(?:->>|-->>|--x)\w+:", mermaid, re.M))
    assert {m.text for m in messages} >= {"act(context)", "compensate(context)", "None"}
    assert float(svg.get_attribute("width") or 0) > 400  # drawn, not an empty element

    # The highlight moved through the steps as the transitions arrived, and rests on the
    # last one, done, with the saga's box saying how it ended.
    highlights = browser.execute_script("return window.highlights")  # pyright: ignore[reportUnknownMemberType]
    assert highlights == [
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


#: Records, in `window.highlights`, each new "step:state" the diagram highlights.
_RECORD_HIGHLIGHTS = """
window.highlights = [];
const svg = document.querySelector("#diagram svg");
new MutationObserver(() => {
  const current = svg.querySelector(".participant.current");
  if (!current) { return; }
  const state = ["waiting", "done", "failed", "compensated"]
    .find((name) => current.classList.contains(name));
  const entry = current.dataset.participant + ":" + state;
  if (window.highlights[window.highlights.length - 1] !== entry) {
    window.highlights.push(entry);
  }
}).observe(svg, {attributes: true, subtree: true, attributeFilter: ["class"]});
"""


def keep_screenshot(browser: webdriver.Chrome, name: str) -> None:
    """Save the page as `ARTEFACTS/name.png`, kept after the run for a person to look at."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    browser.set_window_size(1280, 1100)  # pyright: ignore[reportUnknownMemberType]
    (ARTEFACTS / f"{name}.png").write_bytes(browser.get_screenshot_as_png())
