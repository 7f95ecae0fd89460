"""`KafkaSecurity`: the TLS and SASL settings of the environment reach aiokafka's clients.

Checked on the clients built, without a network: the local broker (Tansu
0.6.0) has no usable SASL or TLS listener. Its `--authentication` speaks
SCRAM, but users can only be added through an authenticated request or a
storage engine this build lacks (memory only), and its `--cert`/`--key`
options cannot be given together.
"""

from __future__ import annotations

import inspect
import pathlib
import ssl
import typing

import aiokafka
import pytest
from faststream.security import SASLScram512

from cqrs.exceptions import ConfigurationError
from cqrs.outbox.memory import MemoryOutbox
from cqrs_kafka import KafkaMessageBroker, KafkaProducerAdapter
from cqrs_kafka.consumer import kafka_broker
from cqrs_kafka.dead_letter_admin import KafkaDeadLetterAdmin
from cqrs_kafka.relay import running_relay
from cqrs_kafka.security import KafkaSecurity
from cqrs_kafka.testing import (
    CA_NAME,
    PLAINTEXT_CLIENT,
    SASL_SSL_CLIENT,
    broker_security,
    client_security,
)

SASL_ENV = {
    "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "orders",
    "KAFKA_SASL_PASSWORD": "s3cret",
}


@pytest.mark.usefixtures("sasl_ssl_environment")
async def test_the_producer_takes_the_security_from_the_environment() -> None:
    producer = KafkaProducerAdapter("localhost:9092").client()
    try:
        assert client_security(producer) == SASL_SSL_CLIENT
    finally:
        await producer.stop()


@pytest.mark.usefixtures("sasl_ssl_environment")
async def test_the_relays_producer_takes_the_environments_security() -> None:
    # Nothing staged: the relay never connects.
    async with running_relay(MemoryOutbox(), "localhost:9092") as relay:
        producer = typing.cast(KafkaMessageBroker, relay.broker).producer.client()
        try:
            assert client_security(producer) == SASL_SSL_CLIENT
        finally:
            await producer.stop()


@pytest.mark.usefixtures("sasl_ssl_environment")
async def test_kafka_broker_gives_consumers_and_producer_the_environments_security() -> None:
    broker = kafka_broker("localhost:9092", client_id="inventory")

    assert await broker_security(broker) == {
        "consumer": SASL_SSL_CLIENT,
        "producer": SASL_SSL_CLIENT,
    }


@pytest.mark.usefixtures("sasl_ssl_environment")
async def test_kafka_broker_takes_the_security_it_is_given_over_the_environment() -> None:
    broker = kafka_broker("localhost:9092", security=KafkaSecurity.from_env(SASL_ENV))

    clients = await broker_security(broker)
    assert clients["consumer"]["protocol"] == clients["producer"]["protocol"] == "SASL_PLAINTEXT"


@pytest.mark.usefixtures("plaintext_environment")
async def test_kafka_broker_connects_in_plaintext_by_default() -> None:
    clients = await broker_security(kafka_broker("localhost:9092"))

    assert clients == {"consumer": PLAINTEXT_CLIENT, "producer": PLAINTEXT_CLIENT}


@pytest.mark.usefixtures("sasl_ssl_environment")
def test_the_dead_letter_admin_takes_the_environment() -> None:
    admin = KafkaDeadLetterAdmin("localhost:9092")

    assert admin.security == KafkaSecurity.from_env()
    assert admin.security.protocol == "SASL_SSL"


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


async def test_tls_trusts_the_ca_file_and_checks_host_names(kafka_ca_file: pathlib.Path) -> None:
    environ = {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": str(kafka_ca_file)}

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
    assert any(CA_NAME in subject for subject in subjects)


def test_a_ca_file_that_cannot_be_read_is_a_configuration_error(tmp_path: pathlib.Path) -> None:
    security = KafkaSecurity(protocol="SSL", cafile=str(tmp_path / "missing.pem"))

    with pytest.raises(ConfigurationError, match="KAFKA_SSL_CAFILE"):
        security.client_options()


def test_aiokafka_accepts_every_option_given() -> None:
    """The option names are aiokafka's own (a typo would only fail at connect)."""
    names = set(inspect.signature(aiokafka.AIOKafkaConsumer).parameters)
    assert set(KafkaSecurity.from_env(SASL_ENV).client_options()) <= names
