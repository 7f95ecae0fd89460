"""`MemorySagaStorage`: the saga storage contract, leases and versions included."""

from __future__ import annotations

import datetime
import uuid

import pytest

from cqrs.saga.errors import SagaAlreadyExistsError, SagaConcurrencyError, SagaNotFoundError
from cqrs.saga.models import SagaStatus, SagaStepAction, SagaStepStatus
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.saga.storage.protocol import RECOVERABLE_STATUSES

ACT, COMPENSATE = SagaStepAction.ACT, SagaStepAction.COMPENSATE
STARTED, COMPLETED, FAILED = SagaStepStatus.STARTED, SagaStepStatus.COMPLETED, SagaStepStatus.FAILED
LEASE = datetime.timedelta(seconds=30)
STALE = datetime.timedelta(seconds=60)


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def storage(clock: FakeClock) -> MemorySagaStorage:
    return MemorySagaStorage(clock=clock)


async def new_saga(
    storage: MemorySagaStorage, context: dict[str, object] | None = None
) -> uuid.UUID:
    saga_id = uuid.uuid4()
    await storage.create_saga(saga_id, "ParcelSaga", context or {"parcel_id": "p-1"})
    return saga_id


async def test_a_new_saga_is_pending_at_version_one(storage: MemorySagaStorage) -> None:
    saga_id = await new_saga(storage)

    state = await storage.load_saga_state(saga_id)

    assert (state.saga_id, state.name, state.status, state.version) == (
        saga_id,
        "ParcelSaga",
        SagaStatus.PENDING,
        1,
    )
    assert state.context == {"parcel_id": "p-1"}
    assert (state.recovery_attempts, state.error) == (0, None)
    assert await storage.get_step_history(saga_id) == []


async def test_creating_an_existing_id_raises_and_keeps_the_first(
    storage: MemorySagaStorage,
) -> None:
    saga_id = await new_saga(storage)

    with pytest.raises(SagaAlreadyExistsError) as raised:
        await storage.create_saga(saga_id, "OtherSaga", {"parcel_id": "p-2"})

    assert raised.value.saga_id == saga_id
    assert (await storage.load_saga_state(saga_id)).name == "ParcelSaga"


async def test_the_stored_context_is_a_copy_of_what_was_given(storage: MemorySagaStorage) -> None:
    context: dict[str, object] = {"parcel_id": "p-1"}
    saga_id = await new_saga(storage, context)

    context["parcel_id"] = "changed"

    assert (await storage.load_saga_state(saga_id)).context == {"parcel_id": "p-1"}


@pytest.mark.parametrize(
    "call",
    [
        lambda s, i: s.load_saga_state(i),
        lambda s, i: s.update_context(i, {}, 1),
        lambda s, i: s.update_status(i, SagaStatus.RUNNING),
        lambda s, i: s.log_step(i, "Weigh", ACT, STARTED),
        lambda s, i: s.start_compensation(i, "Weigh", "boom", 1),
        lambda s, i: s.get_step_history(i),
        lambda s, i: s.claim(i, "worker", LEASE),
        lambda s, i: s.release(i, "worker"),
        lambda s, i: s.increment_recovery_attempts(i),
    ],
    ids=[
        "load_saga_state",
        "update_context",
        "update_status",
        "log_step",
        "start_compensation",
        "get_step_history",
        "claim",
        "release",
        "increment_recovery_attempts",
    ],
)
async def test_every_method_raises_not_found_for_an_unknown_id(
    storage: MemorySagaStorage, call
) -> None:
    unknown = uuid.uuid4()

    with pytest.raises(SagaNotFoundError) as raised:
        await call(storage, unknown)

    assert raised.value.saga_id == unknown
    assert isinstance(raised.value, LookupError)


async def test_update_context_replaces_it_and_bumps_the_version(
    storage: MemorySagaStorage,
) -> None:
    saga_id = await new_saga(storage)

    assert await storage.update_context(saga_id, {"parcel_id": "p-1", "weight": 3}, 1) == 2
    assert await storage.update_context(saga_id, {"parcel_id": "p-1", "weight": 4}, 2) == 3

    state = await storage.load_saga_state(saga_id)
    assert (state.context, state.version) == ({"parcel_id": "p-1", "weight": 4}, 3)


async def test_update_context_with_a_stale_version_raises_and_changes_nothing(
    storage: MemorySagaStorage,
) -> None:
    saga_id = await new_saga(storage)
    await storage.update_context(saga_id, {"weight": 3}, 1)

    with pytest.raises(SagaConcurrencyError):
        await storage.update_context(saga_id, {"weight": 99}, 1)

    state = await storage.load_saga_state(saga_id)
    assert (state.context, state.version) == ({"weight": 3}, 2)


async def test_update_status_sets_the_status_and_error(storage: MemorySagaStorage) -> None:
    saga_id = await new_saga(storage)

    await storage.update_status(saga_id, SagaStatus.COMPENSATION_FAILED, "Refund: timeout")

    state = await storage.load_saga_state(saga_id)
    assert (state.status, state.error) == (SagaStatus.COMPENSATION_FAILED, "Refund: timeout")


async def test_the_log_reads_back_in_insertion_order_with_clock_timestamps(
    storage: MemorySagaStorage, clock: FakeClock
) -> None:
    saga_id = await new_saga(storage)
    written = [("Weigh", ACT, STARTED), ("Weigh", ACT, COMPLETED), ("Label", ACT, STARTED)]
    for step_name, action, status in written:
        await storage.log_step(saga_id, step_name, action, status)
        clock.advance(1)
    await storage.log_step(saga_id, "Weigh", COMPENSATE, FAILED, "printer jam")

    history = await storage.get_step_history(saga_id)

    assert [(e.step_name, e.action, e.status) for e in history] == [
        *written,
        ("Weigh", COMPENSATE, FAILED),
    ]
    assert [e.timestamp.second for e in history] == [0, 1, 2, 3]
    assert history[-1].details == "printer jam"
    assert {e.saga_id for e in history} == {saga_id}


async def test_get_step_history_returns_a_copy(storage: MemorySagaStorage) -> None:
    saga_id = await new_saga(storage)
    await storage.log_step(saga_id, "Weigh", ACT, STARTED)

    (await storage.get_step_history(saga_id)).clear()

    assert len(await storage.get_step_history(saga_id)) == 1


async def test_start_compensation_logs_the_failed_act_and_sets_compensating_at_once(
    storage: MemorySagaStorage,
) -> None:
    saga_id = await new_saga(storage)
    await storage.update_status(saga_id, SagaStatus.RUNNING)
    await storage.log_step(saga_id, "Label", ACT, STARTED)

    await storage.start_compensation(saga_id, "Label", "PrinterError: jam", 1)

    state = await storage.load_saga_state(saga_id)
    last = (await storage.get_step_history(saga_id))[-1]
    assert (state.status, state.error) == (SagaStatus.COMPENSATING, "PrinterError: jam")
    assert (last.step_name, last.action, last.status, last.details) == (
        "Label",
        ACT,
        FAILED,
        "PrinterError: jam",
    )


async def test_claim_is_exclusive_while_the_lease_runs(storage: MemorySagaStorage) -> None:
    saga_id = await new_saga(storage)

    assert await storage.claim(saga_id, "worker-a", LEASE)
    assert not await storage.claim(saga_id, "worker-b", LEASE)


async def test_the_owner_may_renew_its_claim(storage: MemorySagaStorage, clock: FakeClock) -> None:
    saga_id = await new_saga(storage)
    await storage.claim(saga_id, "worker-a", LEASE)
    clock.advance(20)

    assert await storage.claim(saga_id, "worker-a", LEASE)
    clock.advance(20)  # 40 s after the first claim, 20 s after the renewal

    assert not await storage.claim(saga_id, "worker-b", LEASE)


async def test_an_expired_lease_lets_another_owner_claim(
    storage: MemorySagaStorage, clock: FakeClock
) -> None:
    saga_id = await new_saga(storage)
    await storage.claim(saga_id, "worker-a", LEASE)

    clock.advance(LEASE.total_seconds())

    assert await storage.claim(saga_id, "worker-b", LEASE)
    assert not await storage.claim(saga_id, "worker-a", LEASE)


async def test_release_frees_the_saga_only_for_its_owner(storage: MemorySagaStorage) -> None:
    saga_id = await new_saga(storage)
    await storage.claim(saga_id, "worker-a", LEASE)

    await storage.release(saga_id, "worker-b")
    assert not await storage.claim(saga_id, "worker-b", LEASE)

    await storage.release(saga_id, "worker-a")
    assert await storage.claim(saga_id, "worker-b", LEASE)


async def test_recovery_candidates_are_stale_unfinished_sagas_oldest_first(
    storage: MemorySagaStorage, clock: FakeClock
) -> None:
    by_status: dict[SagaStatus, uuid.UUID] = {}
    for status in SagaStatus:
        saga_id = await new_saga(storage)
        await storage.update_status(saga_id, status)
        by_status[status] = saga_id
        clock.advance(1)
    clock.advance(STALE.total_seconds())

    candidates = await storage.get_sagas_for_recovery(10, stale_after=STALE)

    assert candidates == [
        by_status[status] for status in SagaStatus if status in RECOVERABLE_STATUSES
    ]
    assert set(RECOVERABLE_STATUSES) == {
        SagaStatus.PENDING,
        SagaStatus.RUNNING,
        SagaStatus.COMPENSATING,
        SagaStatus.COMPENSATION_FAILED,
    }


async def test_recovery_skips_sagas_that_changed_recently(
    storage: MemorySagaStorage, clock: FakeClock
) -> None:
    old = await new_saga(storage)
    clock.advance(STALE.total_seconds())
    fresh = await new_saga(storage)

    assert await storage.get_sagas_for_recovery(10, stale_after=STALE) == [old]

    clock.advance(30)
    await storage.update_status(old, SagaStatus.RUNNING)  # progress resets staleness
    clock.advance(30)
    assert await storage.get_sagas_for_recovery(10, stale_after=STALE) == [fresh]


async def test_recovery_skips_sagas_with_a_live_claim(
    storage: MemorySagaStorage, clock: FakeClock
) -> None:
    saga_id = await new_saga(storage)
    clock.advance(STALE.total_seconds())
    await storage.claim(saga_id, "worker-a", LEASE)

    assert await storage.get_sagas_for_recovery(10, stale_after=STALE) == []

    clock.advance(LEASE.total_seconds())
    assert await storage.get_sagas_for_recovery(10, stale_after=STALE) == [saga_id]


async def test_recovery_skips_sagas_out_of_attempts(
    storage: MemorySagaStorage, clock: FakeClock
) -> None:
    saga_id = await new_saga(storage)

    assert await storage.increment_recovery_attempts(saga_id) == 1
    assert await storage.increment_recovery_attempts(saga_id) == 2
    clock.advance(STALE.total_seconds())

    assert (await storage.load_saga_state(saga_id)).recovery_attempts == 2
    assert await storage.get_sagas_for_recovery(10, max_recovery_attempts=3, stale_after=STALE) == [
        saga_id
    ]
    assert (
        await storage.get_sagas_for_recovery(10, max_recovery_attempts=2, stale_after=STALE) == []
    )


async def test_recovery_candidates_respect_the_limit(
    storage: MemorySagaStorage, clock: FakeClock
) -> None:
    first = await new_saga(storage)
    clock.advance(1)
    second = await new_saga(storage)
    await new_saga(storage)
    clock.advance(STALE.total_seconds())

    assert await storage.get_sagas_for_recovery(2, stale_after=STALE) == [first, second]
    assert await storage.get_sagas_for_recovery(0, stale_after=STALE) == []


async def test_start_compensation_refuses_a_stale_version(storage: MemorySagaStorage) -> None:
    saga_id = await new_saga(storage)
    await storage.update_context(saga_id, {"moved": True}, 1)

    with pytest.raises(SagaConcurrencyError):
        await storage.start_compensation(saga_id, "Label", "late failure", 1)

    assert (await storage.load_saga_state(saga_id)).status is SagaStatus.PENDING


async def test_start_compensation_refuses_a_finished_saga(storage: MemorySagaStorage) -> None:
    saga_id = await new_saga(storage)
    await storage.update_status(saga_id, SagaStatus.COMPLETED)

    with pytest.raises(SagaConcurrencyError):
        await storage.start_compensation(saga_id, "Label", "late failure", 1)
