"""`cqrs.signing`: what a signature covers, rotation, the environment, and the consumer
pipeline dead-lettering what is not signed."""

from __future__ import annotations

import asyncio
import base64
import collections.abc
import datetime
import typing
import uuid

import pydantic
import pytest

from cqrs.consumer import EventPipeline, MemoryBroker, Outcome
from cqrs.consumer.dead_letter import ERROR_HEADER, REASON_HEADER
from cqrs.consumer.record import text_headers
from cqrs.events import EventHandler, EventMap, NotificationEvent
from cqrs.events.bootstrap import bootstrap
from cqrs.exceptions import ConfigurationError, PermanentError
from cqrs.message_brokers.protocol import Message
from cqrs.signing import (
    SIGNATURE_HEADER,
    SIGNATURE_KEY_ID_HEADER,
    SIGNED_AT_HEADER,
    Keyring,
    SignatureError,
    new_secret,
)
from cqrs.testing import registered_outbox_events

OLD, NEW = b"o" * 32, b"n" * 32
VALUE, KEY = b'{"order_id": "o-1"}', b"o-1"
HEADERS = {"event_name": "stock_reserved", "message_id": str(uuid.UUID(int=7))}


def signed(keyring: Keyring, **changes: typing.Any) -> dict[str, str]:
    return {**HEADERS, **keyring.sign(VALUE, KEY, HEADERS, signed_at_ms=1000), **changes}


def test_a_signed_record_verifies() -> None:
    keyring = Keyring({"k1": OLD}, signing_key_id="k1")

    keyring.verify(VALUE, KEY, signed(keyring))


@pytest.mark.parametrize(
    ("value", "key", "changes"),
    [
        (b'{"order_id": "o-2"}', KEY, {}),
        (VALUE, b"o-2", {}),
        (VALUE, None, {}),
        (VALUE, KEY, {"event_name": "stock_rejected"}),
        (VALUE, KEY, {"message_id": str(uuid.UUID(int=8))}),
        (VALUE, KEY, {SIGNED_AT_HEADER: "1001"}),
        (VALUE, KEY, {SIGNATURE_HEADER: "not base64!"}),
    ],
    ids=["value", "key", "no-key", "event-name", "message-id", "time", "garbled"],
)
def test_changing_what_is_signed_breaks_the_signature(
    value: bytes, key: bytes | None, changes: dict[str, str]
) -> None:
    keyring = Keyring({"k1": OLD}, signing_key_id="k1")

    with pytest.raises(SignatureError, match="does not match"):
        keyring.verify(value, key, signed(keyring, **changes))


def test_a_record_signed_with_another_secret_under_the_same_id_is_refused() -> None:
    forger = Keyring({"k1": b"f" * 32}, signing_key_id="k1")

    with pytest.raises(SignatureError, match="does not match"):
        Keyring({"k1": OLD}).verify(VALUE, KEY, signed(forger))


def test_an_unsigned_record_or_an_unknown_key_is_refused() -> None:
    keyring = Keyring({"k1": OLD}, signing_key_id="k1")
    stranger = Keyring({"k9": NEW}, signing_key_id="k9")

    with pytest.raises(SignatureError, match="not signed"):
        keyring.verify(VALUE, KEY, HEADERS)
    with pytest.raises(SignatureError, match="'k9'"):
        keyring.verify(VALUE, KEY, signed(stranger))


def test_rotation_the_old_key_verifies_and_the_new_one_signs() -> None:
    before = Keyring({"k1": OLD}, signing_key_id="k1")
    during = Keyring({"k1": OLD, "k2": NEW}, signing_key_id="k2")
    after = Keyring({"k2": NEW}, signing_key_id="k2")

    old_record, new_record = signed(before), signed(during)

    during.verify(VALUE, KEY, old_record)
    assert new_record[SIGNATURE_KEY_ID_HEADER] == "k2"
    after.verify(VALUE, KEY, new_record)
    with pytest.raises(SignatureError):
        after.verify(VALUE, KEY, old_record)


def test_a_signature_error_is_permanent() -> None:
    assert issubclass(SignatureError, PermanentError)


def test_the_keyring_comes_from_the_environment() -> None:
    old, new = new_secret(), new_secret()

    keyring = Keyring.from_env(
        {"CQRS_SIGNING_KEYS": f"k1:{old}, k2:{new}", "CQRS_SIGNING_KEY_ID": "k2"}
    )

    assert keyring is not None
    assert keyring.signing_key_id == "k2"
    assert keyring.keys == {"k1": base64.b64decode(old), "k2": base64.b64decode(new)}
    verifier = Keyring.from_env({"CQRS_SIGNING_KEYS": f"k1:{old}"})
    assert verifier is not None
    assert verifier.signing_key_id is None


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"CQRS_SIGNING_KEYS": "k1"}, "without ':'"),
        ({"CQRS_SIGNING_KEYS": "k1:***"}, "not base64"),
        ({"CQRS_SIGNING_KEYS": "k1:" + base64.b64encode(b"short").decode()}, "at least 32"),
        ({"CQRS_SIGNING_KEYS": f"k1:{new_secret()}", "CQRS_SIGNING_KEY_ID": "k2"}, "not among"),
    ],
    ids=["no-colon", "not-base64", "short", "unknown-signing-key"],
)
def test_a_wrong_environment_says_what_to_fix(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Keyring.from_env(environ)


def test_a_verify_only_keyring_does_not_sign_and_no_repr_shows_a_secret() -> None:
    keyring = Keyring({"k1": OLD})

    with pytest.raises(ConfigurationError, match="CQRS_SIGNING_KEY_ID"):
        keyring.sign(VALUE, KEY, HEADERS)
    assert "ooo" not in repr(keyring)


class Reserved(pydantic.BaseModel):
    order_id: str


StockReserved = NotificationEvent[Reserved]


@pytest.fixture(autouse=True)
def registered() -> collections.abc.Iterator[None]:
    with registered_outbox_events({"signing_test_reserved": StockReserved}):
        yield


async def test_the_pipeline_handles_signed_records_and_dead_letters_the_others() -> None:
    keyring = Keyring({"k1": OLD}, signing_key_id="k1")
    handled: list[str] = []

    class Handler(EventHandler[StockReserved]):
        async def handle(self, event: StockReserved) -> None:
            handled.append(event.payload.order_id)

    def bind(events: EventMap) -> None:
        events.bind(StockReserved, Handler)

    broker = MemoryBroker()
    pipeline = EventPipeline[typing.Any](
        mediator=bootstrap(events_mapper=bind),
        dead_letters=broker,
        consumer_name="orders",
        keyring=keyring,
    )
    outcomes: list[Outcome] = []
    for order_id, sign in (("o-signed", True), ("o-forged", False)):
        value = Reserved(order_id=order_id)
        event = StockReserved(event_name="signing_test_reserved", topic="replies", payload=value)
        await broker.send_message(Message.from_event(event, key=order_id))
        record = broker.records("replies")[-1]
        headers = text_headers(record.headers)
        if sign:
            headers |= keyring.sign(record.value, record.key, headers)
        encoded = [(name, text.encode()) for name, text in headers.items()]
        record = broker.append("signed", record.value, key=record.key, headers=encoded)
        outcomes.append(await pipeline.settle(record, released=asyncio.Event()))

    assert outcomes == [Outcome.HANDLED, Outcome.DEAD_LETTERED]
    assert handled == ["o-signed"]
    [dead] = broker.records("signed.dlq")
    reason = text_headers(dead.headers)[REASON_HEADER]
    assert reason.startswith("SignatureError: signature: the record is not signed")
    assert text_headers(dead.headers)[ERROR_HEADER] == "cqrs.signing.SignatureError"


def test_with_a_max_age_an_old_or_future_signature_is_refused() -> None:
    keyring = Keyring({"k1": OLD}, signing_key_id="k1", max_age=datetime.timedelta(hours=1))
    record = signed(keyring)  # signed at 1000 ms

    keyring.verify(VALUE, KEY, record, now_ms=1000 + 3_600_000)
    with pytest.raises(SignatureError, match="signed 3601 s ago"):
        keyring.verify(VALUE, KEY, record, now_ms=1000 + 3_601_000)
    with pytest.raises(SignatureError, match="outside"):
        keyring.verify(VALUE, KEY, record, now_ms=1000 - 120_000)


def test_the_max_age_comes_from_the_environment() -> None:
    environ = {"CQRS_SIGNING_KEYS": f"k1:{new_secret()}", "CQRS_SIGNING_MAX_AGE": "90"}

    keyring = Keyring.from_env(environ)

    assert keyring is not None
    assert keyring.max_age == datetime.timedelta(seconds=90)
    with pytest.raises(ConfigurationError, match="CQRS_SIGNING_MAX_AGE"):
        Keyring.from_env({**environ, "CQRS_SIGNING_MAX_AGE": "soon"})
