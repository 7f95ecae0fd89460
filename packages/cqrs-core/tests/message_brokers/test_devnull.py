"""DevnullMessageBroker: counts every message, keeps only the last few."""

from __future__ import annotations

import cqrs


def message(name: str) -> cqrs.Message:
    return cqrs.Message(message_name=name, topic="t", payload={"name": name})


async def test_counts_every_dropped_message_but_keeps_only_the_last_ones() -> None:
    broker = cqrs.DevnullMessageBroker(keep_last=3)

    for index in range(10):
        await broker.send_message(message(f"m{index}"))

    assert broker.dropped == 10
    assert [m.message_name for m in broker.recent] == ["m7", "m8", "m9"]


async def test_keeps_everything_below_the_limit_oldest_first() -> None:
    broker = cqrs.DevnullMessageBroker(keep_last=5)

    for name in ("a", "b"):
        await broker.send_message(message(name))

    assert broker.dropped == 2
    assert [m.message_name for m in broker.recent] == ["a", "b"]


async def test_keep_last_zero_keeps_nothing_but_still_counts() -> None:
    broker = cqrs.DevnullMessageBroker(keep_last=0)

    await broker.send_message(message("a"))

    assert broker.dropped == 1
    assert broker.recent == ()


async def test_default_keeps_a_bounded_number_of_messages() -> None:
    broker = cqrs.DevnullMessageBroker()

    for index in range(1_000):
        await broker.send_message(message(str(index)))

    assert broker.dropped == 1_000
    assert len(broker.recent) == 100
    assert broker.recent[-1].message_name == "999"


async def test_recent_is_a_snapshot_not_the_live_buffer() -> None:
    broker = cqrs.DevnullMessageBroker()
    await broker.send_message(message("a"))

    snapshot = broker.recent
    await broker.send_message(message("b"))

    assert [m.message_name for m in snapshot] == ["a"]
    assert [m.message_name for m in broker.recent] == ["a", "b"]


def test_satisfies_the_message_broker_port() -> None:
    assert isinstance(cqrs.DevnullMessageBroker(), cqrs.MessageBroker)
