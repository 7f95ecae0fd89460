"""examples/bootstrap_factories.py: request and event bootstrap with every option."""

import logging

import pytest

import cqrs
from examples import bootstrap_factories as example


@pytest.fixture
async def report() -> example.ClinicReport:
    return await example.main()


def test_commands_and_queries_are_served(report: example.ClinicReport) -> None:
    assert report.booked == ["appt-1", "appt-2"]
    assert [a.pet_name for a in report.listed.appointments] == ["Biscuit"]


def test_domain_event_handlers_built_the_read_model(report: example.ClinicReport) -> None:
    assert sorted(example.APPOINTMENTS) == ["appt-1", "appt-2"]


def test_notifications_went_to_the_broker(report: example.ClinicReport) -> None:
    messages = example.BROKER.topic("clinic.appointments")
    assert [m.message_name for m in messages] == [example.APPOINTMENT_BOOKED] * 2


def test_event_mediator_handled_the_consumed_notifications(report: example.ClinicReport) -> None:
    assert report.reminders == [
        "sam@example.org at 2024-05-05 09:30",
        "noor@example.org at 2024-05-05 10:30",
    ]


def test_on_startup_ran_once_per_factory_and_registered_the_outbox_type(
    report: example.ClinicReport,
) -> None:
    assert report.startup_calls == ["init_store_event_mapper"] * 2
    assert (
        cqrs.OutboxedEventMap.get(example.APPOINTMENT_BOOKED)
        is cqrs.NotificationEvent[example.AppointmentBookedPayload]
    )


def test_middlewares_saw_every_message_of_both_mediators(report: example.ClinicReport) -> None:
    notification = cqrs.NotificationEvent[example.AppointmentBookedPayload].__name__
    assert report.handled_messages == [
        "BookAppointmentCommand",
        "BookAppointmentCommand",
        "ListAppointmentsQuery",
        notification,
        notification,
    ]


def test_factories_are_cached(report: example.ClinicReport) -> None:
    assert report.same_mediator
    assert isinstance(example.mediator_factory(), cqrs.RequestMediator)
    assert example.event_mediator_factory() is example.event_mediator_factory()
    assert isinstance(example.event_mediator_factory(), cqrs.EventMediator)


async def test_logging_middleware_logs_each_request(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="cqrs.mediator"):
        await example.main()

    assert "handling BookAppointmentCommand" in caplog.text
    assert "handling ListAppointmentsQuery" in caplog.text
