"""`MemorySagaStorage` against the saga admin contract; `SagaQuery` and `SagaAdmin` alone."""

from __future__ import annotations

import datetime
import uuid

import pytest

from cqrs.admin.saga_admin import SagaAdmin
from cqrs.admin.sagas import SagaAdminStore, SagaQuery, after_saga, saga_cursor
from cqrs.exceptions import InvalidAdminRequestError
from cqrs.saga.errors import SagaNotRetriableError
from cqrs.saga.models import SagaStatus
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.testing.clock import FakeClock
from cqrs.testing.saga_admin import SagaAdminContract


class TestMemorySagaAdmin(SagaAdminContract):
    @pytest.fixture
    def storage(self, clock: FakeClock) -> MemorySagaStorage:
        return MemorySagaStorage(clock=clock)

    @pytest.fixture
    def admin_store(self, storage: MemorySagaStorage) -> SagaAdminStore:
        return storage


@pytest.mark.parametrize(
    "query",
    [
        {"name": ""},
        {"name": "a\x00b"},
        {"min_recovery_attempts": -1},
        {"min_recovery_attempts": 2**31},
        {"running_longer_than": datetime.timedelta(seconds=-1)},
        {"running_longer_than": datetime.timedelta(days=40_000)},
    ],
    ids=str,
)
def test_a_query_no_store_could_run_is_refused(query: dict[str, object]) -> None:
    with pytest.raises(InvalidAdminRequestError):
        SagaQuery(**query)  # type: ignore[arg-type]


def test_a_saga_cursor_keeps_microseconds_and_the_time_zone() -> None:
    moment = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.timezone.utc)
    saga_id = uuid.uuid4()

    assert after_saga(saga_cursor(moment, saga_id)) == (moment, saga_id)


async def test_an_admin_without_a_recovery_worker_refuses_to_retry() -> None:
    storage = MemorySagaStorage()
    saga_id = uuid.uuid4()
    await storage.create_saga(saga_id, "ParcelSaga", {})
    await storage.update_status(saga_id, SagaStatus.COMPENSATION_FAILED)

    with pytest.raises(SagaNotRetriableError, match="recovery="):
        await SagaAdmin(storage).retry(saga_id, actor="alice")

    assert storage.audit == []
