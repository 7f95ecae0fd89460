"""`ConsumerHealth`: troubles turn a consumer unhealthy once they last."""

from __future__ import annotations

import pytest

from cqrs.consumer.health import ConsumerHealth
from cqrs.exceptions import ConfigurationError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_trouble_turns_the_consumer_unhealthy_only_once_it_lasts() -> None:
    clock = Clock()
    health = ConsumerHealth(unhealthy_after=10.0, clock=clock)

    health.trouble("fetch", "broker down")
    clock.now += 9.9
    assert health.healthy
    health.trouble("fetch", "broker still down")  # the same trouble, not a new one
    clock.now += 0.1
    assert not health.healthy
    assert health.report()["troubles"] == [
        {"what": "fetch", "detail": "broker still down", "seconds": 10.0}
    ]

    health.cleared("fetch")
    assert health.healthy
    assert health.report()["troubles"] == []


def test_each_trouble_counts_from_its_own_start() -> None:
    clock = Clock()
    health = ConsumerHealth(unhealthy_after=5.0, clock=clock)
    health.trouble("commit", "rebalancing")
    clock.now += 4.0
    health.trouble("fetch", "broker down")
    health.cleared("commit")
    clock.now += 4.0

    assert health.healthy  # fetch has lasted 4 s only


def test_the_report_shows_the_dead_letter_counts() -> None:
    health = ConsumerHealth()
    health.dead_letters += 2
    health.dead_letter_failures += 1

    assert health.report() == {
        "healthy": True,
        "troubles": [],
        "dead_letters": 2,
        "dead_letter_failures": 1,
    }


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        ConsumerHealth(unhealthy_after=-1.0)
