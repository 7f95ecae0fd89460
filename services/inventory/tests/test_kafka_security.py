"""The Kafka security variables (`KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*`, `KAFKA_SSL_*`)
reach every Kafka client of the wired service, checked on the clients it would make
(without a network: the local broker speaks neither SASL nor TLS)."""

from __future__ import annotations

import collections.abc
import pathlib

import pytest

from cqrs_kafka.security import KafkaSecurity
from cqrs_kafka.testing import PLAINTEXT_CLIENT, SASL_SSL_CLIENT, broker_security
from inventory.main import Inventory, build
from inventory.settings import Settings


@pytest.fixture
async def inventory(tmp_path: pathlib.Path) -> collections.abc.AsyncIterator[Inventory]:
    """The wired service, built after the test's environment is set (nothing connects)."""
    url = f"sqlite+aiosqlite:///{tmp_path}/inventory.db"
    inventory = build(Settings(signing="off", database_url=url))
    yield inventory
    await inventory.engine.dispose()


@pytest.mark.usefixtures("sasl_ssl_environment")
async def test_the_consumers_and_their_dead_letters_connect_with_the_environments_security(
    inventory: Inventory,
) -> None:
    clients = await broker_security(inventory.consumer)

    assert clients == {"consumer": SASL_SSL_CLIENT, "producer": SASL_SSL_CLIENT}


@pytest.mark.usefixtures("sasl_ssl_environment")
def test_the_dead_letter_console_connects_with_the_environments_security(
    inventory: Inventory,
) -> None:
    admin = inventory.dead_letters

    assert admin.security == KafkaSecurity.from_env()
    assert admin.security.protocol == "SASL_SSL"


@pytest.mark.usefixtures("plaintext_environment")
async def test_the_consumers_connect_in_plaintext_by_default(inventory: Inventory) -> None:
    clients = await broker_security(inventory.consumer)

    assert clients == {"consumer": PLAINTEXT_CLIENT, "producer": PLAINTEXT_CLIENT}
