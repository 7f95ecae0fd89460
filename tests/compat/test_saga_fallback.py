"""python-cqrs `examples/saga_fallback.py` and the README's "Fallback Pattern with Circuit
Breaker": a fallback step behind an aiobreaker circuit breaker, its state kept in Redis
as the README's recipe shows (on the machine's Redis; `CQRS_TEST_REDIS_URL` to change)."""

from __future__ import annotations

import collections.abc
import dataclasses
import os
import typing
import uuid

import pytest
import redis
from aiobreaker import CircuitBreakerState
from aiobreaker.storage.redis import CircuitRedisStorage

import cqrs
from cqrs.adapters.circuit_breaker import AioBreakerAdapter
from cqrs.response import Response
from cqrs.saga import bootstrap
from cqrs.saga.fallback import Fallback
from cqrs.saga.models import SagaContext
from cqrs.saga.step import SagaStepHandler, SagaStepResult

REDIS_URL = os.environ.get("CQRS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PRIMARY_CALLS: list[str] = []


@dataclasses.dataclass
class OrderContext(SagaContext):
    order_id: str
    reservation_id: str | None = None


class ReserveInventoryResponse(Response):
    reservation_id: str


class PrimaryStep(SagaStepHandler[OrderContext, ReserveInventoryResponse]):
    async def act(
        self, context: OrderContext
    ) -> SagaStepResult[OrderContext, ReserveInventoryResponse]:
        PRIMARY_CALLS.append(context.order_id)
        raise RuntimeError("Service unavailable")


class FallbackStep(SagaStepHandler[OrderContext, ReserveInventoryResponse]):
    async def act(
        self, context: OrderContext
    ) -> SagaStepResult[OrderContext, ReserveInventoryResponse]:
        context.reservation_id = f"fallback_reservation_{context.order_id}"
        return self._generate_step_result(
            ReserveInventoryResponse(reservation_id=context.reservation_id)
        )


@pytest.fixture
def namespaces() -> collections.abc.Iterator[list[str]]:
    """The Redis namespaces the breakers used; their keys are deleted after the test."""
    used: list[str] = []
    yield used
    client = redis.from_url(REDIS_URL)
    for namespace in used:
        scan_iter = typing.cast(
            "typing.Callable[[str], typing.Iterator[bytes]]",
            client.scan_iter,  # pyright: ignore[reportUnknownMemberType]  (redis: partly untyped)
        )
        keys = list(scan_iter(f"aiobreaker:{namespace}:*"))
        if keys:
            client.delete(*keys)
    client.close()


def mediator_with(breaker: AioBreakerAdapter) -> cqrs.saga.SagaMediator:
    class OrderSagaWithFallback(cqrs.Saga[OrderContext]):
        steps = [Fallback(step=PrimaryStep, fallback=FallbackStep, circuit_breaker=breaker)]

    return bootstrap.bootstrap(
        sagas_mapper=lambda mapper: mapper.bind(OrderContext, OrderSagaWithFallback)
    )


async def run(mediator: cqrs.saga.SagaMediator, order_id: str) -> OrderContext:
    context = OrderContext(order_id=order_id)
    async for _ in mediator.stream(context):
        pass
    return context


async def test_the_fallback_acts_when_the_primary_fails() -> None:
    PRIMARY_CALLS.clear()
    mediator = mediator_with(AioBreakerAdapter(fail_max=2, timeout_duration=60))

    context = await run(mediator, "o1")

    assert context.reservation_id == "fallback_reservation_o1"
    assert PRIMARY_CALLS == ["o1"]


async def test_a_breaker_kept_in_redis_opens_for_every_instance(namespaces: list[str]) -> None:
    PRIMARY_CALLS.clear()
    prefix = uuid.uuid4().hex

    def redis_storage_factory(name: str) -> CircuitRedisStorage:
        # The README's recipe, with the state aiobreaker requires: the README's
        # `state="closed"` is refused by aiobreaker itself.
        namespace = f"{prefix}:{name}"
        namespaces.append(namespace)
        client = redis.from_url(REDIS_URL, decode_responses=False)
        return CircuitRedisStorage(
            state=CircuitBreakerState.CLOSED, redis_object=client, namespace=namespace
        )

    def instance() -> cqrs.saga.SagaMediator:
        return mediator_with(
            AioBreakerAdapter(
                fail_max=2, timeout_duration=60, storage_factory=redis_storage_factory
            )
        )

    first, second = instance(), instance()
    await run(first, "o1")
    await run(first, "o2")  # the second failure opens the breaker, in Redis

    context = await run(second, "o3")  # another instance: the primary is not tried

    assert PRIMARY_CALLS == ["o1", "o2"]
    assert context.reservation_id == "fallback_reservation_o3"
    assert namespaces[0].endswith(f"{__name__}.PrimaryStep")
