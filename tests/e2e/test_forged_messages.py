"""Records nobody in the system signed (unsigned, or signed with a key the system does not
know), produced straight onto a topic: the consumer dead-letters them unread
(`SignatureError`, reason `signature`) and nothing changes.

- `reserve_stock` on `inventory.commands`: the inventory holds nothing.
- `release_stock` on `inventory.commands` for an order whose units are held: they stay
  held (a release the system signed frees them, so the test is not vacuous).
- `stock_reserved` on `inventory.replies` for a pending order: the order is not
  confirmed; the inventory's real reply decides it.

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
from .test_poison_commands import COMMANDS_TOPIC, DEAD_LETTER_TOPIC, REPLIES_TOPIC, eventually_on

UNITS = 5
REPLIES_DEAD_LETTER_TOPIC = f"{REPLIES_TOPIC}.dlq"


def message(name: str, topic: str, payload: dict[str, object]) -> Message:
    """A well-formed record of `name` on `topic`, keyed by its order id as the system's are."""
    event = cqrs.NotificationEvent[dict[str, object]](event_name=name, topic=topic, payload=payload)
    return Message.from_event(event, key=str(payload["order_id"]))


def reserve_everything(order_id: str, sku: str) -> Message:
    """A well-formed `reserve_stock` for a made-up order, holding all of `sku`."""
    items = [{"sku": sku, "quantity": UNITS}]
    return message("reserve_stock", COMMANDS_TOPIC, {"order_id": order_id, "items": items})


def release(order_id: str) -> Message:
    """A well-formed `release_stock`: give back what the order holds."""
    return message("release_stock", COMMANDS_TOPIC, {"order_id": order_id})


def stock_reserved(order_id: str) -> Message:
    """A well-formed `stock_reserved` reply: the inventory holds the order's stock."""
    return message("stock_reserved", REPLIES_TOPIC, {"order_id": order_id})


def intruders_keyring() -> Keyring:
    """A keyring of a key the system does not know."""
    return Keyring({"intruder": base64.b64decode(new_secret())}, "intruder")


async def forge_twice(bootstrap_servers: str, record: Message) -> None:
    """Produce `record` unsigned, then signed with an intruder's key."""
    await forge(bootstrap_servers, record, None)
    await forge(bootstrap_servers, record, intruders_keyring())


def systems_keyring(system: ReferenceSystem) -> Keyring:
    """The keyring every process of `system` signs with."""
    keyring = Keyring.from_env(system.config.signing)
    assert keyring is not None, "the system runs with signing on"
    return keyring


async def dead_letters_of(
    bootstrap_servers: str, topic: str, key: str, count: int
) -> list[dict[str, str]]:
    """The `count` letters on `topic` of records keyed `key`, each asserted dead-lettered
    for its signature."""

    def all_there(letters: list[dict[str, str]]) -> bool:
        return len(of_key(letters)) >= count

    def of_key(letters: list[dict[str, str]]) -> list[dict[str, str]]:
        return [letter for letter in letters if letter.get(ORIGINAL_KEY_HEADER) == key]

    forged = of_key(await eventually_on(bootstrap_servers, topic, all_there, timeout=60.0))
    assert len(forged) == count, forged
    for letter in forged:
        assert letter[ERROR_HEADER] == "cqrs.signing.SignatureError", letter
        assert "signature" in letter[REASON_HEADER], letter
    return forged


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

    await forge(servers, reserve_everything(unsigned, sku), None)
    await forge(servers, reserve_everything(intruder, sku), intruders_keyring())

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


async def test_a_release_nobody_signed_leaves_held_units_held(
    shop: Shop, system: ReferenceSystem, sku: str
) -> None:
    await shop.restock(sku, UNITS)
    servers = system.config.bootstrap_servers
    # Units held for an order, as a reserve the system signed holds them.
    holder = str(uuid.uuid4())
    await forge(servers, reserve_everything(holder, sku), systems_keyring(system))
    held = await shop.wait_for_stock(sku, lambda stock: stock["reserved"] == UNITS)

    await forge_twice(servers, release(holder))

    await dead_letters_of(servers, DEAD_LETTER_TOPIC, holder, count=2)
    assert await shop.stock(sku) == held
    # The same release, signed by the system, is obeyed: the forgeries were refused for
    # their signatures alone.
    await forge(servers, release(holder), systems_keyring(system))
    freed = await shop.wait_for_stock(sku, lambda stock: stock["reserved"] == 0)
    assert freed["available"] == UNITS


async def test_a_stock_reserved_nobody_signed_does_not_confirm_a_pending_order(
    shop: Shop, system: ReferenceSystem, sku: str
) -> None:
    # No stock of the sku at all: the inventory's real reply can only reject the order. The
    # orders relay is down, so the order waits for a reply that is not coming yet.
    system.kill("orders-relay")
    try:
        order_id = await shop.place_order(sku, 1)
        await forge_twice(system.config.bootstrap_servers, stock_reserved(order_id))

        await dead_letters_of(
            system.config.bootstrap_servers, REPLIES_DEAD_LETTER_TOPIC, order_id, count=2
        )
        assert (await shop.order(order_id))["status"] != "confirmed"
    finally:
        system.restart("orders-relay")

    order = await shop.wait_until_final(order_id)
    assert order["status"] == "rejected", order
