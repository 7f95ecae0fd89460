"""`SagaTestHarness`: injected failures, replies, timeouts and the outcome it reports."""

from __future__ import annotations

import collections.abc
import dataclasses
import datetime
import typing
import uuid

import di
import di.dependent
import pydantic
import pytest

import cqrs
from cqrs.saga.errors import SagaStepTimeoutError
from cqrs.saga.execution import CompensationPolicy
from cqrs.saga.messaging import MessagingStep
from cqrs.saga.models import SagaContext, SagaLogEntry, SagaStatus, SagaStepAction
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.testing import (
    FakeClock,
    HarnessError,
    InjectedFailure,
    SagaOutcome,
    SagaTestHarness,
    registered_outbox_events,
)

PREFIX = "tests.testing.test_saga_harness."
BOOK = PREFIX + "book_hotel"
CANCEL = PREFIX + "cancel_hotel"
BOOKED = PREFIX + "hotel_booked"
CANCELLED = PREFIX + "hotel_cancelled"
TIMEOUT = datetime.timedelta(seconds=30)
RETRY_TWICE = CompensationPolicy(attempts=3, initial_delay=0.0, max_delay=0.0)


class HotelCommand(pydantic.BaseModel):
    saga_id: uuid.UUID
    city: str
    nightly_rate: int = 0


@pytest.fixture(autouse=True)
def registered_commands() -> collections.abc.Iterator[None]:
    """The registry is process-wide: leave it as it was."""
    with registered_outbox_events(
        dict.fromkeys((BOOK, CANCEL), cqrs.NotificationEvent[HotelCommand])
    ):
        yield


@dataclasses.dataclass
class TripContext(SagaContext):
    city: str = "Lisbon"
    seat_held: bool = False
    booking_id: str | None = None
    charged: bool = False


class HoldSeat(SagaStepHandler[TripContext, None]):
    async def act(self, context: TripContext) -> SagaStepResult[TripContext, None]:
        context.seat_held = True
        return self._generate_step_result(None)

    async def compensate(self, context: TripContext) -> None:
        context.seat_held = False


class BookHotel(MessagingStep[TripContext, str]):
    replies = (BOOKED,)
    timeout = TIMEOUT
    compensation_replies = (CANCELLED,)

    async def command(self, context: TripContext, saga_id: uuid.UUID) -> cqrs.NotificationEvent:
        return hotel_command(BOOK, context, saga_id)

    async def on_reply(
        self, context: TripContext, reply: cqrs.NotificationEvent
    ) -> SagaStepResult[TripContext, str]:
        context.booking_id = reply.payload["booking_id"]
        return self._generate_step_result(reply.payload["booking_id"])

    async def compensation_command(
        self, context: TripContext, saga_id: uuid.UUID
    ) -> cqrs.NotificationEvent:
        return hotel_command(CANCEL, context, saga_id)

    async def on_compensation_reply(
        self, context: TripContext, reply: cqrs.NotificationEvent
    ) -> None:
        context.booking_id = None


class ChargeTraveller(SagaStepHandler[TripContext, None]):
    async def act(self, context: TripContext) -> SagaStepResult[TripContext, None]:
        context.charged = True
        return self._generate_step_result(None)


class TripSaga(Saga[TripContext]):
    steps = [HoldSeat, BookHotel, ChargeTraveller]


# A step built by the container, with a protocol-typed dependency.


class RoomPricing(typing.Protocol):
    def nightly_rate(self, city: str) -> int: ...


class CityPricing:
    def nightly_rate(self, city: str) -> int:
        return {"Lisbon": 95, "Oslo": 180}[city]


class PricedBookHotel(BookHotel):
    def __init__(self, pricing: RoomPricing) -> None:
        self._pricing = pricing

    async def command(self, context: TripContext, saga_id: uuid.UUID) -> cqrs.NotificationEvent:
        return hotel_command(BOOK, context, saga_id, self._pricing.nightly_rate(context.city))


class PricedTripSaga(Saga[TripContext]):
    steps = [HoldSeat, PricedBookHotel]


def hotel_command(
    name: str, context: TripContext, saga_id: uuid.UUID, nightly_rate: int = 0
) -> cqrs.NotificationEvent:
    payload = HotelCommand(saga_id=saga_id, city=context.city, nightly_rate=nightly_rate)
    return cqrs.NotificationEvent[HotelCommand](event_name=name, topic="hotels", payload=payload)


def booked(booking_id: str = "bk-1") -> cqrs.NotificationEvent:
    return cqrs.NotificationEvent(
        event_name=BOOKED, topic="hotels", payload={"booking_id": booking_id}
    )


def cancelled() -> cqrs.NotificationEvent:
    return cqrs.NotificationEvent(event_name=CANCELLED, topic="hotels", payload={})


def entries(outcome: SagaOutcome[TripContext]) -> list[tuple[str, str, str]]:
    return [(e.step_name, e.action.value, e.status.value) for e in outcome.history]


async def waiting_for_the_hotel(
    harness: SagaTestHarness[TripContext],
) -> SagaOutcome[TripContext]:
    outcome = await harness.start(TripContext())
    assert outcome.waiting_for == "BookHotel"
    return outcome


async def compensating_the_hotel(
    harness: SagaTestHarness[TripContext],
) -> SagaOutcome[TripContext]:
    """ChargeTraveller fails after the booking: the saga waits for the cancellation."""
    harness.fail(ChargeTraveller)
    started = await waiting_for_the_hotel(harness)
    outcome = await harness.reply(started.saga_id, booked())
    assert (outcome.status, outcome.waiting_for) == (SagaStatus.COMPENSATING, "BookHotel")
    return outcome


# --- the outcome ---------------------------------------------------------------------


async def test_the_outcome_of_a_saga_waiting_for_a_reply() -> None:
    harness = SagaTestHarness(TripSaga)
    saga_id = uuid.uuid4()

    outcome = await harness.start(TripContext(city="Oslo"), saga_id)

    assert outcome.saga_id == saga_id
    assert outcome.status is SagaStatus.RUNNING
    assert outcome.waiting_for == "BookHotel"
    assert outcome.acted == ["HoldSeat"]
    assert outcome.compensated == []
    assert outcome.command_names() == [BOOK]
    [command] = outcome.commands
    assert command.payload["payload"]["saga_id"] == str(saga_id)
    assert command.payload["payload"]["city"] == "Oslo"
    assert command.key == str(saga_id)
    assert (outcome.raised, outcome.error) == (None, None)
    assert isinstance(outcome.context, TripContext)
    assert (outcome.context.city, outcome.context.seat_held) == ("Oslo", True)
    assert entries(outcome) == [("HoldSeat", "act", "completed"), ("BookHotel", "act", "started")]
    assert all(isinstance(entry, SagaLogEntry) for entry in outcome.history)


async def test_a_reply_completes_the_saga_and_the_commands_accumulate_per_saga() -> None:
    harness = SagaTestHarness(TripSaga)
    started = await waiting_for_the_hotel(harness)

    outcome = await harness.reply(started.saga_id, booked("bk-9"))

    assert outcome.status is SagaStatus.COMPLETED
    assert outcome.acted == ["HoldSeat", "BookHotel", "ChargeTraveller"]
    assert outcome.waiting_for is None
    assert outcome.context.booking_id == "bk-9"
    assert outcome.context.charged is True
    # The command sent by the earlier pass is still listed.
    assert outcome.command_names() == [BOOK]
    assert outcome.commands == started.commands


async def test_commands_are_kept_per_saga() -> None:
    harness = SagaTestHarness(TripSaga)

    first = await harness.start(TripContext(city="Lisbon"))
    second = await harness.start(TripContext(city="Oslo"))
    first_again = await harness.outcome(first.saga_id)

    assert [c.payload["payload"]["city"] for c in second.commands] == ["Oslo"]
    assert [c.payload["payload"]["city"] for c in first_again.commands] == ["Lisbon"]
    assert first_again.commands == first.commands
    assert len(harness.storage.outbox.messages()) == 2


# --- injected failures ----------------------------------------------------------------


async def test_fail_raises_injected_failure_by_default_and_the_pass_reports_it() -> None:
    harness = SagaTestHarness(TripSaga).fail(HoldSeat)

    outcome = await harness.start(TripContext())

    assert isinstance(outcome.raised, InjectedFailure)
    assert str(outcome.raised) == "HoldSeat.act failed"
    assert outcome.error == "InjectedFailure: HoldSeat.act failed"
    assert outcome.status is SagaStatus.FAILED
    assert (outcome.acted, outcome.compensated, outcome.commands) == ([], [], [])
    assert ("HoldSeat", "act", "failed") in entries(outcome)


async def test_fail_raises_the_given_error_itself() -> None:
    error = ConnectionError("seat service down")
    harness = SagaTestHarness(TripSaga).fail(HoldSeat, error)

    outcome = await harness.start(TripContext())

    assert outcome.raised is error
    assert outcome.error == "ConnectionError: seat service down"


async def test_fail_is_chainable_and_each_failure_is_used_up() -> None:
    harness = SagaTestHarness(TripSaga)

    assert harness.fail(HoldSeat) is harness
    failed = await harness.start(TripContext())
    passed = await harness.start(TripContext())

    assert failed.status is SagaStatus.FAILED
    assert passed.status is SagaStatus.RUNNING
    assert passed.acted == ["HoldSeat"]


async def test_fail_times_makes_a_compensation_fail_that_many_times() -> None:
    harness = SagaTestHarness(TripSaga, compensation=RETRY_TWICE)
    harness.fail(HoldSeat, on="compensate", times=2).fail(BookHotel, on="command")

    outcome = await harness.start(TripContext())

    assert isinstance(outcome.raised, InjectedFailure)
    assert str(outcome.raised) == "BookHotel.command failed"
    assert outcome.status is SagaStatus.FAILED
    assert outcome.compensated == ["HoldSeat"]
    compensations = [e for e in entries(outcome) if e[1] == "compensate"]
    assert compensations == [
        ("HoldSeat", "compensate", "failed"),
        ("HoldSeat", "compensate", "failed"),
        ("HoldSeat", "compensate", "completed"),
    ]
    assert outcome.context.seat_held is False


async def test_a_compensation_failing_more_often_than_retried_stops_until_recovered() -> None:
    harness = SagaTestHarness(TripSaga)  # no retries by default
    harness.fail(HoldSeat, on="compensate").fail(BookHotel, on="command")

    outcome = await harness.start(TripContext())

    assert outcome.status is SagaStatus.COMPENSATION_FAILED
    assert outcome.compensated == []
    assert outcome.error == "InjectedFailure: BookHotel.command failed"

    recovered = await harness.recover(outcome.saga_id)

    assert recovered.status is SagaStatus.FAILED
    assert recovered.compensated == ["HoldSeat"]
    assert recovered.raised is None


async def test_fail_on_command_fails_the_step_before_anything_is_sent() -> None:
    harness = SagaTestHarness(TripSaga).fail(BookHotel, on="command")

    outcome = await harness.start(TripContext())

    assert isinstance(outcome.raised, InjectedFailure)
    assert outcome.status is SagaStatus.FAILED
    assert outcome.commands == []
    assert outcome.acted == ["HoldSeat"]
    assert outcome.compensated == ["HoldSeat"]
    assert outcome.waiting_for is None


async def test_fail_on_reply_fails_the_step_without_compensating_it_and_raises_nothing() -> None:
    harness = SagaTestHarness(TripSaga).fail(BookHotel, on="on_reply")
    started = await waiting_for_the_hotel(harness)

    outcome = await harness.reply(started.saga_id, booked())

    assert outcome.status is SagaStatus.FAILED
    assert outcome.raised is None  # deliver records step failures instead of raising them
    assert outcome.error == "InjectedFailure: BookHotel.on_reply failed"
    assert outcome.acted == ["HoldSeat"]
    assert outcome.compensated == ["HoldSeat"]
    assert outcome.command_names() == [BOOK]  # no cancellation for a step that failed
    assert outcome.context.booking_id is None


async def test_fail_on_compensation_command_stops_the_compensation() -> None:
    harness = SagaTestHarness(TripSaga).fail(BookHotel, on="compensation_command")
    harness.fail(ChargeTraveller)
    started = await waiting_for_the_hotel(harness)

    outcome = await harness.reply(started.saga_id, booked())

    assert outcome.status is SagaStatus.COMPENSATION_FAILED
    assert outcome.command_names() == [BOOK]
    assert outcome.compensated == []  # HoldSeat waits behind BookHotel
    assert ("BookHotel", "compensate", "failed") in entries(outcome)
    assert outcome.context.seat_held is True


async def test_fail_on_compensation_reply_resends_the_compensation_command() -> None:
    harness = SagaTestHarness(TripSaga, compensation=RETRY_TWICE)
    harness.fail(BookHotel, on="on_compensation_reply")
    compensating = await compensating_the_hotel(harness)

    outcome = await harness.reply(compensating.saga_id, cancelled())

    assert outcome.status is SagaStatus.COMPENSATING
    assert outcome.waiting_for == "BookHotel"
    assert outcome.command_names() == [BOOK, CANCEL, CANCEL]
    assert ("BookHotel", "compensate", "failed") in entries(outcome)

    done = await harness.reply(compensating.saga_id, cancelled())

    assert done.status is SagaStatus.FAILED
    assert done.compensated == ["BookHotel", "HoldSeat"]


async def test_a_failing_compensation_reply_without_retries_ends_compensation_failed() -> None:
    harness = SagaTestHarness(TripSaga).fail(BookHotel, on="on_compensation_reply")
    compensating = await compensating_the_hotel(harness)

    outcome = await harness.reply(compensating.saga_id, cancelled())

    assert outcome.status is SagaStatus.COMPENSATION_FAILED
    assert outcome.waiting_for is None
    assert outcome.command_names() == [BOOK, CANCEL]
    assert outcome.compensated == []


def test_fail_on_a_method_the_step_does_not_have_raises_harness_error() -> None:
    harness = SagaTestHarness(TripSaga)

    with pytest.raises(HarnessError, match="HoldSeat has no method 'on_reply'"):
        harness.fail(HoldSeat, on="on_reply")
    with pytest.raises(AssertionError):  # a HarnessError is a test failure too
        harness.fail(ChargeTraveller, on="compensation_command")


# --- timeouts ------------------------------------------------------------------------


async def test_time_out_moves_the_clock_to_the_deadline_and_times_the_step_out() -> None:
    clock = FakeClock()
    harness = SagaTestHarness(TripSaga, clock=clock)
    started = await harness.start(TripContext())
    start = clock()

    outcome = await harness.time_out(started.saga_id)

    assert clock() == start + TIMEOUT
    assert isinstance(outcome.raised, SagaStepTimeoutError)
    assert ("BookHotel", "act", "timed_out") in entries(outcome)
    # The timed-out step is compensated too: its cancellation is sent and awaited.
    assert outcome.status is SagaStatus.COMPENSATING
    assert outcome.waiting_for == "BookHotel"
    assert outcome.command_names() == [BOOK, CANCEL]

    gave_up = await harness.time_out(started.saga_id)

    assert gave_up.status is SagaStatus.COMPENSATION_FAILED
    assert gave_up.raised is None
    assert gave_up.waiting_for is None


async def test_time_out_of_a_saga_that_waits_for_nothing_raises_harness_error() -> None:
    harness = SagaTestHarness(TripSaga)
    started = await harness.start(TripContext())
    done = await harness.reply(started.saga_id, booked())
    assert done.status is SagaStatus.COMPLETED

    with pytest.raises(HarnessError, match="waits for no reply"):
        await harness.time_out(started.saga_id)


# --- dependencies --------------------------------------------------------------------


def pricing_container() -> di.Container:
    container = di.Container()
    container.bind(
        di.bind_by_type(di.dependent.Dependent(CityPricing, scope="request"), RoomPricing)
    )
    return container


async def test_a_container_builds_steps_with_their_dependencies() -> None:
    harness = SagaTestHarness(PricedTripSaga, container=pricing_container())

    outcome = await harness.start(TripContext(city="Oslo"))

    assert outcome.waiting_for == "PricedBookHotel"
    [command] = outcome.commands
    assert command.payload["payload"]["nightly_rate"] == 180


async def test_failures_are_injected_into_steps_the_container_builds() -> None:
    harness = SagaTestHarness(PricedTripSaga, container=pricing_container())
    harness.fail(PricedBookHotel, on="command")

    failed = await harness.start(TripContext())
    passed = await harness.start(TripContext())

    assert isinstance(failed.raised, InjectedFailure)
    assert failed.commands == []
    assert passed.command_names() == [BOOK]
    assert passed.commands[0].payload["payload"]["nightly_rate"] == 95


async def test_the_outcome_history_is_the_stored_log() -> None:
    harness = SagaTestHarness(TripSaga)
    started = await waiting_for_the_hotel(harness)

    outcome = await harness.reply(started.saga_id, booked())

    assert outcome.history == await harness.storage.get_step_history(started.saga_id)
    assert [e.action for e in outcome.history].count(SagaStepAction.ACT) == len(outcome.history)
