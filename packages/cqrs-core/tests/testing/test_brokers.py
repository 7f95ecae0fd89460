"""`FailingBroker`: the message broker contract while it refuses nothing, then its
refusals (by rule, at random, reproducibly) and its delay."""

from __future__ import annotations

import asyncio

import pytest

from cqrs.message_brokers.protocol import Message
from cqrs.testing.brokers import FailingBroker
from cqrs.testing.message_broker import MessageBrokerBackend, MessageBrokerContract


class FailingBrokerBackend(MessageBrokerBackend):
    def __init__(self, broker: FailingBroker) -> None:
        self.broker = self.failing = broker

    async def published(self, topic: str, count: int) -> list[Message]:
        return self.failing.topic(topic)[:count]


class TestFailingBroker(MessageBrokerContract):
    @pytest.fixture
    def backend(self) -> FailingBrokerBackend:
        return FailingBrokerBackend(FailingBroker(delay=0))


def message(name: str) -> Message:
    return Message(message_name=name, topic="parcels", payload={})


async def outcomes(broker: FailingBroker, *names: str) -> list[str]:
    """What sending each name gave: "sent", or the error's text."""
    results: list[str] = []
    for name in names:
        try:
            await broker.send_message(message(name))
        except ConnectionError as error:
            results.append(str(error))
        else:
            results.append("sent")
    return results


async def test_a_rule_refuses_the_next_matching_messages_as_often_as_asked() -> None:
    broker = FailingBroker()
    broker.refuse(2, where=lambda m: m.message_name == "paid")

    results = await outcomes(broker, "placed", "paid", "placed", "paid", "paid")

    assert results == ["sent", "broker refused paid", "sent", "broker refused paid", "sent"]
    assert [m.message_name for m in broker.messages] == ["placed", "placed", "paid"]
    assert [m.message_name for m in broker.refused] == ["paid", "paid"]


async def test_a_rule_without_a_filter_refuses_whatever_comes_next() -> None:
    broker = FailingBroker()
    broker.refuse()

    assert await outcomes(broker, "a", "b") == ["broker refused a", "sent"]


async def test_random_refusals_follow_the_rate_and_replay_with_the_seed() -> None:
    names = [f"m{n}" for n in range(200)]
    first, second = (
        FailingBroker(failure_rate=0.25, seed=7),
        FailingBroker(failure_rate=0.25, seed=7),
    )

    refused = [result != "sent" for result in await outcomes(first, *names)]

    assert refused == [result != "sent" for result in await outcomes(second, *names)]
    assert 20 < sum(refused) < 80  # about a quarter of 200
    assert {m.message_name for m in first.refused}.isdisjoint(
        m.message_name for m in first.messages
    )


def test_a_rate_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="failure_rate"):
        FailingBroker(failure_rate=1.5)


async def test_a_delay_lets_other_tasks_run_during_each_send() -> None:
    broker = FailingBroker(delay=0)
    ran: list[str] = []

    async def other() -> None:
        ran.append("other")

    task = asyncio.ensure_future(other())
    await broker.send_message(message("a"))

    assert ran == ["other"]  # it ran while the send waited
    await task
