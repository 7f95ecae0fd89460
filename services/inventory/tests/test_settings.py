from __future__ import annotations

import pytest

from inventory.settings import Settings, SettingsError
from servicekit.auth import new_token

TOKEN = new_token()


def test_defaults_when_nothing_is_set() -> None:
    assert Settings.load({}) == Settings(
        database_url="sqlite+aiosqlite:///./inventory.db",
        host="127.0.0.1",
        port=8001,
        kafka_bootstrap_servers="localhost:9092",
        relay_in_process=False,
    )


def test_every_variable_is_read() -> None:
    settings = Settings.load(
        {
            "INVENTORY_DATABASE_URL": "postgresql+asyncpg://postgres@db/inventory",
            "INVENTORY_HOST": "0.0.0.0",
            "INVENTORY_PORT": "9001",
            "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092,kafka-2:9092",
            "INVENTORY_RELAY_IN_PROCESS": "true",
            "INVENTORY_MIGRATE_ON_START": "no",
            "INVENTORY_DOCS_ENABLED": "false",
            "OPERATOR_TOKENS": f"rex:{TOKEN}:stock.restock",
        }
    )
    assert settings == Settings(
        database_url="postgresql+asyncpg://postgres@db/inventory",
        host="0.0.0.0",
        port=9001,
        kafka_bootstrap_servers="kafka-1:9092,kafka-2:9092",
        relay_in_process=True,
        migrate_on_start=False,
        docs_enabled=False,
        operator_tokens=settings.operator_tokens,
    )
    operator = settings.operators().holder(TOKEN)
    assert operator is not None
    assert (operator.name, operator.scopes) == ("rex", frozenset({"stock.restock"}))


def test_an_empty_variable_takes_the_default() -> None:
    assert Settings.load({"INVENTORY_PORT": ""}).port == 8001


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("INVENTORY_PORT", "eighty"),
        ("INVENTORY_PORT", "70000"),
        ("INVENTORY_RELAY_IN_PROCESS", "sometimes"),
        ("INVENTORY_MIGRATE_ON_START", "later"),
        ("INVENTORY_DATABASE_URL", "not a url"),
        ("INVENTORY_DOCS_ENABLED", "perhaps"),
    ],
)
def test_a_bad_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^{variable}='{value}' is not valid: "):
        Settings.load({variable: value})
