"""Telemetry through the whole system, as an operator switches it on: the four processes
run with `OTEL_TRACES_EXPORTER=console`, each printing its finished spans as JSON lines.

- One order is one trace: the `POST /orders` request, the orders relay's publish of
  `reserve_stock`, the inventory consumer's handling of it, the inventory relay's publish
  of the reply and the saga's `ConfirmOrder` step all carry the same trace id.
- The orders page links the order on screen to its trace in a tracing UI.
- The metrics each process serves (`GET /metrics` on the servers, a port of their own
  for the relays) count what happened: rows published, records by outcome (a dead letter
  among them), saga transitions.
"""

from __future__ import annotations

import asyncio
import collections.abc
import json
import pathlib
import time
import typing
import uuid

import aiokafka
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from cqrs_demo import ReferenceSystem
from cqrs_demo.processes import NAME_WIDTH
from cqrs_demo.system import Service

from .running import started_system
from .shop import Shop
from .test_poison_commands import COMMANDS_TOPIC, REPLIES_TOPIC

Json = dict[str, typing.Any]
#: Seconds the spans and counts get to show up after what makes them happened.
DEADLINE = 60.0
ORDERS = 3
#: Where the page links an order's trace (Jaeger's trace page).
TRACE_URL = "http://localhost:16686/trace/{trace_id}"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """Where the system's output goes (`system.log`)."""
    return tmp_path_factory.mktemp("system-telemetry")


@pytest.fixture(scope="module")
def system(folder: pathlib.Path) -> collections.abc.Iterator[ReferenceSystem]:
    environment = {"OTEL_TRACES_EXPORTER": "console", "ORDERS_TRACE_URL_TEMPLATE": TRACE_URL}
    with started_system("postgresql", folder, environment, relay_metrics=True) as system:
        yield system


def printed_spans(folder: pathlib.Path) -> list[tuple[str, Json]]:
    """Each span the processes printed so far, with the printing process's name."""
    spans: list[tuple[str, Json]] = []
    for line in (folder / "system.log").read_text().splitlines():
        process, rest = line[:NAME_WIDTH].strip(), line[NAME_WIDTH + 2 :]
        if rest.startswith("{") and '"trace_id"' in rest:
            printed: Json = json.loads(rest)
            if "context" in printed:
                spans.append((process, printed))
    return spans


def in_trace(spans: list[tuple[str, Json]], trace_id: str) -> set[tuple[str, str]]:
    """(process, span name) of each span of `trace_id`."""
    return {(process, span["name"]) for process, span in spans if trace_of(span) == trace_id}


def trace_of(span: Json) -> str:
    return span["context"]["trace_id"]


def confirm_step_of(spans: list[tuple[str, Json]], order_id: str) -> Json | None:
    """The saga's `ConfirmOrder` act span of the order's saga, once printed."""
    for process, span in spans:
        attributes: Json = span.get("attributes") or {}
        if (
            process == "orders"
            and attributes.get("cqrs.saga.step") == "ConfirmOrder"
            and attributes.get("cqrs.saga.id") == order_id
        ):
            return span
    return None


async def test_one_order_is_one_trace_across_both_services_and_relays(
    shop: Shop, sku: str, folder: pathlib.Path
) -> None:
    await shop.restock(sku, 5)
    order_id = await shop.place_order(sku, 1)
    assert (await shop.wait_until_final(order_id))["status"] == "confirmed"

    hops = {
        ("orders", "POST /orders"),
        ("orders-relay", f"publish {COMMANDS_TOPIC}"),
        ("inventory", f"process {COMMANDS_TOPIC}"),
        ("inventory-relay", f"publish {REPLIES_TOPIC}"),
    }
    deadline = time.monotonic() + DEADLINE
    while True:
        spans = printed_spans(folder)
        confirm = confirm_step_of(spans, order_id)
        found: set[tuple[str, str]] = (
            set() if confirm is None else in_trace(spans, trace_of(confirm))
        )
        if hops <= found or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert confirm is not None, f"no ConfirmOrder span of {order_id}: {shop.diagnostics()}"
    assert hops - found == set(), f"missing from the order's trace; it has {sorted(found)}"
    (request,) = [
        span
        for process, span in spans
        if (process, span["name"]) == ("orders", "POST /orders")
        and trace_of(span) == trace_of(confirm)
    ]
    assert request["parent_id"] is None  # the trace starts at the POST
    # The order names its trace, for the page's link.
    assert f"0x{(await shop.order(order_id))['trace_id']}" == trace_of(confirm)


def samples(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels`."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


class Counts(typing.NamedTuple):
    commands_published: float
    replies_published: float
    commands_handled: float
    commands_dead_lettered: float
    replies_handled: float
    confirmations: float


async def counts(http: httpx.AsyncClient, system: ReferenceSystem) -> Counts:
    """What the four processes' metrics count now."""

    async def scrape(url: str) -> str:
        response = await http.get(url)
        assert response.status_code == 200, response.text
        return response.text

    ports = system.config.relay_metrics_ports
    host = system.config.host
    orders, inventory, orders_relay, inventory_relay = await asyncio.gather(
        scrape(f"{system.url('orders')}/metrics"),
        scrape(f"{system.url('inventory')}/metrics"),
        scrape(f"http://{host}:{ports['orders-relay']}/metrics"),
        scrape(f"http://{host}:{ports['inventory-relay']}/metrics"),
    )
    published, records = "cqrs_outbox_published_total", "cqrs_consumer_records_total"
    commands = {"messaging_destination_name": COMMANDS_TOPIC}
    replies = {"messaging_destination_name": REPLIES_TOPIC}
    return Counts(
        commands_published=samples(
            orders_relay, published, messaging_destination_name=COMMANDS_TOPIC
        ),
        replies_published=samples(
            inventory_relay, published, messaging_destination_name=REPLIES_TOPIC
        ),
        # Inventory also consumes orders.events: count each topic's records on their own.
        commands_handled=samples(inventory, records, **commands, cqrs_consumer_outcome="handled"),
        commands_dead_lettered=samples(
            inventory, records, **commands, cqrs_consumer_outcome="dead_lettered"
        ),
        replies_handled=samples(orders, records, **replies, cqrs_consumer_outcome="handled"),
        confirmations=samples(orders, "cqrs_saga_transitions_total", cqrs_saga_step="ConfirmOrder"),
    )


async def produce_poison(bootstrap_servers: str) -> None:
    """One record that is no command at all, straight onto the command topic: the
    consumer can only dead-letter it (an invalid command would be answered)."""
    producer = aiokafka.AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(  # pyright: ignore[reportUnknownMemberType]  (aiokafka: untyped)
            COMMANDS_TOPIC, b"\xff not a command", key=uuid.uuid4().bytes
        )
    finally:
        await producer.stop()


async def test_the_metrics_count_orders_and_a_dead_letter(
    shop: Shop, sku: str, system: ReferenceSystem
) -> None:
    before = await counts(shop.http, system)
    await shop.restock(sku, ORDERS)
    placed = [await shop.place_order(sku, 1) for _ in range(ORDERS)]
    finals = await shop.wait_until_all_final(placed)
    assert {final["status"] for final in finals} == {"confirmed"}
    await produce_poison(system.config.bootstrap_servers)

    deadline = time.monotonic() + DEADLINE
    while True:
        after = await counts(shop.http, system)
        grown = Counts(*(now - then for now, then in zip(after, before, strict=True)))
        if grown.commands_dead_lettered >= 1 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert grown.commands_published == ORDERS
    assert grown.replies_published == ORDERS
    assert grown.commands_handled == ORDERS
    assert grown.commands_dead_lettered == 1
    assert grown.replies_handled == ORDERS
    assert grown.confirmations == ORDERS
    # Both consumers report their lag per partition, caught up by now.
    consumers: tuple[tuple[Service, str], ...] = (
        ("inventory", COMMANDS_TOPIC),
        ("orders", REPLIES_TOPIC),
    )
    for service, topic in consumers:
        text = (await shop.http.get(f"{system.url(service)}/metrics")).text
        lags = [
            sample
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "cqrs_consumer_lag"
            and sample.labels.get("messaging_destination_name") == topic
        ]
        assert lags, f"{service} reports no cqrs_consumer_lag of {topic}"


async def test_the_page_links_the_order_on_screen_to_its_trace(
    shop: Shop, browser: webdriver.Chrome, sku: str
) -> None:
    await shop.restock(sku, 1)
    browser.get(f"{shop.orders_url}/")
    for element_id, value in (("sku", sku), ("quantity", "1")):
        field = browser.find_element(By.ID, element_id)
        field.clear()
        field.send_keys(value)
    browser.find_element(By.ID, "place").click()

    def shown_link(driver: webdriver.Chrome) -> str | None:
        link = driver.find_element(By.ID, "trace-link")
        return link.get_attribute("href") if link.is_displayed() else None

    href = WebDriverWait(browser, 60).until(shown_link)
    order_id = browser.find_element(By.ID, "order-id").text
    trace_id = (await shop.order(order_id))["trace_id"]
    assert trace_id
    assert href == TRACE_URL.format(trace_id=trace_id)
