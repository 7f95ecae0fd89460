"""Driving the orders page in headless Chromium (the `browser` fixture of tests/conftest.py).

```
record_highlights(browser)
place_order_on_page(browser, customer="carol", sku=sku, quantity=2, unit_price="3.25")
assert wait_for_outcome(browser) == "confirmed"
assert highlights(browser)[-1] == "ConfirmOrder:done"
```
"""

from __future__ import annotations

import pathlib
import typing

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

__all__ = (
    "ARTEFACTS",
    "diagram",
    "fill",
    "highlights",
    "keep_screenshot",
    "place_order_on_page",
    "record_highlights",
    "wait_for_outcome",
)

#: Where the browser tests leave their screenshots (ignored by git).
ARTEFACTS = pathlib.Path(__file__).parents[2] / "test-artefacts"

# Records, in `window.highlights`, each new "step:state" the saga diagram highlights.
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


def fill(browser: webdriver.Chrome, element_id: str, value: str) -> None:
    field = browser.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(value)


def place_order_on_page(
    browser: webdriver.Chrome, *, customer: str, sku: str, quantity: int, unit_price: str
) -> None:
    """Fill in the order form and press "Place order"."""
    fill(browser, "customer", customer)
    fill(browser, "sku", sku)
    fill(browser, "quantity", str(quantity))
    fill(browser, "unit-price", unit_price)
    browser.find_element(By.ID, "place").click()


def wait_for_outcome(browser: webdriver.Chrome, timeout: float = 60) -> str:
    """The order's final status once the page shows it (`confirmed` or `rejected`)."""

    def final_status(driver: webdriver.Chrome) -> str | None:
        text = driver.find_element(By.ID, "status").text
        return text if text in {"confirmed", "rejected"} else None

    outcome = WebDriverWait(browser, timeout).until(final_status)
    assert outcome is not None  # `until` returns the first truthy answer
    return outcome


def diagram(browser: webdriver.Chrome) -> WebElement:
    """The saga's diagram, drawn as SVG."""
    return browser.find_element(By.CSS_SELECTOR, "#diagram svg.sequence-diagram")


def record_highlights(browser: webdriver.Chrome) -> None:
    """From now on, note each step the diagram highlights (`highlights` reads them)."""
    browser.execute_script(_RECORD_HIGHLIGHTS)  # pyright: ignore[reportUnknownMemberType]


def highlights(browser: webdriver.Chrome) -> list[str]:
    """Each "step:state" the diagram highlighted since `record_highlights`, in order."""
    recorded = browser.execute_script("return window.highlights")  # pyright: ignore[reportUnknownMemberType]
    return typing.cast("list[str]", recorded)


def keep_screenshot(browser: webdriver.Chrome, name: str) -> None:
    """Save the page as `ARTEFACTS/name.png`, kept after the run for a person to look at."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    browser.set_window_size(1280, 1100)  # pyright: ignore[reportUnknownMemberType]
    (ARTEFACTS / f"{name}.png").write_bytes(browser.get_screenshot_as_png())
