"""Records nobody in the system signed, produced straight onto the command topic: the
inventory dead-letters them unread (`SignatureError`) and its stock does not move.

The system runs with signing on, as deployed: every process shares the launcher's key.
"""

from __future__ import annotations

import base64
import uuid

import cqrs
from cqrs.consumer.dead_letter import ERROR_HEADER, ORIGINAL_KEY_HEADER, REASON_HEADER
from cqrs.message_brokers.protocol import Message
from cqrs.signing import Keyring, new_secret
from cqrs_demo import ReferenceSystem
from cqrs_kafka.broker import KafkaMessageBroker
from cqrs_kafka.producer import kafka_producer_factory

from .shop import Shop
from .test_poison_commands import COMMANDS_TOPIC, DEAD_LETTER_TOPIC, eventually_on

UNITS = 5


def reserve_everything(order_id: str, sku: str) -> Message:
    """A well-formed `reserve_stock` for a made-up order, holding all of `sku`."""
    payload: dict[str, object] = {"order_id": order_id, "items": [{"sku": sku, "quantity": UNITS}]}
    event = cqrs.NotificationEvent[dict[str, object]](
        event_name="reserve_stock", topic=COMMANDS_TOPIC, payload=payload
    )
    return Message.from_event(event, key=order_id)


async def forge(bootstrap_servers: str, message: Message, keyring: Keyring | None) -> None:
    async with KafkaMessageBroker(
        kafka_producer_factory(bootstrap_servers), keyring=keyring
    ) as broker:
        await broker.send_message(message)


async def test_unsigned_and_wrongly_signed_commands_are_dead_lettered_and_change_nothing(
    shop: Shop, system: ReferenceSystem, sku: str
) -> None:
    await shop.restock(sku, UNITS)
    before = await shop.stock(sku)
    servers = system.config.bootstrap_servers
    unsigned, intruder = str(uuid.uuid4()), str(uuid.uuid4())
    intruders_keyring = Keyring({"intruder": base64.b64decode(new_secret())}, "intruder")

    await forge(servers, reserve_everything(unsigned, sku), None)
    await forge(servers, reserve_everything(intruder, sku), intruders_keyring)

    def both_there(letters: list[dict[str, str]]) -> bool:
        keys = {letter.get(ORIGINAL_KEY_HEADER) for letter in letters}
        return {unsigned, intruder} <= keys

    letters = await eventually_on(servers, DEAD_LETTER_TOPIC, both_there, timeout=60.0)
    forged = [each for each in letters if each.get(ORIGINAL_KEY_HEADER) in {unsigned, intruder}]
    assert len(forged) == 2, letters
    for letter in forged:
        assert letter[ERROR_HEADER] == "cqrs.signing.SignatureError", letter
        assert "signature" in letter[REASON_HEADER], letter
    # Nothing was held: the stock reads as before, and a real order for all of it confirms.
    assert await shop.stock(sku) == before
    order = await shop.wait_until_final(await shop.place_order(sku, UNITS))
    assert order["status"] == "confirmed", order
