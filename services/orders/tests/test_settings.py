from __future__ import annotations

import decimal
import pathlib
import re

import pytest

from cqrs.signing import new_secret
from orders.entrypoints.cli import main
from orders.main import build
from orders.settings import Settings, SettingsError


def test_the_defaults_follow_the_contract() -> None:
    settings = Settings.load({})

    assert settings == Settings(
        database_url="sqlite+aiosqlite:///./orders.db",
        host="127.0.0.1",
        port=8000,
        kafka_bootstrap_servers="localhost:9092",
        payment_credit_limit=decimal.Decimal("1000.00"),
        reply_timeout_seconds=30.0,
        relay_in_process=False,
    )


def test_every_variable_is_read() -> None:
    settings = Settings.load(
        {
            "ORDERS_DATABASE_URL": "postgresql+asyncpg://db/orders",
            "ORDERS_DATABASE_POOL_SIZE": "40",
            "ORDERS_REPLIES_IN_FLIGHT": "4",
            "ORDERS_HOST": "0.0.0.0",
            "ORDERS_PORT": "8100",
            "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
            "PAYMENT_CREDIT_LIMIT": "99.99",
            "PAYMENT_PRIMARY_FAILS": "yes",
            "ORDERS_STREAM_POLL_SECONDS": "0.5",
            "ORDERS_REPLY_TIMEOUT_SECONDS": "2.5",
            "ORDERS_RELAY_IN_PROCESS": "TRUE",
            "ORDERS_MIGRATE_ON_START": "false",
            "ORDERS_TRACE_URL_TEMPLATE": "http://jaeger:16686/trace/{trace_id}",
            "ORDERS_BLOCKED_SKUS": "kettle, urn",
            "ORDERS_MAX_ORDER_TOTAL": "500.00",
            "ORDERS_IDEMPOTENCY_TTL_SECONDS": "3600",
            "ORDERS_IDEMPOTENCY_PURGE_SECONDS": "60",
            "OPERATOR_TOKENS": "ops:s3cret-s3cret-s3cret-s3cret-:admin",
            "ORDERS_DOCS_ENABLED": "false",
            "ORDERS_CUSTOMER_AUTH": "JWT",
            "ORDERS_CUSTOMER_JWT_KEY": "a-shared-secret-of-32-bytes-or-more",
            "ORDERS_CUSTOMER_JWT_ALGORITHM": "HS256",
            "ORDERS_CUSTOMER_JWT_ISSUER": "https://id.example",
            "ORDERS_CUSTOMER_JWT_AUDIENCE": "orders",
            "ORDERS_RATE_LIMIT": "5/minute",
            "LOG_LEVEL": "debug",
            "LOG_FORMAT": "json",
            "EVENT_LOOP": "asyncio",
            "HTTP_PARSER": "h11",
            "CQRS_SIGNING": "on",
            "CQRS_SIGNING_KEYS": "k1:c2VjcmV0",
            "CQRS_SIGNING_KEY_ID": "k1",
            "CQRS_SIGNING_MAX_AGE": "600",
        }
    )

    assert settings.model_dump() == {
        "database_url": "postgresql+asyncpg://db/orders",
        "database_pool_size": 40,
        "replies_in_flight": 4,
        "host": "0.0.0.0",
        "port": 8100,
        "kafka_bootstrap_servers": "kafka:9092",
        "payment_credit_limit": decimal.Decimal("99.99"),
        "payment_primary_fails": True,
        "reply_timeout_seconds": 2.5,
        "stream_poll_seconds": 0.5,
        "inventory_url": "http://127.0.0.1:8001",
        "relay_in_process": True,
        "migrate_on_start": False,
        "trace_url_template": "http://jaeger:16686/trace/{trace_id}",
        "blocked_skus": frozenset({"kettle", "urn"}),
        "max_order_total": decimal.Decimal("500.00"),
        "idempotency_ttl_seconds": 3600.0,
        "idempotency_purge_seconds": 60.0,
        "operator_tokens": settings.operator_tokens,
        "docs_enabled": False,
        "customer_auth": "jwt",
        "customer_jwt_key": settings.customer_jwt_key,
        "customer_jwt_key_file": None,
        "customer_jwt_algorithm": "HS256",
        "customer_jwt_issuer": "https://id.example",
        "customer_jwt_audience": "orders",
        "rate_limit": "5/minute",
        "log_level": "DEBUG",
        "log_format": "json",
        "event_loop": "asyncio",
        "http_parser": "h11",
        "signing": "on",
        "signing_keys": settings.signing_keys,
        "signing_key_id": "k1",
        "signing_max_age": "600",
    }
    assert settings.signing_keys is not None
    assert settings.signing_keys.get_secret_value() == "k1:c2VjcmV0"
    assert settings.operator_tokens is not None
    assert settings.operator_tokens.get_secret_value() == "ops:" + "s3cret-" * 4 + ":admin"
    assert settings.customers().mode == "jwt"


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
        ("ORDERS_MIGRATE_ON_START", "later"),
        ("ORDERS_DATABASE_URL", "not a url"),
        ("LOG_FORMAT", "xml"),
        ("ORDERS_TRACE_URL_TEMPLATE", "http://jaeger:16686/trace/"),
        ("ORDERS_IDEMPOTENCY_TTL_SECONDS", "0"),
        ("ORDERS_IDEMPOTENCY_TTL_SECONDS", "a day"),
        ("ORDERS_IDEMPOTENCY_PURGE_SECONDS", "-5"),
        ("ORDERS_DOCS_ENABLED", "perhaps"),
        ("ORDERS_CUSTOMER_AUTH", "ldap"),
        ("ORDERS_RATE_LIMIT", "20"),
        ("ORDERS_RATE_LIMIT", "fast/second"),
    ],
)
def test_a_value_that_does_not_parse_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^{name}='{value}' is not valid: "):
        Settings.load({name: value})


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("no", False), ("", False)])
def test_relay_in_process_reads_yes_and_no(value: str, expected: bool) -> None:
    assert Settings.load({"ORDERS_RELAY_IN_PROCESS": value}).relay_in_process is expected


def test_the_environment_and_a_dot_env_file_are_read_and_empty_keeps_the_default(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("ORDERS_PORT=8200\nPAYMENT_CREDIT_LIMIT=5\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAYMENT_CREDIT_LIMIT", "7")
    monkeypatch.setenv("ORDERS_HOST", "")

    settings = Settings.load()

    assert (settings.port, settings.payment_credit_limit, settings.host) == (
        8200,
        decimal.Decimal("7"),
        "127.0.0.1",
    )


@pytest.mark.parametrize("tokens", ["ops:tooshort:admin", "ops:" + "t" * 32, "no-colons"])
def test_unusable_operator_tokens_are_refused_without_being_shown(tokens: str) -> None:
    with pytest.raises(
        SettingsError, match=r"^OPERATOR_TOKENS=\(hidden\) is not valid: "
    ) as raised:
        Settings.load({"OPERATOR_TOKENS": tokens})
    assert tokens.split(":")[1 if ":" in tokens else 0] not in str(raised.value)


@pytest.mark.parametrize(
    ("given", "names"),
    [
        ({"ORDERS_CUSTOMER_AUTH": "jwt"}, "ORDERS_CUSTOMER_JWT_KEY"),
        (
            {
                "ORDERS_CUSTOMER_AUTH": "jwt",
                "ORDERS_CUSTOMER_JWT_KEY": "not a PEM key",
                "ORDERS_CUSTOMER_JWT_ISSUER": "https://id.example",
                "ORDERS_CUSTOMER_JWT_AUDIENCE": "orders",
            },
            "ORDERS_CUSTOMER_JWT_ALGORITHM=RS256",
        ),
        (
            {
                "ORDERS_CUSTOMER_AUTH": "jwt",
                "ORDERS_CUSTOMER_JWT_KEY_FILE": "/no/such/key.pem",
                "ORDERS_CUSTOMER_JWT_ISSUER": "https://id.example",
                "ORDERS_CUSTOMER_JWT_AUDIENCE": "orders",
            },
            "ORDERS_CUSTOMER_JWT_KEY_FILE='/no/such/key.pem' cannot be read",
        ),
        (
            {
                "ORDERS_CUSTOMER_AUTH": "jwt",
                "ORDERS_CUSTOMER_JWT_KEY": "secret",
                "ORDERS_CUSTOMER_JWT_ALGORITHM": "none",
                "ORDERS_CUSTOMER_JWT_ISSUER": "https://id.example",
                "ORDERS_CUSTOMER_JWT_AUDIENCE": "orders",
            },
            "ORDERS_CUSTOMER_JWT_ALGORITHM='none'",
        ),
        (
            {
                "ORDERS_CUSTOMER_AUTH": "jwt",
                "ORDERS_CUSTOMER_JWT_KEY": "short-secret",
                "ORDERS_CUSTOMER_JWT_ALGORITHM": "HS256",
                "ORDERS_CUSTOMER_JWT_ISSUER": "https://id.example",
                "ORDERS_CUSTOMER_JWT_AUDIENCE": "orders",
            },
            "ORDERS_CUSTOMER_JWT_KEY is too short for HS256",
        ),
    ],
)
def test_a_jwt_mode_it_cannot_verify_with_stops_the_build_naming_the_variable(
    given: dict[str, str], names: str
) -> None:
    settings = Settings.load({"CQRS_SIGNING": "off", **given})
    with pytest.raises(SettingsError, match=re.escape(names)):
        build(settings)


def test_serve_refuses_to_start_without_signing_keys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for variable in ("CQRS_SIGNING", "CQRS_SIGNING_KEYS", "CQRS_SIGNING_KEY_ID"):
        monkeypatch.delenv(variable, raising=False)

    status = main(["serve"])

    # OpenTelemetry warns when an earlier test of this process installed its providers.
    error = [line for line in capsys.readouterr().err.splitlines() if "opentelemetry" not in line]
    assert status == 1
    assert len(error) == 1
    assert error[0].startswith("orders serve: CQRS_SIGNING_KEYS is unset")
    assert "CQRS_SIGNING=off" in error[0]


def test_the_keyring_comes_from_the_signing_variables() -> None:
    secret = new_secret()
    settings = Settings.load({"CQRS_SIGNING_KEYS": f"k1:{secret}", "CQRS_SIGNING_KEY_ID": "k1"})

    keyring = settings.keyring()

    assert keyring is not None
    assert (keyring.signing_key_id, keyring.key_ids) == ("k1", ("k1",))
    assert secret not in repr(settings)


def test_signing_off_said_outright_means_no_keyring() -> None:
    assert Settings.load({"CQRS_SIGNING": "off"}).keyring() is None


@pytest.mark.parametrize(
    ("keys", "key_id", "reason"),
    [
        ("k1:not base64!", "k1", "not base64"),
        ("k1:" + "YQ==", "k1", "bytes"),
        ("k1:{secret}", "k2", "not among the keys"),
    ],
)
def test_an_unusable_keyring_is_a_settings_error(keys: str, key_id: str, reason: str) -> None:
    given = {"CQRS_SIGNING_KEYS": keys.format(secret=new_secret()), "CQRS_SIGNING_KEY_ID": key_id}

    with pytest.raises(SettingsError, match=reason):
        Settings.load(given).keyring()


def test_a_signing_mode_other_than_on_or_off_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"^CQRS_SIGNING='maybe' is not valid"):
        Settings.load({"CQRS_SIGNING": "maybe"})
