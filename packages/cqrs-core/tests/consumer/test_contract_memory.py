"""The consumer contract on the in-memory transport."""

from __future__ import annotations

import pytest

from cqrs.testing.consumer import ConsumerContract, ConsumerHarness, MemoryConsumerHarness


class TestMemoryConsumer(ConsumerContract):
    @pytest.fixture
    def harness(self) -> ConsumerHarness:
        return MemoryConsumerHarness()
