"""Message.from_json: a stored message keeps its JSON body and decodes it only when read."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import uuid
from collections.abc import Callable

import pytest

from cqrs.message_brokers.protocol import Message

BODY = b'{"order_id": "o1", "amount": 5}'


def stored() -> Message:
    return Message.from_json("placed", "orders", BODY, uuid.UUID(int=7), key="o1")


def test_the_payload_is_decoded_on_first_read_and_kept() -> None:
    message = stored()

    payload = message.payload

    assert payload == {"order_id": "o1", "amount": 5}
    assert message.payload is payload
    assert message.body == BODY


def test_a_stored_message_equals_the_message_built_from_its_payload() -> None:
    built = Message("placed", "orders", {"order_id": "o1", "amount": 5}, uuid.UUID(int=7), "o1")

    assert stored() == built
    assert built.body is None
    assert repr(stored()) == repr(built)


def test_a_changed_copy_drops_the_stored_body() -> None:
    # The body is the payload's JSON; a copy with another payload must not send the old one.
    changed = dataclasses.replace(stored(), payload={"order_id": "o2"})

    assert changed.body is None
    assert changed.payload == {"order_id": "o2"}


def pickled(message: Message) -> Message:
    restored: Message = pickle.loads(pickle.dumps(message))
    return restored


@pytest.mark.parametrize("duplicate", [copy.copy, copy.deepcopy, pickled])
def test_copies_and_pickles_keep_the_payload(duplicate: Callable[[Message], Message]) -> None:
    assert duplicate(stored()).payload == {"order_id": "o1", "amount": 5}


def test_other_missing_attributes_still_raise() -> None:
    missing = "nope"  # a name the type checker cannot see, as a typo would be
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        getattr(stored(), missing)
