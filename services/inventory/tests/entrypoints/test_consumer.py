"""The consumers' fetch settings: the commands' consumer picks records up at the library's
short default wait, the sales' consumer (nothing waits for it) polls a tenth as often."""

from __future__ import annotations

import collections.abc
import pathlib
import typing

import pytest

from inventory.adapters.kafka import CONSUMER_GROUP, ORDER_EVENTS_GROUP
from inventory.entrypoints.consumer import SALES_FETCH_MAX_WAIT_MS
from inventory.main import Inventory, build
from inventory.settings import Settings


@pytest.fixture
def build_inventory(tmp_path: pathlib.Path) -> collections.abc.Callable[[], Inventory]:
    """Wire the service (nothing connects) after the test has set its environment."""

    def wire() -> Inventory:
        url = f"sqlite+aiosqlite:///{tmp_path}/inventory.db"
        return build(Settings(signing="off", database_url=url))

    return wire


def fetch_waits(inventory: Inventory) -> dict[str, int]:
    """Each consumer group's `fetch_max_wait_ms`, as its aiokafka consumer will get it."""
    waits: dict[str, int] = {}
    broker: typing.Any = inventory.consumer
    subscribers: list[typing.Any] = list(broker.subscribers)
    for subscriber in subscribers:
        # FastStream keeps the aiokafka arguments on the subscriber until it starts.
        options: dict[str, typing.Any] = subscriber._connection_args
        waits[subscriber.group_id] = options["fetch_max_wait_ms"]
    return waits


def test_the_sales_consumer_waits_longer_than_the_commands_consumer(
    build_inventory: collections.abc.Callable[[], Inventory], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAFKA_FETCH_MAX_WAIT_MS", raising=False)

    waits = fetch_waits(build_inventory())

    assert waits == {CONSUMER_GROUP: 10, ORDER_EVENTS_GROUP: SALES_FETCH_MAX_WAIT_MS}
    assert SALES_FETCH_MAX_WAIT_MS == 100


@pytest.mark.parametrize(
    ("variable", "commands", "sales"), [("5", 5, SALES_FETCH_MAX_WAIT_MS), ("500", 500, 500)]
)
def test_the_environments_wait_applies_to_the_sales_consumer_only_when_longer(
    build_inventory: collections.abc.Callable[[], Inventory],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    commands: int,
    sales: int,
) -> None:
    monkeypatch.setenv("KAFKA_FETCH_MAX_WAIT_MS", variable)

    waits = fetch_waits(build_inventory())

    assert waits == {CONSUMER_GROUP: commands, ORDER_EVENTS_GROUP: sales}
