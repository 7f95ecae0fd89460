"""`ProducerSettings`: environment defaults, explicit arguments, and bad values."""

from __future__ import annotations

import pytest

from cqrs_kafka import KafkaProducerAdapter, ProducerSettings, kafka_producer_factory

ENV_NAMES = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_CLIENT_ID",
    "KAFKA_ACKS",
    "KAFKA_COMPRESSION",
    "KAFKA_ENABLE_IDEMPOTENCE",
    "KAFKA_LINGER_MS",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_suit_the_local_broker() -> None:
    settings = ProducerSettings()

    assert settings.bootstrap_servers == ["localhost:9092"]
    assert settings.acks == "all"
    assert settings.compression_type is None
    assert settings.enable_idempotence is False


def test_the_environment_sets_what_arguments_leave_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9092, k2:9092")
    monkeypatch.setenv("KAFKA_ACKS", "1")
    monkeypatch.setenv("KAFKA_COMPRESSION", "gzip")
    monkeypatch.setenv("KAFKA_LINGER_MS", "5")
    monkeypatch.setenv("KAFKA_CLIENT_ID", "billing")

    settings = KafkaProducerAdapter(acks=0).settings

    assert settings.bootstrap_servers == ["k1:9092", "k2:9092"]
    assert settings.acks == 0  # the argument wins
    assert settings.compression_type == "gzip"
    assert settings.linger_ms == 5
    assert settings.client_id == "billing"


def test_idempotence_can_be_turned_on_for_apache_kafka(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_ENABLE_IDEMPOTENCE", "true")

    assert ProducerSettings().enable_idempotence is True


def test_idempotence_needs_acks_all() -> None:
    with pytest.raises(ValueError, match="acks='all'"):
        KafkaProducerAdapter("localhost:9092", acks=1, enable_idempotence=True)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KAFKA_ACKS", "some"),
        ("KAFKA_COMPRESSION", "brotli"),
        ("KAFKA_ENABLE_IDEMPOTENCE", "maybe"),
    ],
)
def test_a_bad_environment_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ValueError, match=name):
        ProducerSettings()


def test_no_bootstrap_servers_is_an_error() -> None:
    with pytest.raises(ValueError, match="bootstrap servers"):
        kafka_producer_factory(dsn=" , ")


def test_the_factory_takes_the_documented_arguments() -> None:
    producer = kafka_producer_factory(dsn="localhost:9094", topics=["a", "b"], linger_ms=10)

    assert producer.settings.bootstrap_servers == ["localhost:9094"]
    assert producer.topics == ("a", "b")
    assert producer.settings.linger_ms == 10
    assert not producer.started
