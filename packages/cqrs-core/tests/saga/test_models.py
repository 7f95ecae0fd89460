"""Saga data: contexts serialise to snake_case JSON dicts, statuses, log entries."""

from __future__ import annotations

import dataclasses
import datetime
import json
import uuid

import pytest

from cqrs.saga.models import (
    SagaContext,
    SagaLogEntry,
    SagaState,
    SagaStatus,
    SagaStepAction,
    SagaStepStatus,
)

BOOKED_AT = datetime.datetime(2024, 3, 1, 8, 30, tzinfo=datetime.timezone.utc)
BOOKING_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


@dataclasses.dataclass
class Seat:
    row: int
    letter: str


@dataclasses.dataclass
class BookingContext(SagaContext):
    booking_id: uuid.UUID
    booked_at: datetime.datetime
    seats: list[Seat] = dataclasses.field(default_factory=list[Seat])
    payment_reference: str | None = None


def make_context() -> BookingContext:
    return BookingContext(
        booking_id=BOOKING_ID,
        booked_at=BOOKED_AT,
        seats=[Seat(row=12, letter="C")],
        payment_reference="pay-1",
    )


def test_context_to_dict_is_a_snake_case_json_safe_dict() -> None:
    data = make_context().to_dict()

    assert data == {
        "booking_id": "12345678-1234-5678-1234-567812345678",
        "booked_at": "2024-03-01T08:30:00Z",
        "seats": [{"row": 12, "letter": "C"}],
        "payment_reference": "pay-1",
    }
    assert json.loads(json.dumps(data)) == data


def test_context_round_trips_through_its_dict() -> None:
    context = make_context()

    assert BookingContext.from_dict(**context.to_dict()) == context


def test_context_round_trips_through_json_text() -> None:
    context = make_context()

    restored = BookingContext.from_dict(**json.loads(json.dumps(context.to_dict())))

    assert restored == context
    assert isinstance(restored.booking_id, uuid.UUID)
    assert restored.booked_at == BOOKED_AT


def test_context_defaults_survive_the_round_trip() -> None:
    context = BookingContext(booking_id=BOOKING_ID, booked_at=BOOKED_AT)

    restored = BookingContext.from_dict(**context.to_dict())

    assert restored.seats == []
    assert restored.payment_reference is None


@pytest.mark.parametrize(
    ("status", "final"),
    [
        (SagaStatus.PENDING, False),
        (SagaStatus.RUNNING, False),
        (SagaStatus.COMPENSATING, False),
        (SagaStatus.COMPENSATION_FAILED, False),
        (SagaStatus.COMPLETED, True),
        (SagaStatus.FAILED, True),
    ],
)
def test_only_completed_and_failed_are_final(status: SagaStatus, final: bool) -> None:
    assert status.is_final is final


def test_statuses_and_actions_are_their_string_values() -> None:
    assert SagaStatus("compensation_failed") is SagaStatus.COMPENSATION_FAILED
    assert SagaStatus.COMPENSATING == "compensating"
    assert SagaStepAction.ACT.value == "act"
    assert SagaStepAction.COMPENSATE.value == "compensate"
    assert [status.value for status in SagaStepStatus] == [
        "started",
        "completed",
        "failed",
        "timed_out",
        "compensated",
    ]
    assert SagaStepStatus("timed_out") is SagaStepStatus.TIMED_OUT


def test_statuses_and_actions_print_as_their_values() -> None:
    # python-cqrs's README prints log entries with f"{entry.status}".
    assert str(SagaStatus.COMPLETED) == "completed"
    assert f"{SagaStepAction.COMPENSATE}: {SagaStepStatus.FAILED}" == "compensate: failed"


def test_a_saga_state_unpacks_as_status_context_and_version() -> None:
    state = SagaState(BOOKING_ID, "BookingSaga", SagaStatus.RUNNING, {"seat": "1A"}, 3)

    status, context, version = state

    assert (status, context, version) == (SagaStatus.RUNNING, {"seat": "1A"}, 3)


def test_a_context_is_built_from_a_dict_given_positionally() -> None:
    booked_at = datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.timezone.utc)
    context = BookingContext(BOOKING_ID, booked_at, [Seat(3, "C")])

    assert BookingContext.from_dict(context.to_dict()) == context
    assert BookingContext.from_dict({**context.to_dict(), "an_unknown_key": 1}) == context
    assert context.model_dump() == context.to_dict()


def test_log_entries_are_immutable() -> None:
    entry = SagaLogEntry(
        saga_id=BOOKING_ID,
        step_name="HoldSeat",
        action=SagaStepAction.ACT,
        status=SagaStepStatus.STARTED,
        timestamp=BOOKED_AT,
    )

    assert entry.details is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.status = SagaStepStatus.COMPLETED  # type: ignore[misc]


def test_saga_state_starts_with_no_recovery_attempts_and_no_error() -> None:
    state = SagaState(
        saga_id=BOOKING_ID, name="BookingSaga", status=SagaStatus.PENDING, context={}, version=1
    )

    assert state.recovery_attempts == 0
    assert state.error is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.version = 2  # type: ignore[misc]
