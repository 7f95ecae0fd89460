"""`MemoryDeadLetters` against the dead-letter admin contract; `DeadLetterId` and
`DeadLetter` alone."""

from __future__ import annotations

import datetime

import pytest

from cqrs.admin.dead_letters import DeadLetter, DeadLetterAdmin, DeadLetterId, RawRecord
from cqrs.admin.memory import MemoryDeadLetters
from cqrs.exceptions import DeadLetterNotReplayableError, InvalidAdminRequestError
from cqrs.testing.clock import FakeClock
from cqrs.testing.dead_letter_admin import DeadLetterAdminContract


class TestMemoryDeadLetters(DeadLetterAdminContract):
    @pytest.fixture
    def admin(self, clock: FakeClock, topic_prefix: str) -> MemoryDeadLetters:
        return MemoryDeadLetters(clock)

    async def keep(
        self,
        admin: DeadLetterAdmin,
        dead_letter_topic: str,
        original: RawRecord,
        *,
        original_partition: int,
        original_offset: int,
        reason: str,
        error: str,
        attempts: int,
    ) -> DeadLetterId:
        assert isinstance(admin, MemoryDeadLetters)
        return admin.add(
            dead_letter_topic,
            original,
            original_partition=original_partition,
            original_offset=original_offset,
            reason=reason,
            error=error,
            attempts=attempts,
        )

    async def records_on(self, admin: DeadLetterAdmin, topic: str) -> list[RawRecord]:
        assert isinstance(admin, MemoryDeadLetters)
        return [record for record in admin.replayed if record.topic == topic]


def test_a_topic_with_slashes_survives_the_cursor() -> None:
    where = DeadLetterId("tenants/eu/orders.dlq", 3, 2**63 - 1)

    assert DeadLetterId.parse(where.cursor) == where


@pytest.mark.parametrize(
    ("topic", "partition", "offset"),
    [
        ("", 0, 0),
        ("t\x00", 0, 0),
        ("t" * 256, 0, 0),
        ("t", -1, 0),
        ("t", 2**31, 0),
        ("t", 0, 2**63),
    ],
)
def test_an_id_no_broker_could_keep_is_refused(topic: str, partition: int, offset: int) -> None:
    with pytest.raises(InvalidAdminRequestError):
        DeadLetterId.checked(topic, partition, offset)


def test_a_dead_letter_that_does_not_say_where_it_came_from_cannot_be_replayed() -> None:
    letter = DeadLetter(
        DeadLetterId("orders.dlq", 0, 0),
        original_topic=None,
        original_partition=None,
        original_offset=None,
        key=None,
        value=b"{}",
        headers={},
        reason=None,
        error=None,
        attempts=None,
        dead_lettered_at=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
    )

    with pytest.raises(DeadLetterNotReplayableError, match=r"orders\.dlq/0/0"):
        letter.replay_record()


def test_a_dead_letter_that_left_its_value_out_is_not_replayed_as_it_is() -> None:
    letter = DeadLetter(
        DeadLetterId("orders.dlq", 0, 3),
        original_topic="orders",
        original_partition=1,
        original_offset=7,
        key=b"o-1",
        value=b"",
        headers={},
        reason="ValueError: bad",
        error="builtins.ValueError",
        attempts=1,
        dead_lettered_at=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
        omitted=("value",),
    )

    with pytest.raises(DeadLetterNotReplayableError, match=r"from orders partition 1 offset 7"):
        letter.replay_record()
