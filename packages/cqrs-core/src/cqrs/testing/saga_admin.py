"""`SagaAdminContract`: the tests every `cqrs.admin.SagaAdminStore` must pass.

Subclass it in a test module under a name starting with `Test`, give it a
`storage` fixture (the `ISagaStorage`) built on the contract's `clock`, and an
`admin_store` fixture over the same sagas:

```python
import pytest

from cqrs.admin.sagas import SagaAdminStore
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
```

The suite writes sagas through the storage, as the engine does, and checks
what the admin store shows and does. Its retry tests run a small saga of
its own (`ParcelSaga`) through `cqrs.admin.SagaAdmin` and a
`SagaRecoveryWorker` on the storage. It needs pytest and pytest-asyncio (the
tests carry the `asyncio` mark), a fresh, empty storage per test, and a
storage and admin store that take every time from `clock`, a `FakeClock`
that starts at 2024-01-01 00:00 UTC and moves only when a test says so.
"""

from __future__ import annotations

import dataclasses
import datetime
import typing
import uuid

import pytest

from cqrs.admin.audit import AdminAction, AuditEntry
from cqrs.admin.paging import MAX_PAGE_SIZE
from cqrs.admin.saga_admin import SagaAdmin
from cqrs.admin.sagas import SagaAdminStore, SagaQuery, SagaSummary, saga_target
from cqrs.clock import utc_now
from cqrs.container.di import DIContainer
from cqrs.exceptions import InvalidAdminRequestError
from cqrs.saga.errors import (
    SagaConcurrencyError,
    SagaNotFoundError,
    SagaNotResolvableError,
    SagaNotRetriableError,
)
from cqrs.saga.execution import CompensationPolicy, SagaRunner
from cqrs.saga.models import (
    SagaContext,
    SagaLogEntry,
    SagaStatus,
    SagaStepAction,
    SagaStepStatus,
    SagaWait,
)
from cqrs.saga.recovery import SagaRecoveryWorker
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.protocol import ISagaStorage
from cqrs.testing.clock import FakeClock

__all__ = (
    "SagaAdminContract",
    "ParcelSaga",
    "ParcelContext",
    "Weigh",
    "PrintLabel",
    "LabelPrinterDown",
    "ScaleDown",
    "leave_compensation_failed",
)

_ACT, _COMPENSATE = SagaStepAction.ACT, SagaStepAction.COMPENSATE
_STARTED, _COMPLETED = SagaStepStatus.STARTED, SagaStepStatus.COMPLETED
_LEASE = datetime.timedelta(seconds=30)
_SECOND = datetime.timedelta(seconds=1)
_UNFINISHED = [status for status in SagaStatus if not status.is_final]
_FINAL = [status for status in SagaStatus if status.is_final]
_BAD_TEXT = ["", "   ", "nul\x00inside", "surrogate \ud800", "x" * 2001]


# -- the saga the retry tests run -------------------------------------------------


class LabelPrinterDown(Exception):
    """`PrintLabel` always fails with it: the saga compensates."""


class ScaleDown(Exception):
    """`Weigh`'s compensation fails with it while `Weigh.scale_down` is set."""


@dataclasses.dataclass
class ParcelContext(SagaContext):
    """The parcel `ParcelSaga` ships, and its weight once weighed."""

    parcel_id: str = "p-1"
    weight: int | None = None


class Weigh(SagaStepHandler[ParcelContext, int]):
    """Weighs the parcel; undoing it needs the scale, which a test may take down."""

    scale_down: typing.ClassVar[bool] = False

    async def act(self, context: ParcelContext) -> SagaStepResult[ParcelContext, int]:
        context.weight = 3
        return self._generate_step_result(3)

    async def compensate(self, context: ParcelContext) -> None:
        if Weigh.scale_down:
            raise ScaleDown("the scale does not answer")
        context.weight = None


class PrintLabel(SagaStepHandler[ParcelContext, None]):
    """Always fails (`LabelPrinterDown`), so the saga compensates `Weigh`."""

    async def act(self, context: ParcelContext) -> SagaStepResult[ParcelContext, None]:
        raise LabelPrinterDown("out of labels")


class ParcelSaga(Saga[ParcelContext]):
    """`Weigh`, then `PrintLabel`, which fails: the saga the retry tests run."""

    steps = (Weigh, PrintLabel)


_ONE_TRY = CompensationPolicy(attempts=1)


async def leave_compensation_failed(
    storage: ISagaStorage, clock: typing.Callable[[], datetime.datetime] = utc_now
) -> uuid.UUID:
    """Run a new `ParcelSaga` on `storage` while `Weigh` cannot be undone; return its id.

    The saga ends `compensation_failed`, as one that needs a person: `PrintLabel`
    failed and `Weigh`'s compensation failed too. `Weigh` works again afterwards, so
    a retry then compensates it.
    """
    Weigh.scale_down = True
    saga_id = uuid.uuid4()
    runner = SagaRunner(ParcelSaga, DIContainer(), storage, compensation=_ONE_TRY, clock=clock)
    try:
        with pytest.raises(LabelPrinterDown):
            async for _ in runner.stream(ParcelContext(), saga_id):
                pass
    finally:
        Weigh.scale_down = False
    return saga_id


class SagaAdminContract:
    """The saga admin contract as pytest tests; subclass it as `Test...` to run it.

    The subclass overrides the `storage` and `admin_store` fixtures; see the
    module docstring.
    """

    pytestmark = pytest.mark.asyncio

    @pytest.fixture
    def clock(self) -> FakeClock:
        """The clock the storage and its admin store must read every time from."""
        return FakeClock()

    @pytest.fixture
    def storage(self, clock: FakeClock) -> ISagaStorage:
        """Override: a fresh, empty saga storage whose clock is `clock`."""
        raise NotImplementedError(f"{type(self).__name__} must override the `storage` fixture")

    @pytest.fixture
    def admin_store(self, storage: ISagaStorage) -> SagaAdminStore:
        """Override: the admin side of `storage`, over the same sagas."""
        raise NotImplementedError(f"{type(self).__name__} must override `admin_store`")

    @pytest.fixture(autouse=True)
    def _scale_up(self) -> typing.Iterator[None]:
        Weigh.scale_down = False
        yield
        Weigh.scale_down = False

    # -- helpers --------------------------------------------------------------

    async def _saga(
        self,
        storage: ISagaStorage,
        status: SagaStatus = SagaStatus.RUNNING,
        name: str = "ParcelSaga",
        context: typing.Mapping[str, typing.Any] | None = None,
    ) -> uuid.UUID:
        saga_id = uuid.uuid4()
        await storage.create_saga(saga_id, name, context or {"parcel_id": "p-1"})
        await storage.update_status(saga_id, status, f"{status.value}: why")
        return saga_id

    async def _waiting(
        self, storage: ISagaStorage, deadline: datetime.datetime
    ) -> tuple[uuid.UUID, SagaWait]:
        saga_id = await self._saga(storage)
        wait = SagaWait("Ship", _ACT, deadline)
        await storage.record_step(
            saga_id,
            "Ship",
            _ACT,
            _STARTED,
            context={"parcel_id": "p-1"},
            current_version=1,
            wait=wait,
        )
        return saga_id, wait

    async def _ids(
        self, admin_store: SagaAdminStore, query: SagaQuery | None = None
    ) -> list[uuid.UUID]:
        page = await admin_store.list_sagas(query, limit=MAX_PAGE_SIZE)
        assert page.next_cursor is None
        return [saga.saga_id for saga in page.items]

    async def _compensation_failed(self, storage: ISagaStorage, clock: FakeClock) -> uuid.UUID:
        saga_id = await leave_compensation_failed(storage, clock)
        assert (await storage.load_saga_state(saga_id)).status is SagaStatus.COMPENSATION_FAILED
        return saga_id

    def _admin(
        self, admin_store: SagaAdminStore, storage: ISagaStorage, clock: FakeClock
    ) -> SagaAdmin:
        recovery = SagaRecoveryWorker(
            storage=storage,
            sagas={ParcelSaga.saga_name(): (ParcelSaga, ParcelContext)},
            compensation=_ONE_TRY,
            clock=clock,
        )
        return SagaAdmin(admin_store, recovery)

    # -- listing --------------------------------------------------------------------

    async def test_an_empty_storage_lists_no_saga_and_no_audit(
        self, storage: ISagaStorage, admin_store: SagaAdminStore, clock: FakeClock
    ) -> None:
        page = await admin_store.list_sagas()

        assert (list(page.items), page.next_cursor) == ([], None)
        assert await admin_store.audit_log() == []

    async def test_list_sagas_shows_every_saga_oldest_first(
        self, storage: ISagaStorage, admin_store: SagaAdminStore, clock: FakeClock
    ) -> None:
        created = clock()
        first = await self._saga(storage, SagaStatus.COMPENSATION_FAILED)
        await storage.increment_recovery_attempts(first)
        clock.advance(seconds=10)
        second, wait = await self._waiting(storage, clock() + _LEASE)

        page = await admin_store.list_sagas()

        assert list(page.items) == [
            SagaSummary(
                first,
                "ParcelSaga",
                SagaStatus.COMPENSATION_FAILED,
                version=1,
                recovery_attempts=1,
                error="compensation_failed: why",
                waiting=None,
                created_at=created,
                updated_at=created,
            ),
            SagaSummary(
                second,
                "ParcelSaga",
                SagaStatus.RUNNING,
                version=2,
                recovery_attempts=0,
                error="running: why",
                waiting=wait,
                created_at=clock(),
                updated_at=clock(),
            ),
        ]

    async def test_list_sagas_filters_by_status_and_name(
        self, storage: ISagaStorage, admin_store: SagaAdminStore, clock: FakeClock
    ) -> None:
        by_status = {}
        for status in SagaStatus:
            by_status[status] = await self._saga(storage, status)
            clock.advance(seconds=1)
        other = await self._saga(storage, SagaStatus.COMPENSATION_FAILED, name="LabelSaga")

        for status in SagaStatus:
            assert await self._ids(admin_store, SagaQuery(status=status, name="ParcelSaga")) == [
                by_status[status]
            ]
        assert await self._ids(admin_store, SagaQuery(status=SagaStatus.COMPENSATION_FAILED)) == [
            by_status[SagaStatus.COMPENSATION_FAILED],
            other,
        ]
        assert await self._ids(admin_store, SagaQuery(name="LabelSaga")) == [other]
        assert await self._ids(admin_store, SagaQuery(name="NoSuchSaga")) == []

    async def test_overdue_lists_unfinished_sagas_waiting_past_their_deadline(
        self, storage: ISagaStorage, admin_store: SagaAdminStore, clock: FakeClock
    ) -> None:
        overdue, _ = await self._waiting(storage, clock() + _SECOND)
        clock.advance(seconds=1)
        within, _ = await self._waiting(storage, clock() + _LEASE)
        await self._saga(storage)  # waits for nothing
        clock.advance(seconds=1)

        assert await self._ids(admin_store, SagaQuery(overdue=True)) == [overdue]

        clock.advance(_LEASE)
        assert await self._ids(admin_store, SagaQuery(overdue=True)) == [overdue, within]

    async def test_min_recovery_attempts_lists_the_unfinished_sagas_recovery_gave_up_on(
        self, storage: ISagaStorage, admin_store: SagaAdminStore, clock: FakeClock
    ) -> None:
        tried = {}
        for attempts, status in (
            (0, SagaStatus.RUNNING),
            (2, SagaStatus.RUNNING),
            (3, SagaStatus.COMPENSATING),
            (5, SagaStatus.COMPLETED),
        ):
            saga_id = await self._saga(storage, status)
            for _ in range(attempts):
                await storage.increment_recovery_attempts(saga_id)
            tried[attempts] = saga_id
            clock.advance(seconds=1)

        assert await self._ids(admin_store, SagaQuery(min_recovery_attempts=2)) == [
            tried[2],
            tried[3],
        ]
        assert await self._ids(admin_store, SagaQuery(min_recovery_attempts=0)) == [
            tried[0],
            tried[2],
            tried[3],
        ]

    async def test_running_longer_than_lists_old_unfinished_sagas(
        self, storage: ISagaStorage, admin_store: SagaAdminStore, clock: FakeClock
    ) -> None:
        old = await self._saga(storage, SagaStatus.RUNNING)
        await self._saga(storage, SagaStatus.COMPLETED)  # old, but finished
        minutes = datetime.timedelta(minutes=10)
        clock.advance(minutes)
        young = await self._saga(storage, SagaStatus.PENDING)
        clock.advance(seconds=1)

        assert await self._ids(admin_store, SagaQuery(running_longer_than=minutes)) == [old]
        assert await self._ids(admin_store, SagaQuery(running_longer_than=_SECOND)) == [old, young]

    async def test_pages_cover_every_saga_once_even_when_created_at_the_same_time(
        self, storage: ISagaStorage, admin_store: SagaAdminStore, clock: FakeClock
    ) -> None:
        sagas = [await self._saga(storage) for _ in range(4)]  # one timestamp for all
        clock.advance(seconds=1)
        sagas.append(await self._saga(storage))

        seen: list[uuid.UUID] = []
        cursor: str | None = None
        while True:
            page = await admin_store.list_sagas(cursor=cursor, limit=2)
            assert len(page.items) <= 2
            seen += [saga.saga_id for saga in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor

        assert sorted(seen) == sorted(sagas)
        assert len(seen) == len(sagas)
        assert seen[-1] == sagas[-1]

    @pytest.mark.parametrize(
        "cursor",
        ["", "garbage", "2024-01-01T00:00:00~not-a-uuid", f"2024-01-01~{uuid.UUID(int=1)}"],
    )
    async def test_a_cursor_it_did_not_hand_out_is_refused(
        self, storage: ISagaStorage, admin_store: SagaAdminStore, clock: FakeClock, cursor: str
    ) -> None:
        with pytest.raises(InvalidAdminRequestError):
            await admin_store.list_sagas(cursor=cursor)

    @pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_SIZE + 1])
    async def test_a_page_size_out_of_range_is_refused(
        self, storage: ISagaStorage, admin_store: SagaAdminStore, clock: FakeClock, limit: int
    ) -> None:
        with pytest.raises(InvalidAdminRequestError):
            await admin_store.list_sagas(limit=limit)
        with pytest.raises(InvalidAdminRequestError):
            await admin_store.audit_log(limit=limit)

    # -- one saga -------------------------------------------------------------------

    async def test_get_saga_shows_the_context_and_the_step_log(
        self, storage: ISagaStorage, admin_store: SagaAdminStore, clock: FakeClock
    ) -> None:
        context = {"parcel_id": "p-1", "address": {"city": "Köln", "lines": ["Hohe Straße 1"]}}
        saga_id = await self._saga(storage, SagaStatus.PENDING, context=context)
        await storage.record_step(
            saga_id, "Weigh", _ACT, _COMPLETED, context={**context, "weight": 3}, current_version=1
        )

        detail = await admin_store.get_saga(saga_id)

        assert (detail.saga_id, detail.status, detail.version) == (saga_id, SagaStatus.PENDING, 2)
        assert detail.context == {**context, "weight": 3}
        assert list(detail.log) == [SagaLogEntry(saga_id, "Weigh", _ACT, _COMPLETED, clock(), None)]

    async def test_an_unknown_saga_is_not_found(
        self, storage: ISagaStorage, admin_store: SagaAdminStore, clock: FakeClock
    ) -> None:
        unknown = uuid.uuid4()

        with pytest.raises(SagaNotFoundError):
            await admin_store.get_saga(unknown)
        with pytest.raises(SagaNotFoundError):
            await admin_store.resolve(unknown, actor="alice", reason="gone")

    # -- resolve --------------------------------------------------------------------

    @pytest.mark.parametrize("status", _UNFINISHED, ids=[status.value for status in _UNFINISHED])
    async def test_resolve_closes_an_unfinished_saga_in_one_audited_write(
        self,
        storage: ISagaStorage,
        admin_store: SagaAdminStore,
        clock: FakeClock,
        status: SagaStatus,
    ) -> None:
        saga_id = await self._saga(storage, status)
        version = (await storage.load_saga_state(saga_id)).version
        clock.advance(seconds=7)

        await admin_store.resolve(saga_id, actor="alice", reason="refunded by hand")

        detail = await admin_store.get_saga(saga_id)
        assert (detail.status, detail.error, detail.waiting) == (
            SagaStatus.RESOLVED,
            f"{status.value}: why",
            None,
        )
        assert detail.version > version
        assert detail.updated_at == clock()
        assert detail.log[-1] == SagaLogEntry(
            saga_id,
            "ParcelSaga",
            SagaStepAction.RESOLVE,
            _COMPLETED,
            clock(),
            "alice: refunded by hand",
        )
        assert await admin_store.audit_log() == [
            AuditEntry(
                clock(),
                "alice",
                AdminAction.SAGA_RESOLVE,
                saga_target(saga_id),
                "refunded by hand",
                {"from": status.value},
            )
        ]

    async def test_a_resolved_saga_is_never_recovered_nor_moved_on(
        self, storage: ISagaStorage, admin_store: SagaAdminStore, clock: FakeClock
    ) -> None:
        saga_id, _ = await self._waiting(storage, clock() + _SECOND)
        version = (await storage.load_saga_state(saga_id)).version
        await admin_store.resolve(saga_id, actor="alice", reason="cancelled by the customer")
        clock.advance(datetime.timedelta(days=1))

        assert await storage.get_sagas_for_recovery(10, stale_after=_SECOND) == []
        assert await self._ids(admin_store, SagaQuery(overdue=True)) == []
        with pytest.raises(SagaConcurrencyError):  # a worker that loaded it before
            await storage.record_step(
                saga_id, "Ship", _ACT, _COMPLETED, context={}, current_version=version
            )
        with pytest.raises(SagaConcurrencyError):
            await storage.update_status(saga_id, SagaStatus.FAILED)
        assert (await storage.load_saga_state(saga_id)).status is SagaStatus.RESOLVED

    async def test_resolve_releases_an_expired_claim(
        self, storage: ISagaStorage, admin_store: SagaAdminStore, clock: FakeClock
    ) -> None:
        saga_id = await self._saga(storage)
        assert await storage.claim(saga_id, "worker-a", _LEASE)
        clock.advance(_LEASE + _SECOND)

        await admin_store.resolve(saga_id, actor="alice", reason="stuck")

        assert await storage.claim(saga_id, "worker-b", _LEASE)

    async def test_resolve_refuses_a_saga_a_worker_holds(
        self, storage: ISagaStorage, admin_store: SagaAdminStore, clock: FakeClock
    ) -> None:
        saga_id = await self._saga(storage)
        assert await storage.claim(saga_id, "worker-a", _LEASE)
        before = await admin_store.get_saga(saga_id)
        clock.advance(_LEASE - _SECOND)

        with pytest.raises(SagaConcurrencyError):
            await admin_store.resolve(saga_id, actor="alice", reason="stuck")

        assert await admin_store.get_saga(saga_id) == before
        assert await admin_store.audit_log() == []

    @pytest.mark.parametrize("status", _FINAL, ids=[status.value for status in _FINAL])
    async def test_resolve_refuses_a_finished_saga(
        self,
        storage: ISagaStorage,
        admin_store: SagaAdminStore,
        clock: FakeClock,
        status: SagaStatus,
    ) -> None:
        saga_id = await self._saga(storage, status)
        before = await admin_store.get_saga(saga_id)

        with pytest.raises(SagaNotResolvableError, match=status.value):
            await admin_store.resolve(saga_id, actor="alice", reason="again")

        assert await admin_store.get_saga(saga_id) == before
        assert await admin_store.audit_log() == []

    @pytest.mark.parametrize(
        ("actor", "reason"),
        [*(("alice", bad) for bad in _BAD_TEXT), ("", "why"), ("a" * 256, "why")],
    )
    async def test_resolve_needs_an_actor_and_a_reason(
        self,
        storage: ISagaStorage,
        admin_store: SagaAdminStore,
        clock: FakeClock,
        actor: str,
        reason: str,
    ) -> None:
        saga_id = await self._saga(storage)
        before = await admin_store.get_saga(saga_id)

        with pytest.raises(InvalidAdminRequestError):
            await admin_store.resolve(saga_id, actor=actor, reason=reason)

        assert await admin_store.get_saga(saga_id) == before

    # -- retry (through SagaAdmin and the engine) -----------------------------------

    async def test_a_saga_left_compensation_failed_is_retried_to_failed_once_the_cause_is_gone(
        self, storage: ISagaStorage, admin_store: SagaAdminStore, clock: FakeClock
    ) -> None:
        saga_id = await self._compensation_failed(storage, clock)
        clock.advance(seconds=30)

        state = await self._admin(admin_store, storage, clock).retry(
            saga_id, actor="alice", reason="scale repaired"
        )

        assert state.status is SagaStatus.FAILED
        assert state.context["weight"] is None
        assert (await admin_store.get_saga(saga_id)).log[-1].status is _COMPLETED
        assert await admin_store.audit_log(target=saga_target(saga_id)) == [
            AuditEntry(
                clock(),
                "alice",
                AdminAction.SAGA_RETRY,
                saga_target(saga_id),
                "scale repaired",
                {"from": "compensation_failed", "to": "failed"},
            )
        ]

    async def test_a_retry_that_fails_again_is_recorded_with_its_outcome(
        self, storage: ISagaStorage, admin_store: SagaAdminStore, clock: FakeClock
    ) -> None:
        saga_id = await self._compensation_failed(storage, clock)
        Weigh.scale_down = True  # still broken

        state = await self._admin(admin_store, storage, clock).retry(saga_id, actor="alice")

        assert state.status is SagaStatus.COMPENSATION_FAILED
        [entry] = await admin_store.audit_log()
        assert entry.details == {"from": "compensation_failed", "to": "compensation_failed"}

    async def test_a_retry_is_refused_while_a_worker_holds_the_saga(
        self, storage: ISagaStorage, admin_store: SagaAdminStore, clock: FakeClock
    ) -> None:
        saga_id = await self._compensation_failed(storage, clock)
        assert await storage.claim(saga_id, "worker-a", _LEASE)

        with pytest.raises(SagaConcurrencyError):
            await self._admin(admin_store, storage, clock).retry(saga_id, actor="alice")

        assert (await storage.load_saga_state(saga_id)).status is SagaStatus.COMPENSATION_FAILED
        assert await admin_store.audit_log() == []

    async def test_a_retry_of_a_resolved_saga_is_refused_and_not_audited(
        self, storage: ISagaStorage, admin_store: SagaAdminStore, clock: FakeClock
    ) -> None:
        saga_id = await self._compensation_failed(storage, clock)
        await admin_store.resolve(saga_id, actor="alice", reason="refunded by hand")

        with pytest.raises(SagaNotRetriableError):
            await self._admin(admin_store, storage, clock).retry(saga_id, actor="bob")

        assert [entry.action for entry in await admin_store.audit_log()] == [
            AdminAction.SAGA_RESOLVE
        ]

    async def test_a_retry_without_an_actor_runs_nothing(
        self, storage: ISagaStorage, admin_store: SagaAdminStore, clock: FakeClock
    ) -> None:
        saga_id = await self._compensation_failed(storage, clock)

        with pytest.raises(InvalidAdminRequestError):
            await self._admin(admin_store, storage, clock).retry(saga_id, actor=" ")

        assert (await storage.load_saga_state(saga_id)).status is SagaStatus.COMPENSATION_FAILED

    async def test_record_audit_stamps_the_entry_and_the_log_is_newest_first(
        self, storage: ISagaStorage, admin_store: SagaAdminStore, clock: FakeClock
    ) -> None:
        first, second = uuid.uuid4(), uuid.uuid4()
        written = await admin_store.record_audit(
            AdminAction.SAGA_RETRY, saga_target(first), actor="alice", details={"to": "failed"}
        )
        clock.advance(seconds=1)
        await admin_store.record_audit(AdminAction.SAGA_RETRY, saga_target(second), actor="bob")

        assert written == AuditEntry(
            clock() - _SECOND,
            "alice",
            AdminAction.SAGA_RETRY,
            saga_target(first),
            None,
            {"to": "failed"},
        )
        assert [entry.actor for entry in await admin_store.audit_log()] == ["bob", "alice"]
        assert await admin_store.audit_log(limit=1) == (await admin_store.audit_log())[:1]
        assert await admin_store.audit_log(target=saga_target(first)) == [written]
        with pytest.raises(InvalidAdminRequestError):
            await admin_store.record_audit(AdminAction.SAGA_RETRY, saga_target(first), actor="")
