"""examples/saga_order.py: an order saga with compensation, a fallback and recovery."""

import collections.abc
import contextlib
import dataclasses
import io
import uuid

import pytest
import pytest_asyncio

from cqrs.adapters.circuit_breaker import AioBreakerAdapter
from cqrs.container.di import DIContainer
from cqrs.saga.models import SagaStatus
from examples import saga_order as example


@dataclasses.dataclass
class Run:
    report: example.ShopReport
    output: str


# main() runs once: the courier's circuit breaker lives on the saga class.
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def run() -> Run:
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        report = await example.main()
    return Run(report=report, output=output.getvalue())


def test_healthy_orders_complete_every_step_in_order(run: Run) -> None:
    assert run.report.steps_by_order["p-1"] == [
        "ReservePaperStep",
        "ChargeCustomerStep",
        "BookCourierStep",
    ]


def test_a_courier_outage_falls_back_to_the_post_office(run: Run) -> None:
    for order_id in ("p-2", "p-3", "p-4"):
        assert run.report.steps_by_order[order_id][-1] == "PostOfficeStep"


def test_the_open_breaker_stops_calling_the_courier(run: Run) -> None:
    # p-1 succeeds, p-2 and p-3 fail and open the breaker, p-4 and p-6 skip it.
    assert run.report.courier_calls == 3


def test_a_declined_card_fails_the_saga_and_reaches_the_caller(run: Run) -> None:
    assert run.report.declined_error == "card 4000-0000 declined for order p-5"
    assert run.report.declined_status == "failed"
    assert run.report.steps_by_order["p-5"] == ["ReservePaperStep"]
    assert "p-5" not in run.report.charges


def test_compensation_and_recovery_leave_the_paper_count_right(run: Run) -> None:
    # Five orders kept 10 sheets each; p-5's were put back; p-6 reserved once.
    assert run.report.paper_left == 100 - 5 * 10


def test_every_completed_order_was_charged_once(run: Run) -> None:
    assert run.report.charges == dict.fromkeys(("p-1", "p-2", "p-3", "p-4", "p-6"), 2500)


def test_a_killed_worker_leaves_the_saga_running_until_recovered(run: Run) -> None:
    assert run.report.crashed_status == "running"
    assert run.report.recovered_status == "completed"


def test_the_history_shows_each_step_once_the_interrupted_charge_left_no_entry(run: Run) -> None:
    # A local step is logged once it is done: the charge the killed worker began is
    # not in the log, and the one recovery ran again is.
    assert run.report.recovered_history == [
        ("ReservePaperStep", "act", "completed"),
        ("ChargeCustomerStep", "act", "completed"),
        ("PostOfficeStep", "act", "completed"),
    ]


def test_main_prints_the_steps_and_the_history(run: Run) -> None:
    assert "order p-1:\n  ReservePaperStep\n  ChargeCustomerStep\n  BookCourierStep\n" in (
        run.output
    )
    assert "order p-6 recovered: completed" in run.output
    assert "ChargeCustomerStep act        completed" in run.output


def test_the_shipping_step_is_a_fallback_behind_a_breaker() -> None:
    shipping = example.PosterOrderSaga.step_definitions()[2]

    assert shipping.handler is example.BookCourierStep
    assert shipping.fallback is not None
    assert shipping.fallback.fallback is example.PostOfficeStep
    assert isinstance(shipping.fallback.circuit_breaker, AioBreakerAdapter)


async def test_the_charging_step_gets_the_gateway_bound_in_setup_di() -> None:
    step = await DIContainer(example.setup_di()).resolve(example.ChargeCustomerStep)

    assert isinstance(step._gateway, example.CardGateway)  # pyright: ignore[reportPrivateUsage]


async def test_a_declined_card_puts_the_paper_back() -> None:
    example.shop = example.Shop()
    mediator = example.bootstrap.bootstrap(
        di_container=example.setup_di(), sagas_mapper=example.sagas_mapper
    )
    saga_id = uuid.uuid4()

    with pytest.raises(example.PaymentDeclined):
        await anext_all(mediator.stream(example.poster_order("x-1", card="1111-0000"), saga_id))

    assert example.shop.paper == example.SHEETS_IN_STOCK
    assert (await mediator.storage.load_saga_state(saga_id)).status is SagaStatus.FAILED


async def anext_all(stream: collections.abc.AsyncIterator[object]) -> list[object]:
    return [item async for item in stream]
