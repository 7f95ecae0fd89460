"""The order saga on in-memory ports, through `cqrs.testing.SagaTestHarness`."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import logging
import typing

import pytest

import cqrs
from cqrs.container.di import DIContainer
from cqrs.saga.models import SagaStatus
from cqrs.testing import SagaOutcome, SagaTestHarness
from orders.adapters.memory import MemoryUnitOfWork
from orders.adapters.messages import (
    INVENTORY_REPLIES,
    InventoryMessages,
    StockRejected,
    StockRejectedPayload,
    StockReserved,
    StockReservedPayload,
)
from orders.adapters.payment import SimulatedPayment
from orders.application.errors import StockRejectedError
from orders.application.inventory import (
    RELEASE_STOCK,
    RESERVE_STOCK,
    STOCK_REJECTED,
    STOCK_RESERVED,
    InventoryCommands,
)
from orders.application.ports import BackupPaymentPort, PaymentPort, UnitOfWorkFactory
from orders.application.saga import (
    PAYMENT_BREAKER_FAILURES,
    ConfirmOrder,
    OpenOrder,
    OrderSaga,
    OrderSagaContext,
    PaymentFellBack,
    ReportPaymentFallback,
    SagaTimeouts,
)
from orders.domain.order import Order, OrderItem, OrderStatus, RejectionReason
from orders.main import provide

CREDIT_LIMIT = decimal.Decimal("100.00")
REPLY_TIMEOUT = datetime.timedelta(seconds=7)
ALL_STEPS = ["OpenOrder", "ReserveStock", "ChargePayment", "ConfirmOrder"]

Outcome = SagaOutcome[OrderSagaContext]


class Crash(BaseException):
    """Stands for the process dying in the middle of a step: nothing records it."""


@dataclasses.dataclass
class Shop:
    unit_of_work: MemoryUnitOfWork
    harness: SagaTestHarness[OrderSagaContext]
    primary: SimulatedPayment
    backup: SimulatedPayment

    async def place(self, unit_price: str = "10.00") -> OrderSagaContext:
        order = Order.place("c-1", [OrderItem("tea", 2, decimal.Decimal(unit_price))])
        async with self.unit_of_work() as work:
            await work.orders.add(order)
        return OrderSagaContext.of(order)

    async def start(self, context: OrderSagaContext) -> Outcome:
        return await self.harness.start(context, context.saga_id)

    async def order(self, context: OrderSagaContext) -> Order:
        async with self.unit_of_work() as work:
            order = await work.orders.get(context.saga_id)
        assert order is not None
        return order


def open_shop(*, primary_unavailable: bool = False) -> Shop:
    unit_of_work = MemoryUnitOfWork()
    primary = SimulatedPayment(CREDIT_LIMIT, name="primary", unavailable=primary_unavailable)
    backup = SimulatedPayment(CREDIT_LIMIT, name="backup")
    container = DIContainer()
    provide(
        container,
        {
            UnitOfWorkFactory: unit_of_work,
            PaymentPort: primary,
            BackupPaymentPort: backup,
            InventoryCommands: InventoryMessages(),
            SagaTimeouts: SagaTimeouts(reply=REPLY_TIMEOUT),
        },
    )
    return Shop(unit_of_work, SagaTestHarness(OrderSaga, container=container), primary, backup)


@pytest.fixture
def shop() -> Shop:
    return open_shop()


def reserved(context: OrderSagaContext) -> cqrs.NotificationEvent[typing.Any]:
    return StockReserved(
        event_name=STOCK_RESERVED,
        topic=INVENTORY_REPLIES,
        payload=StockReservedPayload(order_id=context.order_id),
    )


def rejected(
    context: OrderSagaContext, reason: RejectionReason = RejectionReason.INSUFFICIENT_STOCK
) -> cqrs.NotificationEvent[typing.Any]:
    skus = ["tea"] if reason is RejectionReason.INSUFFICIENT_STOCK else []
    return StockRejected(
        event_name=STOCK_REJECTED,
        topic=INVENTORY_REPLIES,
        payload=StockRejectedPayload.model_validate(
            {"order_id": context.order_id, "reason": reason.value, "skus": skus}
        ),
    )


async def test_the_saga_sends_reserve_stock_and_waits_for_the_reply(shop: Shop) -> None:
    context = await shop.place()

    outcome = await shop.start(context)

    assert outcome.status is SagaStatus.RUNNING
    assert outcome.acted == ["OpenOrder"]
    assert outcome.waiting_for == "ReserveStock"
    [command] = outcome.commands
    assert command.message_name == RESERVE_STOCK
    assert command.topic == "inventory.commands"
    assert command.key == context.order_id
    assert command.payload["payload"] == {
        "order_id": context.order_id,
        "items": [{"sku": "tea", "quantity": 2}],
    }
    assert (await shop.order(context)).status is OrderStatus.PENDING


async def test_the_reply_deadline_is_the_configured_timeout(shop: Shop) -> None:
    context = await shop.place()
    started_at = shop.harness.clock()

    await shop.start(context)

    waiting = (await shop.harness.storage.load_saga_state(context.saga_id)).waiting
    assert waiting is not None
    assert waiting.deadline - started_at == REPLY_TIMEOUT


async def test_stock_reserved_runs_the_saga_to_a_confirmed_order(shop: Shop) -> None:
    context = await shop.place()
    await shop.start(context)

    outcome = await shop.harness.reply(context.saga_id, reserved(context))

    assert outcome.status is SagaStatus.COMPLETED
    assert outcome.acted == ALL_STEPS
    assert outcome.compensated == []
    assert outcome.command_names() == [RESERVE_STOCK]
    order = await shop.order(context)
    assert order.status is OrderStatus.CONFIRMED
    assert order.reason is None


@pytest.mark.parametrize(
    "reason", [RejectionReason.INSUFFICIENT_STOCK, RejectionReason.INVALID_ITEMS]
)
async def test_a_stock_rejection_rejects_the_order_for_its_reason_and_releases_nothing(
    shop: Shop, reason: RejectionReason
) -> None:
    context = await shop.place()
    await shop.start(context)

    outcome = await shop.harness.reply(context.saga_id, rejected(context, reason))

    assert outcome.status is SagaStatus.FAILED
    assert outcome.acted == ["OpenOrder"]
    assert outcome.compensated == ["OpenOrder"]
    # Nothing was reserved, so there is nothing to release.
    assert outcome.command_names() == [RESERVE_STOCK]
    assert outcome.error is not None
    assert StockRejectedError.__name__ in outcome.error
    order = await shop.order(context)
    assert order.status is OrderStatus.REJECTED
    assert order.reason is reason


async def test_a_declined_payment_releases_the_stock_and_rejects_the_order(shop: Shop) -> None:
    context = await shop.place(unit_price="50.01")  # 100.02, above the credit limit
    await shop.start(context)

    outcome = await shop.harness.reply(context.saga_id, reserved(context))

    assert outcome.status is SagaStatus.FAILED
    assert outcome.acted == ["OpenOrder", "ReserveStock"]
    assert outcome.compensated == ["ReserveStock", "OpenOrder"]
    assert outcome.command_names() == [RESERVE_STOCK, RELEASE_STOCK]
    release = outcome.commands[1]
    assert release.key == context.order_id
    assert release.payload["payload"] == {"order_id": context.order_id}
    order = await shop.order(context)
    assert order.status is OrderStatus.REJECTED
    assert order.reason is RejectionReason.PAYMENT_DECLINED


async def test_an_unavailable_primary_provider_falls_back_on_the_backup(
    closed_breaker: None,
) -> None:
    shop = open_shop(primary_unavailable=True)
    context = await shop.place()
    await shop.start(context)

    outcome = await shop.harness.reply(context.saga_id, reserved(context))

    assert outcome.status is SagaStatus.COMPLETED
    assert (shop.primary.calls, shop.backup.calls) == (1, 1)
    assert (await shop.order(context)).status is OrderStatus.CONFIRMED


async def test_the_primary_breaker_opens_after_failures_in_a_row(closed_breaker: None) -> None:
    shop = open_shop(primary_unavailable=True)
    for _ in range(PAYMENT_BREAKER_FAILURES + 2):
        context = await shop.place()
        await shop.start(context)
        outcome = await shop.harness.reply(context.saga_id, reserved(context))
        assert outcome.status is SagaStatus.COMPLETED

    # Once open, the breaker keeps the orders away from the primary: the backup takes all.
    assert shop.primary.calls == PAYMENT_BREAKER_FAILURES
    assert shop.backup.calls == PAYMENT_BREAKER_FAILURES + 2


async def test_a_declined_charge_is_not_retried_on_the_backup(shop: Shop) -> None:
    context = await shop.place(unit_price="50.01")  # 100.02, above the credit limit
    await shop.start(context)

    outcome = await shop.harness.reply(context.saga_id, reserved(context))

    assert outcome.status is SagaStatus.FAILED
    assert (shop.primary.calls, shop.backup.calls) == (1, 0)


async def test_a_total_at_the_credit_limit_is_charged(shop: Shop) -> None:
    context = await shop.place(unit_price="50.00")
    await shop.start(context)

    outcome = await shop.harness.reply(context.saga_id, reserved(context))

    assert outcome.status is SagaStatus.COMPLETED


async def test_no_reply_in_time_releases_the_stock_and_rejects_the_order(shop: Shop) -> None:
    context = await shop.place()
    await shop.start(context)

    outcome = await shop.harness.time_out(context.saga_id)

    assert outcome.status is SagaStatus.FAILED
    # The reservation may have happened anyway: it is released.
    assert outcome.compensated == ["ReserveStock", "OpenOrder"]
    assert outcome.command_names() == [RESERVE_STOCK, RELEASE_STOCK]
    order = await shop.order(context)
    assert order.status is OrderStatus.REJECTED
    assert order.reason is RejectionReason.INVENTORY_TIMEOUT


async def test_a_late_reply_after_the_timeout_changes_nothing(shop: Shop) -> None:
    context = await shop.place()
    await shop.start(context)
    await shop.harness.time_out(context.saga_id)

    outcome = await shop.harness.reply(context.saga_id, reserved(context))

    assert outcome.status is SagaStatus.FAILED
    assert (await shop.order(context)).reason is RejectionReason.INVENTORY_TIMEOUT


async def test_an_unexpected_failure_undoes_everything_and_rejects_as_internal(
    shop: Shop,
) -> None:
    context = await shop.place()
    await shop.start(context)
    shop.harness.fail(ConfirmOrder, RuntimeError("database went away"))

    outcome = await shop.harness.reply(context.saga_id, reserved(context))

    assert outcome.status is SagaStatus.FAILED
    assert outcome.compensated == ["ChargePayment", "ReserveStock", "OpenOrder"]
    assert outcome.command_names() == [RESERVE_STOCK, RELEASE_STOCK]
    order = await shop.order(context)
    assert order.status is OrderStatus.REJECTED
    assert order.reason is RejectionReason.INTERNAL_ERROR


async def test_a_crash_in_the_last_step_is_finished_by_recovery(shop: Shop) -> None:
    context = await shop.place()
    await shop.start(context)
    shop.harness.fail(ConfirmOrder, Crash())
    with pytest.raises(Crash):
        await shop.harness.reply(context.saga_id, reserved(context))
    assert (await shop.order(context)).status is OrderStatus.PENDING

    outcome = await shop.harness.recover(context.saga_id)

    assert outcome.status is SagaStatus.COMPLETED
    assert outcome.acted == ALL_STEPS
    assert (await shop.order(context)).status is OrderStatus.CONFIRMED


async def test_a_crash_while_rejecting_is_finished_by_recovery(shop: Shop) -> None:
    context = await shop.place()
    await shop.start(context)

    shop.harness.fail(OpenOrder, Crash(), on="compensate")
    with pytest.raises(Crash):
        await shop.harness.reply(context.saga_id, rejected(context))
    assert (await shop.order(context)).status is OrderStatus.PENDING

    outcome = await shop.harness.recover(context.saga_id)

    assert outcome.status is SagaStatus.FAILED
    order = await shop.order(context)
    assert order.status is OrderStatus.REJECTED
    assert order.reason is RejectionReason.INSUFFICIENT_STOCK


def test_the_payment_fallback_is_reported_by_a_sync_handler(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A SyncEventHandler: `handle` writes its line when called, with no coroutine to await.
    with caplog.at_level(logging.WARNING, logger="orders.payment"):
        returned = ReportPaymentFallback().handle(
            PaymentFellBack(order_id="o-1", total=decimal.Decimal("8.00"))
        )

    assert returned is None
    assert "order o-1: the backup payment provider took the charge of 8.00" in caplog.text
