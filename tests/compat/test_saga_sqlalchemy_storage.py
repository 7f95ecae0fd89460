"""python-cqrs `examples/saga_sqlalchemy_storage.py`: sagas persisted by
`SqlAlchemySagaStorage(session_factory)`, tables made by `Base.metadata.create_all`, on
SQLite and on PostgreSQL (the machine's server; `CQRS_TEST_POSTGRES_URL` to change)."""

from __future__ import annotations

import asyncio
import collections.abc
import dataclasses
import pathlib
import typing
import uuid

import di
import pytest
import sqlalchemy
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

import cqrs
from cqrs import Event
from cqrs.response import Response
from cqrs.saga import bootstrap
from cqrs.saga.models import SagaContext
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.enums import SagaStepStatus
from cqrs.saga.storage.sqlalchemy import (
    Base,
    SagaExecutionModel,
    SagaLogModel,
    SqlAlchemySagaStorage,
)
from cqrs_sqla.testing import throwaway_postgres_database


@dataclasses.dataclass
class OrderContext(SagaContext):
    order_id: str
    total_amount: float
    status: str = "PENDING"


class ProcessPaymentResponse(Response):
    transaction_id: str


class ProcessPaymentStep(SagaStepHandler[OrderContext, ProcessPaymentResponse]):
    @property
    def events(self) -> typing.List[Event]:  # noqa: UP006 - python-cqrs's spelling
        return []

    async def act(
        self, context: OrderContext
    ) -> SagaStepResult[OrderContext, ProcessPaymentResponse]:
        await asyncio.sleep(0)
        context.status = "PAID"
        return self._generate_step_result(
            ProcessPaymentResponse(transaction_id=f"txn_{context.order_id}")
        )

    async def compensate(self, context: OrderContext) -> None:
        context.status = "REFUNDED"


class ShipOrderStep(SagaStepHandler[OrderContext, Response]):
    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, Response]:
        context.status = "SHIPPED"
        return self._generate_step_result(Response())


class OrderSaga(Saga[OrderContext]):
    steps = [ProcessPaymentStep, ShipOrderStep]


@pytest.fixture(scope="module")
def postgres_url() -> collections.abc.Iterator[str]:
    with throwaway_postgres_database("compat_saga") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'sagas.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def engine(database_url: str) -> collections.abc.AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url, pool_size=5, max_overflow=10)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()


async def test_a_saga_is_persisted_and_read_back(engine: AsyncEngine) -> None:
    session_factory = async_sessionmaker(engine, expire_on_commit=False)
    saga_storage = SqlAlchemySagaStorage(session_factory)

    def saga_mapper(mapper: cqrs.SagaMap) -> None:
        mapper.bind(OrderContext, OrderSaga)

    mediator = bootstrap.bootstrap(
        di_container=di.Container(), sagas_mapper=saga_mapper, saga_storage=saga_storage
    )
    saga_id = uuid.uuid4()

    steps = [
        result.step_type.__name__
        async for result in mediator.stream(
            OrderContext(order_id="123", total_amount=100.0), saga_id=saga_id
        )
    ]

    assert steps == ["ProcessPaymentStep", "ShipOrderStep"]
    status, loaded_context, _ = await SqlAlchemySagaStorage(session_factory).load_saga_state(
        saga_id
    )
    history = await saga_storage.get_step_history(saga_id)
    assert f"{status}" == "completed"
    assert loaded_context["status"] == "SHIPPED"
    assert [f"{entry.step_name}: {entry.status.value}" for entry in history] == [
        "ProcessPaymentStep: completed",
        "ShipOrderStep: completed",
    ]


async def test_the_orm_models_read_the_stored_rows(engine: AsyncEngine) -> None:
    session_factory = async_sessionmaker(engine, expire_on_commit=False)
    saga_storage = SqlAlchemySagaStorage(session_factory)
    saga_id = uuid.uuid4()
    await saga_storage.create_saga(saga_id, OrderSaga.saga_name(), {"order_id": "1"})
    await saga_storage.log_step(saga_id, "ProcessPaymentStep", "act", SagaStepStatus.STARTED)

    async with session_factory() as session:
        execution = await session.get(SagaExecutionModel, saga_id)
        logs = (await session.execute(sqlalchemy.select(SagaLogModel))).scalars().all()

    assert execution is not None
    assert (execution.name, execution.status, execution.version) == ("OrderSaga", "pending", 1)
    assert [(log.step_name, log.action, log.status) for log in logs] == [
        ("ProcessPaymentStep", "act", "started")
    ]
