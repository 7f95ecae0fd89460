from __future__ import annotations

import datetime
import decimal

import pytest

from orders.settings import Settings, SettingsError


def test_the_defaults_follow_the_contract() -> None:
    settings = Settings.from_env({})

    assert settings == Settings(
        database_url="sqlite+aiosqlite:///./orders.db",
        host="127.0.0.1",
        port=8000,
        kafka_bootstrap_servers="localhost:9092",
        payment_credit_limit=decimal.Decimal("1000.00"),
        reply_timeout=datetime.timedelta(seconds=30),
        relay_in_process=False,
    )


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "ORDERS_DATABASE_URL": "postgresql+asyncpg://db/orders",
            "ORDERS_HOST": "0.0.0.0",
            "ORDERS_PORT": "8100",
            "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
            "PAYMENT_CREDIT_LIMIT": "99.99",
            "ORDERS_REPLY_TIMEOUT_SECONDS": "2.5",
            "ORDERS_RELAY_IN_PROCESS": "TRUE",
        }
    )

    assert settings == Settings(
        database_url="postgresql+asyncpg://db/orders",
        host="0.0.0.0",
        port=8100,
        kafka_bootstrap_servers="kafka:9092",
        payment_credit_limit=decimal.Decimal("99.99"),
        reply_timeout=datetime.timedelta(seconds=2.5),
        relay_in_process=True,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ORDERS_PORT", "eighty"),
        ("ORDERS_PORT", "70000"),
        ("PAYMENT_CREDIT_LIMIT", "lots"),
        ("PAYMENT_CREDIT_LIMIT", "-1"),
        ("PAYMENT_CREDIT_LIMIT", "NaN"),
        ("ORDERS_REPLY_TIMEOUT_SECONDS", "0"),
        ("ORDERS_REPLY_TIMEOUT_SECONDS", "soon"),
        ("ORDERS_REPLY_TIMEOUT_SECONDS", "inf"),
        ("ORDERS_RELAY_IN_PROCESS", "maybe"),
    ],
)
def test_a_value_that_does_not_parse_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^{name}="):
        Settings.from_env({name: value})


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("no", False), ("", False)])
def test_relay_in_process_reads_yes_and_no(value: str, expected: bool) -> None:
    assert Settings.from_env({"ORDERS_RELAY_IN_PROCESS": value}).relay_in_process is expected
