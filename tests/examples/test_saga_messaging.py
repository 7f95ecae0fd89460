"""examples/saga_messaging.py: a messaging saga step answered by a simulated inventory."""

import contextlib
import dataclasses
import io
import uuid

import pytest_asyncio

import cqrs
from cqrs.container.di import DIContainer
from cqrs.saga.execution import SagaRunner
from cqrs.saga.messaging import MessagingStep
from cqrs.saga.models import SagaStatus
from cqrs.saga.storage.memory import MemorySagaStorage
from examples import saga_messaging as example


@dataclasses.dataclass
class Run:
    report: example.TeaShopReport
    output: str


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def run() -> Run:
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        report = await example.main()
    return Run(report=report, output=output.getvalue())


def test_a_reserved_order_completes_and_is_confirmed(run: Run) -> None:
    assert run.report.statuses["t-1"] == "completed"
    assert run.report.reservations["t-1"] == "r-1"
    assert run.report.orders["t-1"] == "confirmed"
    assert run.report.errors["t-1"] is None


def test_a_rejected_order_fails_and_is_cancelled_without_a_release(run: Run) -> None:
    assert run.report.statuses["t-2"] == "failed"
    assert run.report.errors["t-2"] == "OutOfStock: only 7 sencha left"
    assert run.report.orders["t-2"] == "cancelled"
    assert run.report.reservations["t-2"] is None


def test_the_worker_fires_the_timeout_only_after_the_deadline(run: Run) -> None:
    assert (run.report.due_within_deadline, run.report.due_after_deadline) == (0, 1)
    assert run.report.statuses["t-3"] == "failed"
    assert (run.report.errors["t-3"] or "").startswith("SagaStepTimeoutError: ReserveStockStep")
    assert run.report.orders["t-3"] == "cancelled"


def test_the_timed_out_step_is_compensated_too(run: Run) -> None:
    assert run.report.timed_out_history == [
        ("RecordOrderStep", "act", "completed"),
        ("ReserveStockStep", "act", "started"),
        ("ReserveStockStep", "act", "timed_out"),
        ("ReserveStockStep", "compensate", "completed"),
        ("RecordOrderStep", "compensate", "completed"),
    ]


def test_the_commands_went_through_the_outbox_keyed_by_saga(run: Run) -> None:
    names = [name for name, _ in run.report.commands]
    keys = [key for _, key in run.report.commands]

    assert names == [
        "tea_shop.reserve_stock",
        "tea_shop.reserve_stock",
        "tea_shop.reserve_stock",
        "tea_shop.release_stock",
    ]
    assert len(set(keys[:3])) == 3  # one saga each
    assert keys[3] == keys[2]  # t-3's release follows its reserve in the same partition
    assert all(str(uuid.UUID(key)) == key for key in keys)


def test_the_late_reply_is_ignored_and_the_stock_ends_where_it_was(run: Run) -> None:
    assert run.report.late_reply_status == "failed"
    assert run.report.reservations["t-3"] is None
    assert run.report.stock_left == 10 - 3  # only t-1 keeps tea


def test_main_prints_each_order_and_the_timeout(run: Run) -> None:
    assert "order t-1: waiting for ReserveStockStep\n" in run.output
    assert "order t-1: saga completed, order confirmed\n" in run.output
    assert "order t-2: saga failed, order cancelled\n  error: OutOfStock" in run.output
    assert "inventory offline: 1 command(s) stay in the outbox" in run.output
    assert "10 s later the recovery worker took 0 saga(s)" in run.output
    assert "31 s later the recovery worker took 1 saga(s)" in run.output
    assert "t-3 after the late reply: failed" in run.output
    assert run.output.endswith("sencha left: 7\n")


def test_the_command_names_are_registered_at_import() -> None:
    for name in ("tea_shop.reserve_stock", "tea_shop.release_stock"):
        assert cqrs.OutboxedEventMap.get(name) is cqrs.NotificationEvent[example.StockCommand]


def test_the_reservation_is_a_messaging_step_listing_its_replies() -> None:
    step = example.TeaOrderSaga.step_definitions()[1]

    assert issubclass(step.handler, MessagingStep)
    assert set(step.handler.replies) == {"tea_shop.stock_reserved", "tea_shop.stock_rejected"}


async def test_starting_stages_the_command_carrying_the_saga_id() -> None:
    storage = MemorySagaStorage()
    runner = SagaRunner(example.TeaOrderSaga, DIContainer(), storage)
    saga_id = uuid.uuid4()
    context = example.TeaOrderContext(order_id="x-1", sku="sencha", quantity=4)

    async for _ in runner.stream(context, saga_id):
        pass

    state = await storage.load_saga_state(saga_id)
    assert state.status is SagaStatus.RUNNING
    assert state.waiting is not None
    assert state.waiting.step_name == "ReserveStockStep"
    [message] = storage.outbox.messages()
    assert message.topic == "inventory.commands"
    assert message.payload["payload"] == {
        "saga_id": str(saga_id),
        "sku": "sencha",
        "quantity": 4,
    }


def test_the_inventory_rejects_what_it_does_not_have() -> None:
    inventory = example.Inventory()
    saga_id = uuid.uuid4()
    context = example.TeaOrderContext(order_id="x-2", sku="sencha", quantity=11)
    message = cqrs.Message.from_event(
        example.stock_command("tea_shop.reserve_stock", context, saga_id)
    )

    reply = inventory.handle(message)

    assert reply is not None
    assert reply.event_name == "tea_shop.stock_rejected"
    assert reply.payload.saga_id == saga_id
    assert inventory.stock["sencha"] == example.TEA_IN_STOCK
