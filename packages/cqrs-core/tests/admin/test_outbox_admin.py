"""`MemoryOutbox` against the outbox admin contract, and the port's helpers."""

from __future__ import annotations

import datetime

import pytest

from cqrs.admin.outbox import OutboxAdmin, after_row, checked_row_id, row_cursor, topic_stats
from cqrs.exceptions import DeadRowNotFoundError, InvalidAdminRequestError
from cqrs.message_brokers.protocol import Message
from cqrs.outbox.memory import MemoryOutbox
from cqrs.outbox.models import OutboxStatus
from cqrs.outbox.relay import OutboxStore
from cqrs.testing.clock import FakeClock
from cqrs.testing.outbox_admin import OutboxAdminContract


class TestMemoryOutboxAdmin(OutboxAdminContract):
    @pytest.fixture
    def admin(self, clock: FakeClock) -> MemoryOutbox:
        return MemoryOutbox(clock)

    def relay_side(self, admin: OutboxAdmin) -> OutboxStore:
        assert isinstance(admin, MemoryOutbox)
        return admin

    async def write(self, admin: OutboxAdmin, messages: list[Message]) -> None:
        assert isinstance(admin, MemoryOutbox)
        admin.stage(messages)


def test_a_row_cursor_reads_back_as_the_id_it_pages_after() -> None:
    assert after_row(None) == 0
    assert after_row(row_cursor(2**63 - 1)) == 2**63 - 1


@pytest.mark.parametrize("row_id", [0, -5, 2**63, True])
def test_an_id_no_row_can_have_is_not_found(row_id: int) -> None:
    with pytest.raises(DeadRowNotFoundError):
        checked_row_id(row_id)


def test_a_cursor_past_the_largest_id_is_refused() -> None:
    with pytest.raises(InvalidAdminRequestError, match="cursor"):
        after_row(str(2**63))


def test_topic_stats_keep_the_oldest_pending_time_of_many_counts() -> None:
    now = datetime.datetime(2024, 1, 1, 1, tzinfo=datetime.timezone.utc)
    minutes = [datetime.timedelta(minutes=n) for n in (5, 50, 20)]
    counts = [("t", OutboxStatus.PENDING, 1, now - age) for age in minutes]
    counts.append(("t", OutboxStatus.PUBLISHED, 7, now - datetime.timedelta(hours=9)))

    [stats] = topic_stats(counts, now)

    assert (stats.pending, stats.dead, stats.oldest_pending_age) == (3, 0, minutes[1])
