"""`KafkaSecurity`: the TLS and SASL settings of the environment reach aiokafka's clients
(checked on the clients built, without a network: the local broker has no SASL)."""

from __future__ import annotations

import inspect
import pathlib
import ssl
import subprocess
import typing

import aiokafka
import pytest
from faststream.kafka import KafkaBroker
from faststream.security import SASLScram512

from cqrs.exceptions import ConfigurationError
from cqrs_kafka import KafkaProducerAdapter
from cqrs_kafka.dead_letter_admin import KafkaDeadLetterAdmin
from cqrs_kafka.security import KafkaSecurity

SASL_ENV = {
    "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "orders",
    "KAFKA_SASL_PASSWORD": "s3cret",
}


@pytest.fixture
def sasl_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SASL_ENV.items():
        monkeypatch.setenv(name, value)


def sasl_of(client: object) -> dict[str, typing.Any]:
    """What an aiokafka client (producer, consumer) will authenticate with."""
    # The producer's client is public, the consumer's is not.
    inner = getattr(client, "client", None) or typing.cast(typing.Any, client)._client
    return {
        "protocol": inner._security_protocol,
        "mechanism": inner._sasl_mechanism,
        "username": inner._sasl_plain_username,
        "password": inner._sasl_plain_password,
    }


EXPECTED = {
    "protocol": "SASL_PLAINTEXT",
    "mechanism": "SCRAM-SHA-512",
    "username": "orders",
    "password": "s3cret",
}


@pytest.mark.usefixtures("sasl_env")
async def test_the_producer_takes_sasl_from_the_environment() -> None:
    producer = KafkaProducerAdapter("localhost:9092").client()
    try:
        assert sasl_of(producer) == EXPECTED
    finally:
        await producer.stop()


@pytest.mark.usefixtures("sasl_env")
async def test_faststream_consumers_and_producer_take_the_environments_sasl() -> None:
    broker = KafkaBroker("localhost:9092", security=KafkaSecurity.from_env().faststream())
    builder = typing.cast(typing.Any, broker.config).builder
    consumer = builder()
    try:
        assert sasl_of(consumer) == EXPECTED
    finally:
        await consumer.stop()
    # What the broker's own producer (dead letters) connects with.
    connection = typing.cast(typing.Any, broker)._connection_kwargs
    assert {key: connection[key] for key in ("sasl_mechanism", "sasl_plain_username")} == {
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "orders",
    }


@pytest.mark.usefixtures("sasl_env")
def test_the_dead_letter_admin_takes_the_environment() -> None:
    admin = KafkaDeadLetterAdmin("localhost:9092")

    assert admin.security.client_options()["sasl_plain_username"] == "orders"


def test_plaintext_is_the_default_and_adds_nothing_for_faststream() -> None:
    security = KafkaSecurity.from_env({})

    assert security.client_options() == {"security_protocol": "PLAINTEXT"}
    assert security.faststream() is None


def test_the_faststream_security_is_the_mechanism_asked_for() -> None:
    assert isinstance(KafkaSecurity.from_env(SASL_ENV).faststream(), SASLScram512)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "not one of"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "KAFKA_SASL_MECHANISM"),
        ({**SASL_ENV, "KAFKA_SASL_MECHANISM": "GSSAPI"}, "KAFKA_SASL_MECHANISM"),
        ({**SASL_ENV, "KAFKA_SASL_USERNAME": ""}, "KAFKA_SASL_USERNAME"),
        ({"KAFKA_SASL_MECHANISM": "PLAIN"}, "need KAFKA_SECURITY_PROTOCOL"),
        ({"KAFKA_SSL_CAFILE": "/ca.pem"}, "need KAFKA_SECURITY_PROTOCOL SSL"),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERTFILE": "/c.pem"}, "go together"),
    ],
    ids=["protocol", "no-mechanism", "mechanism", "no-user", "sasl-off", "tls-off", "half-cert"],
)
def test_settings_that_cannot_work_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        KafkaSecurity.from_env(environ)


def test_the_password_never_shows() -> None:
    assert "s3cret" not in repr(KafkaSecurity.from_env(SASL_ENV))


@pytest.fixture
def ca_file(tmp_path: pathlib.Path) -> pathlib.Path:
    """A self-signed CA certificate, made with openssl."""
    cert, key = tmp_path / "ca.pem", tmp_path / "ca.key"
    request = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    subject = ["-subj", "/CN=cqrs-test-ca", "-keyout", str(key), "-out", str(cert)]
    subprocess.run([*request, *subject], check=True, capture_output=True)
    return cert


async def test_tls_trusts_the_ca_file_and_checks_host_names(ca_file: pathlib.Path) -> None:
    environ = {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": str(ca_file)}

    producer = KafkaProducerAdapter(
        "localhost:9092", security=KafkaSecurity.from_env(environ)
    ).client()
    try:
        context = typing.cast(typing.Any, producer).client._ssl_context
    finally:
        await producer.stop()

    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    subjects = [str(ca["subject"]) for ca in context.get_ca_certs()]
    assert any("cqrs-test-ca" in subject for subject in subjects)


def test_a_ca_file_that_cannot_be_read_is_a_configuration_error(tmp_path: pathlib.Path) -> None:
    security = KafkaSecurity(protocol="SSL", cafile=str(tmp_path / "missing.pem"))

    with pytest.raises(ConfigurationError, match="KAFKA_SSL_CAFILE"):
        security.client_options()


def test_aiokafka_accepts_every_option_given() -> None:
    """The option names are aiokafka's own (a typo would only fail at connect)."""
    names = set(inspect.signature(aiokafka.AIOKafkaConsumer).parameters)
    assert set(KafkaSecurity.from_env(SASL_ENV).client_options()) <= names
