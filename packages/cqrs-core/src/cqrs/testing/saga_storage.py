"""`SagaStorageContract`: the tests every `ISagaStorage` must pass.

Subclass it in a test module under a name starting with `Test`, give it a
`storage` fixture built on the `clock` fixture the contract provides, and
tell it how to read what `record_step` staged in that storage's outbox:

```python
from cqrs.message_brokers.protocol import Message
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.saga.storage.protocol import ISagaStorage
from cqrs.testing.clock import FakeClock
from cqrs.testing.saga_storage import SagaStorageContract


class TestMemorySagaStorage(SagaStorageContract):
    @pytest.fixture
    def storage(self, clock: FakeClock) -> MemorySagaStorage:
        return MemorySagaStorage(clock=clock)

    async def staged_messages(self, storage: ISagaStorage) -> list[Message]:
        assert isinstance(storage, MemorySagaStorage)
        return storage.outbox.messages()
```

What the suite needs:

* pytest and pytest-asyncio (`pip install 'cqrs-core[testing]'`). The tests
  carry the `asyncio` mark, so they run in strict mode as in auto mode (in
  strict mode an async `storage` fixture must be declared with
  `pytest_asyncio.fixture`).
* A fresh, empty storage per test: the recovery tests expect to see every
  saga the storage holds.
* A storage that takes every time it uses (log timestamps, staleness,
  leases, deadlines) from `clock`, a `FakeClock` that starts at
  2024-01-01 00:00 UTC, moves only when a test says so and sometimes moves
  backwards. Times must read back time zone aware and unchanged.

Importing this module has no side effects; it only defines the class.
"""

from __future__ import annotations

import asyncio
import collections.abc
import datetime
import json
import typing
import uuid

from cqrs.message_brokers.protocol import Message
from cqrs.saga.errors import SagaAlreadyExistsError, SagaConcurrencyError, SagaNotFoundError
from cqrs.saga.models import (
    SagaLogEntry,
    SagaState,
    SagaStatus,
    SagaStepAction,
    SagaStepStatus,
    SagaWait,
)
from cqrs.saga.storage.protocol import RECOVERABLE_STATUSES, ISagaStorage, claim_and_load
from cqrs.testing._pytest import pytest
from cqrs.testing.clock import FakeClock

__all__ = ("SagaStorageContract",)

_ACT, _COMPENSATE = SagaStepAction.ACT, SagaStepAction.COMPENSATE
_STARTED, _COMPLETED = SagaStepStatus.STARTED, SagaStepStatus.COMPLETED
_FAILED, _TIMED_OUT = SagaStepStatus.FAILED, SagaStepStatus.TIMED_OUT
_LEASE = datetime.timedelta(seconds=30)
_STALE = datetime.timedelta(seconds=60)
_SECOND = datetime.timedelta(seconds=1)
_NAME = "ParcelSaga"
_CONTEXT: typing.Final[typing.Mapping[str, typing.Any]] = {"parcel_id": "p-1"}
_UNFINISHED = [status for status in SagaStatus if not status.is_final]
_FINAL = [status for status in SagaStatus if status.is_final]

_Call = typing.Callable[[ISagaStorage, uuid.UUID], typing.Awaitable[object]]

# One call per method that takes a saga id; each must raise SagaNotFoundError
# for an id the storage does not hold (and must not create it).
_CALLS_ON_AN_ID: dict[str, _Call] = {
    "load_saga_state": lambda storage, saga_id: storage.load_saga_state(saga_id),
    "update_context": lambda storage, saga_id: storage.update_context(saga_id, {}, 1),
    "update_context without a version": lambda storage, saga_id: storage.update_context(
        saga_id, {}
    ),
    "update_status": lambda storage, saga_id: storage.update_status(saga_id, SagaStatus.RUNNING),
    "log_step": lambda storage, saga_id: storage.log_step(saga_id, "Weigh", _ACT, _STARTED),
    "record_step": lambda storage, saga_id: storage.record_step(
        saga_id, "Weigh", _ACT, _COMPLETED, context={}, current_version=1
    ),
    "claim": lambda storage, saga_id: storage.claim(saga_id, "worker-a", _LEASE),
    "release": lambda storage, saga_id: storage.release(saga_id, "worker-a"),
    "increment_recovery_attempts": lambda storage, saga_id: storage.increment_recovery_attempts(
        saga_id
    ),
}

# Writes that move a fresh saga (version 1) on; each counts as a change for staleness.
_PROGRESS: dict[str, _Call] = {
    "update_context": lambda storage, saga_id: storage.update_context(
        saga_id, {"parcel_id": "p-1", "weight": 3}, 1
    ),
    "update_status": lambda storage, saga_id: storage.update_status(saga_id, SagaStatus.RUNNING),
    "record_step": lambda storage, saga_id: storage.record_step(
        saga_id, "Weigh", _ACT, _COMPLETED, context={"parcel_id": "p-1"}, current_version=1
    ),
}

# Every JSON type, nesting, snake_case keys and text outside ASCII.
_JSON_CONTEXT: typing.Final[typing.Mapping[str, typing.Any]] = {
    "order_id": "o-1",
    "customer_name": "Zoë Ångström-Ñúñez 東京 🚚",
    "line_items": [
        {"sku": "sku-1", "quantity": 2, "unit_price": 9.5, "tags": ["fragile", "über"]},
        {"sku": "sku-2", "quantity": 1, "unit_price": 0.25, "tags": []},
    ],
    "shipping_address": {"city": "Köln", "lines": ["Hohe Straße 1", ""], "geo": {"lat": 50.9}},
    "total_cents": 2_147_483_648,
    "discount_rate": 0.1,
    "is_gift": True,
    "is_paid": False,
    "gift_note": None,
    "empty_list": [],
    "empty_dict": {},
    "quote": 'say "hi"\\n\n\ttab',
}


def _message(name: str) -> Message:
    return Message(
        message_name=name, topic="parcels", payload={"parcel_id": "p-1", "by": "Zoë"}, key="p-1"
    )


def _canonical(context: typing.Mapping[str, typing.Any]) -> str:
    # Tells 1 from 1.0 and True from 1, which `==` does not.
    return json.dumps(context, sort_keys=True, ensure_ascii=False)


async def _new_saga(
    storage: ISagaStorage,
    context: typing.Mapping[str, typing.Any] = _CONTEXT,
    name: str = _NAME,
) -> uuid.UUID:
    saga_id = uuid.uuid4()
    await storage.create_saga(saga_id, name, context)
    return saga_id


async def _with_status(storage: ISagaStorage, status: SagaStatus) -> uuid.UUID:
    saga_id = await _new_saga(storage)
    await storage.update_status(saga_id, status)
    return saga_id


async def _wait_for_reply(
    storage: ISagaStorage, saga_id: uuid.UUID, deadline: datetime.datetime
) -> None:
    version = (await storage.load_saga_state(saga_id)).version
    await storage.record_step(
        saga_id,
        "Ship",
        _ACT,
        _STARTED,
        context=_CONTEXT,
        current_version=version,
        saga_status=SagaStatus.RUNNING,
        wait=SagaWait("Ship", _ACT, deadline),
    )


def _try_to_change(context: typing.Mapping[str, typing.Any]) -> None:
    """Change `context`, the dict under its "address" key and that dict's "lines", where mutable."""
    address: typing.Mapping[str, typing.Any] = context["address"]
    lines: object = address["lines"]
    for mapping, key in ((context, "parcel_id"), (address, "city")):
        if isinstance(mapping, collections.abc.MutableMapping):
            mapping[key] = "changed"
    if isinstance(lines, list):
        typing.cast("list[str]", lines).append("changed")


class SagaStorageContract:
    """The saga storage contract as pytest tests; subclass it as `Test...` to run it.

    The subclass overrides the `storage` fixture and `staged_messages`; see the
    module docstring.
    """

    pytestmark: typing.ClassVar[pytest.MarkDecorator] = pytest.mark.asyncio

    @pytest.fixture
    def clock(self) -> FakeClock:
        """The clock the storage must read every time from."""
        return FakeClock()

    @pytest.fixture
    def storage(self, clock: FakeClock) -> ISagaStorage:
        """Override: a fresh, empty storage whose clock is `clock`."""
        raise NotImplementedError(f"{type(self).__name__} must override the `storage` fixture")

    async def staged_messages(self, storage: ISagaStorage) -> list[Message]:
        """Override: every message `record_step` staged in `storage`'s outbox, in order."""
        raise NotImplementedError(f"{type(self).__name__} must override `staged_messages`")

    async def _written(
        self, storage: ISagaStorage, saga_id: uuid.UUID
    ) -> tuple[SagaState, str, list[SagaLogEntry], list[Message]]:
        """All a write could change, to compare before and after a refused one."""
        state = await storage.load_saga_state(saga_id)
        return (
            state,
            _canonical(state.context),
            await storage.get_step_history(saga_id),
            await self.staged_messages(storage),
        )

    # -- create_saga and load_saga_state ---------------------------------

    async def test_a_new_saga_is_pending_at_version_one(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage)

        state = await storage.load_saga_state(saga_id)

        assert state == SagaState(
            saga_id,
            _NAME,
            SagaStatus.PENDING,
            {"parcel_id": "p-1"},
            version=1,
            recovery_attempts=0,
            error=None,
            waiting=None,
        )
        assert await storage.get_step_history(saga_id) == []
        assert await self.staged_messages(storage) == []

    async def test_create_saga_keeps_a_copy_of_the_context(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        context: dict[str, typing.Any] = {"parcel_id": "p-1"}
        saga_id = await _new_saga(storage, context)

        context["parcel_id"] = "changed"
        context["added"] = True

        assert (await storage.load_saga_state(saga_id)).context == {"parcel_id": "p-1"}

    async def test_creating_an_existing_id_raises_and_keeps_the_first(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage)
        await storage.update_status(saga_id, SagaStatus.RUNNING)
        clock.advance(seconds=1)

        with pytest.raises(SagaAlreadyExistsError) as raised:
            await storage.create_saga(
                saga_id, "OtherSaga", {"parcel_id": "p-2"}, owner="worker-b", lease=_LEASE
            )

        assert raised.value.saga_id == saga_id
        assert await storage.claim(saga_id, "worker-a", _LEASE)  # worker-b got no claim
        state = await storage.load_saga_state(saga_id)
        assert (state.name, state.status, state.context, state.version) == (
            _NAME,
            SagaStatus.RUNNING,
            {"parcel_id": "p-1"},
            1,
        )

    async def test_concurrent_creations_of_one_id_let_exactly_one_succeed(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = uuid.uuid4()

        results = await asyncio.gather(
            *(
                storage.create_saga(
                    saga_id, f"Saga{n}", {"n": n}, owner=f"worker-{n}", lease=_LEASE
                )
                for n in range(5)
            ),
            return_exceptions=True,
        )

        winners = [n for n, result in enumerate(results) if result is None]
        assert len(winners) == 1, results
        losers = [result for result in results if result is not None]
        assert all(isinstance(result, SagaAlreadyExistsError) for result in losers), losers
        state = await storage.load_saga_state(saga_id)
        assert (state.name, state.context, state.version) == (
            f"Saga{winners[0]}",
            {"n": winners[0]},
            1,
        )
        # The winner created it claimed: the losers ask first and are refused.
        others = [n for n in range(5) if n not in winners]
        claims = [await storage.claim(saga_id, f"worker-{n}", _LEASE) for n in [*others, *winners]]
        assert claims == [False] * len(others) + [True]

    async def test_create_saga_with_an_owner_and_a_lease_creates_it_claimed(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        lease = datetime.timedelta(minutes=5)
        created_at = clock()
        claimed = uuid.uuid4()
        await storage.create_saga(claimed, _NAME, _CONTEXT, owner="worker-a", lease=lease)
        clock.advance(seconds=1)  # recovery lists the oldest first: no ties
        unclaimed = await _new_saga(storage)

        state = await storage.load_saga_state(claimed)
        assert (state.status, state.version, state.context) == (SagaStatus.PENDING, 1, _CONTEXT)
        clock.advance(_STALE + _SECOND)
        assert not await storage.claim(claimed, "worker-b", _LEASE)
        assert await storage.get_sagas_for_recovery(10, stale_after=_STALE) == [unclaimed]

        clock.now = created_at + lease + _SECOND
        assert await storage.get_sagas_for_recovery(10, stale_after=_STALE) == [
            claimed,
            unclaimed,
        ]
        assert await storage.claim(claimed, "worker-b", _LEASE)

    async def test_the_owner_of_a_saga_created_claimed_may_renew_and_release_it(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = uuid.uuid4()
        await storage.create_saga(saga_id, _NAME, _CONTEXT, owner="worker-a", lease=_LEASE)

        clock.advance(_LEASE - _SECOND)
        assert await storage.claim(saga_id, "worker-a", _LEASE)
        clock.advance(_LEASE - _SECOND)  # past the first lease, within the renewed one
        assert not await storage.claim(saga_id, "worker-b", _LEASE)

        await storage.release(saga_id, "worker-a")
        assert await storage.claim(saga_id, "worker-b", _LEASE)

    @pytest.mark.parametrize("method", sorted(_CALLS_ON_AN_ID))
    async def test_every_method_raises_not_found_for_an_unknown_id(
        self, storage: ISagaStorage, clock: FakeClock, method: str
    ) -> None:
        known = await _new_saga(storage)
        unknown = uuid.uuid4()

        with pytest.raises(SagaNotFoundError) as raised:
            await _CALLS_ON_AN_ID[method](storage, unknown)

        assert raised.value.saga_id == unknown
        assert isinstance(raised.value, LookupError)
        with pytest.raises(SagaNotFoundError):  # the call did not create it
            await storage.load_saga_state(unknown)
        assert (await storage.load_saga_state(known)).version == 1

    # -- update_context and update_status --------------------------------

    async def test_update_context_replaces_the_context_and_returns_the_new_version(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage, {"parcel_id": "p-1", "weight": 1})

        second = await storage.update_context(saga_id, {"weight": 3}, 1)
        third = await storage.update_context(saga_id, {"weight": 4, "label": "L-1"}, second)

        state = await storage.load_saga_state(saga_id)
        assert len({1, second, third}) == 3
        assert (state.context, state.version) == ({"weight": 4, "label": "L-1"}, third)
        assert (state.status, state.error, state.waiting) == (SagaStatus.PENDING, None, None)

    async def test_update_context_without_a_version_is_not_fenced(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage)
        moved_on = await storage.update_context(saga_id, {"weight": 3}, 1)

        latest = await storage.update_context(saga_id, {"weight": 4})

        state = await storage.load_saga_state(saga_id)
        assert latest == moved_on + 1
        assert (state.context, state.version) == ({"weight": 4}, latest)

    async def test_update_context_with_a_stale_version_raises_and_writes_nothing(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage)
        version = await storage.update_context(saga_id, {"weight": 3}, 1)

        with pytest.raises(SagaConcurrencyError):
            await storage.update_context(saga_id, {"weight": 99}, 1)
        with pytest.raises(SagaConcurrencyError):
            await storage.update_context(saga_id, {"weight": 99}, version + 1)

        state = await storage.load_saga_state(saga_id)
        assert (state.context, state.version) == ({"weight": 3}, version)

    async def test_update_status_sets_the_status_and_keeps_the_error_unless_given(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage)

        await storage.update_status(saga_id, SagaStatus.COMPENSATING, "LabelError: jam")
        await storage.update_status(saga_id, SagaStatus.COMPENSATION_FAILED)
        kept = await storage.load_saga_state(saga_id)
        await storage.update_status(saga_id, SagaStatus.COMPENSATION_FAILED, "Refund: timeout")
        replaced = await storage.load_saga_state(saga_id)

        assert (kept.status, kept.error) == (SagaStatus.COMPENSATION_FAILED, "LabelError: jam")
        assert (replaced.status, replaced.error) == (
            SagaStatus.COMPENSATION_FAILED,
            "Refund: timeout",
        )
        assert replaced.context == {"parcel_id": "p-1"}

    @pytest.mark.parametrize(
        "status", list(SagaStatus), ids=[status.value for status in SagaStatus]
    )
    async def test_update_status_leaves_a_resolved_saga_resolved(
        self, storage: ISagaStorage, clock: FakeClock, status: SagaStatus
    ) -> None:
        saga_id = await _new_saga(storage)
        await storage.update_status(saga_id, SagaStatus.RESOLVED, "ops: refunded by hand")
        before = await self._written(storage, saga_id)

        with pytest.raises(SagaConcurrencyError):
            await storage.update_status(saga_id, status, "late worker")

        assert await self._written(storage, saga_id) == before

    # -- the step log -----------------------------------------------------

    async def test_the_log_reads_back_in_write_order_not_by_timestamp(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage)
        other = await _new_saga(storage)
        expected: list[SagaLogEntry] = []
        version = 1
        writes = [
            ("Weigh", _ACT, _STARTED, None),
            ("Weigh", _ACT, _COMPLETED, "3 kg"),
            ("Label", _ACT, _TIMED_OUT, None),
            ("Label", _ACT, _FAILED, "LabelError: jam"),
            ("Weigh", _COMPENSATE, _COMPLETED, None),
        ]
        for n, (step_name, action, status, details) in enumerate(writes):
            clock.advance(seconds=-10)  # every entry is older than the one before
            if n % 2:
                version = await storage.record_step(
                    saga_id,
                    step_name,
                    action,
                    status,
                    context=_CONTEXT,
                    current_version=version,
                    details=details,
                )
            else:
                await storage.log_step(saga_id, step_name, action, status, details)
            expected.append(SagaLogEntry(saga_id, step_name, action, status, clock(), details))
            await storage.log_step(other, f"Other{n}", _ACT, _STARTED)

        history = await storage.get_step_history(saga_id)

        assert history == expected
        assert [entry.step_name for entry in await storage.get_step_history(other)] == [
            f"Other{n}" for n in range(len(writes))
        ]

    async def test_the_step_history_of_an_unknown_saga_is_empty(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        unknown = uuid.uuid4()

        assert await storage.get_step_history(unknown) == []
        with pytest.raises(SagaNotFoundError):  # reading it did not create it
            await storage.load_saga_state(unknown)

    async def test_get_step_history_returns_a_new_list(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage)
        await storage.log_step(saga_id, "Weigh", _ACT, _STARTED)

        (await storage.get_step_history(saga_id)).clear()

        assert len(await storage.get_step_history(saga_id)) == 1

    # -- record_step ------------------------------------------------------

    async def test_record_step_appends_the_entry_replaces_the_context_and_bumps_the_version(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage, {"parcel_id": "p-1", "weight": None})
        await storage.log_step(saga_id, "Weigh", _ACT, _STARTED)
        clock.advance(seconds=5)

        version = await storage.record_step(
            saga_id,
            "Weigh",
            _ACT,
            _COMPLETED,
            context={"weight": 3},
            current_version=1,
            details="3 kg",
        )

        state = await storage.load_saga_state(saga_id)
        history = await storage.get_step_history(saga_id)
        assert version != 1
        assert (state.context, state.version) == ({"weight": 3}, version)
        assert (state.status, state.error, state.waiting) == (SagaStatus.PENDING, None, None)
        assert len(history) == 2
        assert history[-1] == SagaLogEntry(saga_id, "Weigh", _ACT, _COMPLETED, clock(), "3 kg")
        assert await self.staged_messages(storage) == []

        then = await storage.record_step(
            saga_id, "Label", _ACT, _COMPLETED, context={"weight": 3}, current_version=version
        )
        assert len({1, version, then}) == 3
        assert (await storage.get_step_history(saga_id))[-1].details is None

    async def test_record_step_sets_and_clears_what_the_saga_waits_for(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage)
        deadline = clock() + datetime.timedelta(minutes=5, microseconds=250)
        wait = SagaWait("Refund", _COMPENSATE, deadline, attempt=3)

        version = await storage.record_step(
            saga_id,
            "Refund",
            _COMPENSATE,
            _STARTED,
            context=_CONTEXT,
            current_version=1,
            saga_status=SagaStatus.COMPENSATING,
            wait=wait,
        )
        waiting = (await storage.load_saga_state(saga_id)).waiting
        await storage.record_step(
            saga_id, "Refund", _COMPENSATE, _COMPLETED, context=_CONTEXT, current_version=version
        )
        cleared = (await storage.load_saga_state(saga_id)).waiting

        assert waiting == wait
        assert waiting is not None
        assert waiting.deadline.utcoffset() == datetime.timedelta(0)
        assert cleared is None

    async def test_record_step_sets_status_and_error_only_when_given(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage)
        await storage.update_status(saga_id, SagaStatus.RUNNING, "earlier: retried")

        version = await storage.record_step(
            saga_id, "Weigh", _ACT, _COMPLETED, context=_CONTEXT, current_version=1
        )
        untouched = await storage.load_saga_state(saga_id)
        version = await storage.record_step(
            saga_id,
            "Label",
            _ACT,
            _COMPLETED,
            context=_CONTEXT,
            current_version=version,
            saga_status=SagaStatus.COMPLETED,
        )
        status_only = await storage.load_saga_state(saga_id)

        assert (untouched.status, untouched.error) == (SagaStatus.RUNNING, "earlier: retried")
        assert (status_only.status, status_only.error) == (
            SagaStatus.COMPLETED,
            "earlier: retried",
        )

    async def test_the_trace_context_is_kept_from_creation_and_replaced_only_when_given(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        started = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        replied = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        saga_id = uuid.uuid4()
        await storage.create_saga(saga_id, "parcel", _CONTEXT, trace_context=started)
        created = await storage.load_saga_state(saga_id)

        version = await storage.record_step(
            saga_id, "Weigh", _ACT, _COMPLETED, context=_CONTEXT, current_version=1
        )
        untouched = await storage.load_saga_state(saga_id)
        await storage.record_step(
            saga_id,
            "Label",
            _ACT,
            _COMPLETED,
            context=_CONTEXT,
            current_version=version,
            trace_context=replied,
        )
        replaced = await storage.load_saga_state(saga_id)
        plain = await _new_saga(storage)

        assert (created.trace_context, untouched.trace_context) == (started, started)
        assert replaced.trace_context == replied
        assert (await storage.load_saga_state(plain)).trace_context is None

    async def test_record_step_starts_compensation_in_one_fenced_write(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage)
        version = await storage.record_step(
            saga_id,
            "Label",
            _ACT,
            _STARTED,
            context=_CONTEXT,
            current_version=1,
            saga_status=SagaStatus.RUNNING,
        )

        await storage.record_step(
            saga_id,
            "Label",
            _ACT,
            _FAILED,
            context={"parcel_id": "p-1", "label": None},
            current_version=version,
            details="PrinterError: jam",
            saga_status=SagaStatus.COMPENSATING,
            error="PrinterError: jam",
        )

        state = await storage.load_saga_state(saga_id)
        last = (await storage.get_step_history(saga_id))[-1]
        assert (state.status, state.error, state.context) == (
            SagaStatus.COMPENSATING,
            "PrinterError: jam",
            {"parcel_id": "p-1", "label": None},
        )
        assert (last.step_name, last.action, last.status, last.details) == (
            "Label",
            _ACT,
            _FAILED,
            "PrinterError: jam",
        )
        with pytest.raises(SagaConcurrencyError):  # a second worker with the same version
            await storage.record_step(
                saga_id,
                "Label",
                _ACT,
                _FAILED,
                context=_CONTEXT,
                current_version=version,
                saga_status=SagaStatus.COMPENSATING,
                error="late failure",
            )
        assert (await storage.load_saga_state(saga_id)).error == "PrinterError: jam"

    async def test_record_step_stages_its_messages_in_order(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage)
        first, second, third = _message("ReserveStock"), _message("ChargeCard"), _message("Ship")

        version = await storage.record_step(
            saga_id,
            "Reserve",
            _ACT,
            _STARTED,
            context=_CONTEXT,
            current_version=1,
            messages=[first, second],
        )
        version = await storage.record_step(
            saga_id, "Reserve", _ACT, _COMPLETED, context=_CONTEXT, current_version=version
        )
        await storage.record_step(
            saga_id,
            "Ship",
            _ACT,
            _STARTED,
            context=_CONTEXT,
            current_version=version,
            messages=(third,),
        )

        assert await self.staged_messages(storage) == [first, second, third]

    async def test_record_step_with_a_stale_version_raises_and_writes_nothing(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage)
        version = await storage.update_context(saga_id, {"parcel_id": "p-1", "weight": 3}, 1)
        before = await self._written(storage, saga_id)
        clock.advance(seconds=1)

        with pytest.raises(SagaConcurrencyError):
            await storage.record_step(
                saga_id,
                "Label",
                _ACT,
                _FAILED,
                context={"late": True},
                current_version=1,
                details="late",
                saga_status=SagaStatus.COMPENSATING,
                error="late failure",
                wait=SagaWait("Label", _ACT, clock() + _LEASE),
                messages=[_message("Late")],
            )

        assert await self._written(storage, saga_id) == before
        assert await storage.record_step(  # the current version still works
            saga_id, "Label", _ACT, _COMPLETED, context=_CONTEXT, current_version=version
        ) not in (1, version)

    @pytest.mark.parametrize("status", _FINAL, ids=[status.value for status in _FINAL])
    async def test_record_step_refuses_a_finished_saga_and_writes_nothing(
        self, storage: ISagaStorage, clock: FakeClock, status: SagaStatus
    ) -> None:
        saga_id = await _with_status(storage, status)
        before = await self._written(storage, saga_id)
        state = before[0]

        with pytest.raises(SagaConcurrencyError):
            await storage.record_step(
                saga_id,
                "Weigh",
                _COMPENSATE,
                _STARTED,
                context={"late": True},
                current_version=state.version,
                saga_status=SagaStatus.COMPENSATING,
                error="late failure",
                wait=SagaWait("Weigh", _COMPENSATE, clock() + _LEASE),
                messages=[_message("Late")],
            )

        assert await self._written(storage, saga_id) == before

    @pytest.mark.parametrize("status", _UNFINISHED, ids=[status.value for status in _UNFINISHED])
    async def test_record_step_accepts_every_unfinished_saga(
        self, storage: ISagaStorage, clock: FakeClock, status: SagaStatus
    ) -> None:
        saga_id = await _with_status(storage, status)

        version = await storage.record_step(
            saga_id,
            "Weigh",
            _COMPENSATE,
            _COMPLETED,
            context={"parcel_id": "p-1", "undone": True},
            current_version=1,
            messages=[_message("Undo")],
        )

        state = await storage.load_saga_state(saga_id)
        assert (state.status, state.version, state.context) == (
            status,
            version,
            {"parcel_id": "p-1", "undone": True},
        )
        assert [message.message_name for message in await self.staged_messages(storage)] == ["Undo"]

    async def test_concurrent_record_steps_on_one_version_let_exactly_one_succeed(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage)
        workers = ["worker-a", "worker-b", "worker-c"]

        results = await asyncio.gather(
            *(
                storage.record_step(
                    saga_id,
                    "Weigh",
                    _ACT,
                    _COMPLETED,
                    context={"by": worker},
                    current_version=1,
                    details=worker,
                    messages=[_message(worker)],
                )
                for worker in workers
            ),
            return_exceptions=True,
        )

        winners = [
            worker
            for worker, result in zip(workers, results, strict=True)
            if not isinstance(result, BaseException)
        ]
        assert len(winners) == 1, results
        assert all(
            isinstance(result, SagaConcurrencyError)
            for result in results
            if isinstance(result, BaseException)
        ), results
        state = await storage.load_saga_state(saga_id)
        history = await storage.get_step_history(saga_id)
        assert state.context == {"by": winners[0]}
        assert [entry.details for entry in history] == winners
        assert [message.message_name for message in await self.staged_messages(storage)] == (
            winners
        )

    # -- claim and release ------------------------------------------------

    async def test_claim_is_exclusive_while_the_lease_runs(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage)
        other = await _new_saga(storage)

        assert await storage.claim(saga_id, "worker-a", _LEASE)
        clock.advance(_LEASE - _SECOND)
        assert not await storage.claim(saga_id, "worker-b", _LEASE)
        assert await storage.claim(other, "worker-b", _LEASE)  # claims are per saga

    async def test_claim_and_load_claims_and_reads_what_load_and_history_read(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage)
        await storage.log_step(saga_id, "Weigh", _ACT, _STARTED)
        clock.advance(seconds=1)
        await _wait_for_reply(storage, saga_id, clock() + _LEASE)

        loaded = await claim_and_load(storage, saga_id, "worker-a", _LEASE)

        assert loaded == (
            await storage.load_saga_state(saga_id),
            await storage.get_step_history(saga_id),
        )
        assert loaded is not None
        assert [entry.step_name for entry in loaded[1]] == ["Weigh", "Ship"]
        assert not await storage.claim(saga_id, "worker-b", _LEASE)  # worker-a holds it

    async def test_claim_and_load_reads_nothing_while_another_holds_the_saga(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage)
        unknown = uuid.uuid4()
        assert await storage.claim(saga_id, "worker-a", _LEASE)

        assert await claim_and_load(storage, saga_id, "worker-b", _LEASE) is None
        with pytest.raises(SagaNotFoundError):
            await claim_and_load(storage, unknown, "worker-b", _LEASE)
        clock.advance(_LEASE)  # worker-a's lease has run out
        loaded = await claim_and_load(storage, saga_id, "worker-b", _LEASE)
        assert loaded is not None
        assert loaded[0].saga_id == saga_id
        assert loaded[1] == []

    async def test_the_owner_may_renew_its_claim(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage)
        assert await storage.claim(saga_id, "worker-a", _LEASE)
        clock.advance(seconds=20)

        assert await storage.claim(saga_id, "worker-a", _LEASE)
        clock.advance(seconds=20)  # 40 s after the first claim, 20 s after the renewal

        assert not await storage.claim(saga_id, "worker-b", _LEASE)

    async def test_an_expired_lease_lets_another_owner_claim(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage)
        assert await storage.claim(saga_id, "worker-a", _LEASE)

        clock.advance(_LEASE + _SECOND)

        assert await storage.claim(saga_id, "worker-b", _LEASE)
        assert not await storage.claim(saga_id, "worker-a", _LEASE)

    async def test_release_frees_the_saga_only_for_its_owner(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage)
        await storage.release(saga_id, "worker-a")  # nobody holds it: no effect, no error
        assert await storage.claim(saga_id, "worker-a", _LEASE)

        await storage.release(saga_id, "worker-b")
        assert not await storage.claim(saga_id, "worker-b", _LEASE)

        await storage.release(saga_id, "worker-a")
        assert await storage.claim(saga_id, "worker-b", _LEASE)
        assert not await storage.claim(saga_id, "worker-a", _LEASE)

    async def test_concurrent_claims_by_two_owners_let_exactly_one_win(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage)

        won_a, won_b = await asyncio.gather(
            storage.claim(saga_id, "worker-a", _LEASE), storage.claim(saga_id, "worker-b", _LEASE)
        )

        assert won_a != won_b
        winner, loser = ("worker-a", "worker-b") if won_a else ("worker-b", "worker-a")
        assert await storage.claim(saga_id, winner, _LEASE)
        assert not await storage.claim(saga_id, loser, _LEASE)

    @pytest.mark.parametrize(
        "status", list(SagaStatus), ids=[status.value for status in SagaStatus]
    )
    async def test_update_status_releases_the_claim_only_of_a_finished_saga(
        self, storage: ISagaStorage, clock: FakeClock, status: SagaStatus
    ) -> None:
        saga_id = await _with_status(storage, SagaStatus.RUNNING)
        assert await storage.claim(saga_id, "worker-a", _LEASE)

        await storage.update_status(saga_id, status)

        assert await storage.claim(saga_id, "worker-b", _LEASE) is status.is_final

    @pytest.mark.parametrize(
        "saga_status",
        [None, *SagaStatus],
        ids=["none", *(status.value for status in SagaStatus)],
    )
    async def test_record_step_releases_the_claim_only_when_it_finishes_the_saga(
        self, storage: ISagaStorage, clock: FakeClock, saga_status: SagaStatus | None
    ) -> None:
        saga_id = await _new_saga(storage)
        assert await storage.claim(saga_id, "worker-a", _LEASE)

        await storage.record_step(
            saga_id,
            "Weigh",
            _ACT,
            _COMPLETED,
            context=_CONTEXT,
            current_version=1,
            saga_status=saga_status,
        )

        finished = saga_status is not None and saga_status.is_final
        assert await storage.claim(saga_id, "worker-b", _LEASE) is finished
        assert (await storage.load_saga_state(saga_id)).status is (
            saga_status or SagaStatus.PENDING
        )

    # -- get_sagas_for_recovery and increment_recovery_attempts -----------

    async def test_recovery_returns_only_sagas_in_recoverable_statuses(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        by_status: dict[SagaStatus, uuid.UUID] = {}
        for status in SagaStatus:
            by_status[status] = await _with_status(storage, status)
            clock.advance(seconds=1)
        clock.advance(_STALE)

        candidates = await storage.get_sagas_for_recovery(10, stale_after=_STALE)

        assert candidates == [
            saga_id for status, saga_id in by_status.items() if status in RECOVERABLE_STATUSES
        ]

    async def test_recovery_returns_only_sagas_unchanged_for_stale_after(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        old = await _new_saga(storage)
        clock.advance(seconds=30)
        fresh = await _new_saga(storage)
        clock.advance(seconds=31)

        assert await storage.get_sagas_for_recovery(10, stale_after=_STALE) == [old]
        assert await storage.get_sagas_for_recovery(10, stale_after=_STALE / 4) == [old, fresh]

        clock.advance(seconds=30)
        assert await storage.get_sagas_for_recovery(10, stale_after=_STALE) == [old, fresh]
        assert await storage.get_sagas_for_recovery(10) == [old, fresh]  # 60 s by default

    async def test_recovery_takes_stale_after_in_seconds_too(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        old = await _new_saga(storage)
        clock.advance(seconds=30)
        fresh = await _new_saga(storage)
        clock.advance(seconds=31)

        assert await storage.get_sagas_for_recovery(10, stale_after_seconds=60) == [old]
        assert await storage.get_sagas_for_recovery(10, 5, 15) == [old, fresh]

    async def test_recovery_returns_only_sagas_of_the_given_name(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        parcel = await _new_saga(storage, name="ParcelSaga")
        refund = await _new_saga(storage, name="RefundSaga")
        clock.advance(_STALE)

        assert await storage.get_sagas_for_recovery(10, saga_name="RefundSaga") == [refund]
        assert await storage.get_sagas_for_recovery(10, saga_name="ParcelSaga") == [parcel]
        assert await storage.get_sagas_for_recovery(10, saga_name="Other") == []

    @pytest.mark.parametrize("write", sorted(_PROGRESS))
    async def test_a_write_that_moves_a_saga_on_makes_it_fresh_again(
        self, storage: ISagaStorage, clock: FakeClock, write: str
    ) -> None:
        saga_id = await _new_saga(storage)
        clock.advance(_STALE + _SECOND)
        assert await storage.get_sagas_for_recovery(10, stale_after=_STALE) == [saga_id]

        await _PROGRESS[write](storage, saga_id)
        clock.advance(_STALE - _SECOND)
        assert await storage.get_sagas_for_recovery(10, stale_after=_STALE) == []

        clock.advance(seconds=2)
        assert await storage.get_sagas_for_recovery(10, stale_after=_STALE) == [saga_id]

    async def test_recovery_skips_sagas_with_a_live_claim(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        claimed = await _new_saga(storage)
        clock.advance(seconds=1)
        released = await _new_saga(storage)
        clock.advance(seconds=1)
        free = await _new_saga(storage)
        clock.advance(_STALE)
        assert await storage.claim(claimed, "worker-a", _LEASE)
        assert await storage.claim(released, "worker-a", _LEASE)
        await storage.release(released, "worker-a")

        assert await storage.get_sagas_for_recovery(10, stale_after=_STALE) == [released, free]

        clock.advance(_LEASE + _SECOND)
        assert await storage.get_sagas_for_recovery(10, stale_after=_STALE) == [
            claimed,
            released,
            free,
        ]

    async def test_recovery_skips_sagas_out_of_recovery_attempts(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        tried = await _new_saga(storage)
        clock.advance(seconds=1)
        untried = await _new_saga(storage)
        await storage.increment_recovery_attempts(tried)
        await storage.increment_recovery_attempts(tried)
        clock.advance(_STALE + _SECOND)

        assert await storage.get_sagas_for_recovery(
            10, max_recovery_attempts=3, stale_after=_STALE
        ) == [tried, untried]
        assert await storage.get_sagas_for_recovery(
            10, max_recovery_attempts=2, stale_after=_STALE
        ) == [untried]
        assert (
            await storage.get_sagas_for_recovery(10, max_recovery_attempts=0, stale_after=_STALE)
            == []
        )

    async def test_recovery_returns_the_oldest_first_up_to_the_limit(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        first = await _new_saga(storage)
        clock.advance(seconds=1)
        second = await _new_saga(storage)
        clock.advance(seconds=1)
        third = await _new_saga(storage)
        clock.advance(seconds=1)
        # The first saga changed last, yet it is still the oldest.
        await storage.update_status(first, SagaStatus.RUNNING)
        await storage.update_context(second, {"parcel_id": "p-1", "weight": 3}, 1)
        clock.advance(_STALE)

        assert await storage.get_sagas_for_recovery(10, stale_after=_STALE) == [
            first,
            second,
            third,
        ]
        assert await storage.get_sagas_for_recovery(2, stale_after=_STALE) == [first, second]
        assert await storage.get_sagas_for_recovery(0, stale_after=_STALE) == []

    async def test_a_saga_waiting_within_its_deadline_is_not_recovered_even_when_stale(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        waiting = await _new_saga(storage)
        clock.advance(seconds=1)
        idle = await _new_saga(storage)
        deadline = clock() + datetime.timedelta(minutes=10)
        await _wait_for_reply(storage, waiting, deadline)

        clock.advance(_STALE * 5)
        assert await storage.get_sagas_for_recovery(10, stale_after=_STALE) == [idle]

        clock.now = deadline + _SECOND
        assert await storage.get_sagas_for_recovery(10, stale_after=_STALE) == [waiting, idle]

    async def test_a_saga_whose_deadline_passed_is_recovered_even_if_recently_updated(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage)
        deadline = clock() + datetime.timedelta(seconds=10)
        await _wait_for_reply(storage, saga_id, deadline)
        assert await storage.get_sagas_for_recovery(10, stale_after=_STALE) == []

        clock.advance(seconds=11)

        assert await storage.get_sagas_for_recovery(10, stale_after=_STALE) == [saga_id]
        assert await storage.claim(saga_id, "worker-a", _LEASE)  # a live claim still excludes
        assert await storage.get_sagas_for_recovery(10, stale_after=_STALE) == []
        await storage.release(saga_id, "worker-a")
        await storage.increment_recovery_attempts(saga_id)  # so do spent attempts
        assert (
            await storage.get_sagas_for_recovery(10, max_recovery_attempts=1, stale_after=_STALE)
            == []
        )

    async def test_a_saga_no_longer_waiting_is_recovered_when_stale_again(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage)
        await _wait_for_reply(storage, saga_id, clock() + datetime.timedelta(seconds=10))
        clock.advance(seconds=5)
        version = (await storage.load_saga_state(saga_id)).version
        await storage.record_step(  # the reply came
            saga_id, "Ship", _ACT, _COMPLETED, context=_CONTEXT, current_version=version
        )

        clock.advance(seconds=10)  # past the old deadline
        assert await storage.get_sagas_for_recovery(10, stale_after=_STALE) == []

        clock.advance(_STALE)
        assert await storage.get_sagas_for_recovery(10, stale_after=_STALE) == [saga_id]

    async def test_increment_recovery_attempts_counts_per_saga(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(storage)
        other = await _new_saga(storage)

        counts = [await storage.increment_recovery_attempts(saga_id) for _ in range(3)]

        assert counts == [1, 2, 3]
        assert (await storage.load_saga_state(saga_id)).recovery_attempts == 3
        assert (await storage.load_saga_state(other)).recovery_attempts == 0
        assert await storage.increment_recovery_attempts(other) == 1

    # -- the context as stored ---------------------------------------------

    async def test_a_json_context_round_trips_through_every_write(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        expected = _canonical(_JSON_CONTEXT)
        changed: dict[str, typing.Any] = {
            **_JSON_CONTEXT,
            "line_items": [],
            "customer_name": "Đorđe Šćepanović ✓",
        }

        saga_id = await _new_saga(storage, _JSON_CONTEXT)
        created = (await storage.load_saga_state(saga_id)).context
        version = await storage.update_context(saga_id, changed, 1)
        updated = (await storage.load_saga_state(saga_id)).context
        await storage.record_step(
            saga_id, "Weigh", _ACT, _COMPLETED, context=_JSON_CONTEXT, current_version=version
        )
        recorded = (await storage.load_saga_state(saga_id)).context

        assert created == _JSON_CONTEXT
        assert (_canonical(created), _canonical(recorded)) == (expected, expected)
        assert _canonical(updated) == _canonical(changed)

    async def test_writes_keep_a_copy_of_nested_context_values(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        def context() -> dict[str, typing.Any]:
            return {"parcel_id": "p-1", "address": {"city": "Köln", "lines": ["Hohe Straße 1"]}}

        created, updated, recorded = context(), context(), context()
        saga_id = await _new_saga(storage, created)
        _try_to_change(created)
        after_create = (await storage.load_saga_state(saga_id)).context
        version = await storage.update_context(saga_id, updated, 1)
        _try_to_change(updated)
        after_update = (await storage.load_saga_state(saga_id)).context
        await storage.record_step(
            saga_id, "Weigh", _ACT, _COMPLETED, context=recorded, current_version=version
        )
        _try_to_change(recorded)
        after_record = (await storage.load_saga_state(saga_id)).context

        assert [after_create, after_update, after_record] == [context()] * 3

    async def test_changing_a_loaded_context_changes_nothing_stored(
        self, storage: ISagaStorage, clock: FakeClock
    ) -> None:
        saga_id = await _new_saga(
            storage, {"parcel_id": "p-1", "address": {"city": "Köln", "lines": ["Hohe Straße 1"]}}
        )

        _try_to_change((await storage.load_saga_state(saga_id)).context)

        assert (await storage.load_saga_state(saga_id)).context == {
            "parcel_id": "p-1",
            "address": {"city": "Köln", "lines": ["Hohe Straße 1"]},
        }
