"""The inventory service wired: settings -> engine, schema, outbox, mediators, consumer, app.

`build` makes the parts; `Inventory.running()` starts what runs in the
background (schema, topics, the Kafka consumer, the relay when configured
in-process) and `Inventory.app()` is the FastAPI app whose lifespan does so.
`migrate` and `relaying` serve the other two commands of `python -m inventory`.

```
inventory = build(Settings.from_environment())
async with inventory.running():
    ...  # commands on inventory.commands are handled; replies wait in the outbox
```
"""

from __future__ import annotations

import collections.abc
import contextlib
import dataclasses

import di
import fastapi
from di import dependent
from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

import cqrs
from cqrs.events import bootstrap as events_bootstrap
from cqrs.requests import bootstrap as requests_bootstrap
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from cqrs_sqla.schema import Schema
from inventory.adapters.database import create_engine, create_schema, database_answers
from inventory.adapters.kafka import (
    DeliveryUnitOfWork,
    Topics,
    ensure_inventory_topics,
    running_relay,
)
from inventory.adapters.messages import COMMANDS, RELEASE_STOCK, RESERVE_STOCK, register_messages
from inventory.adapters.unit_of_work import TransactionPerUnit
from inventory.application import (
    GetStock,
    GetStockHandler,
    ReleaseStockHandler,
    ReserveStockHandler,
    Restock,
    RestockHandler,
    UnitOfWorkFactory,
)
from inventory.entrypoints.consumer import create_consumer
from inventory.entrypoints.http import create_app
from inventory.settings import Settings

__all__ = (
    "BROKER_PING_TIMEOUT",
    "Inventory",
    "build",
    "event_mediator",
    "migrate",
    "relaying",
    "request_mediator",
)

BROKER_PING_TIMEOUT = 3.0
"""Seconds `GET /health` waits for the Kafka broker to answer."""


def request_mediator(unit_of_work: UnitOfWorkFactory) -> cqrs.RequestMediator:
    """The mediator of the HTTP API: `Restock` and `GetStock`, in units from `unit_of_work`."""
    return requests_bootstrap.bootstrap(
        di_container=_container(unit_of_work),
        commands_mapper=lambda requests: requests.bind(Restock, RestockHandler),
        queries_mapper=lambda requests: requests.bind(GetStock, GetStockHandler),
    )


def event_mediator(unit_of_work: UnitOfWorkFactory) -> cqrs.EventMediator:
    """The mediator of the consumed commands: `reserve_stock` and `release_stock`."""

    def bind(events: cqrs.EventMap) -> None:
        events.bind(COMMANDS[RESERVE_STOCK], ReserveStockHandler)
        events.bind(COMMANDS[RELEASE_STOCK], ReleaseStockHandler)

    return events_bootstrap.bootstrap(di_container=_container(unit_of_work), events_mapper=bind)


def _container(unit_of_work: UnitOfWorkFactory) -> di.Container:
    """Handlers ask for a `UnitOfWorkFactory`; this one gets `unit_of_work`."""
    container = di.Container()
    provider = dependent.Dependent(lambda: unit_of_work, scope="request")
    container.bind(di.bind_by_type(provider, UnitOfWorkFactory))
    return container


@dataclasses.dataclass
class Inventory:
    """The wired parts of one inventory process."""

    settings: Settings
    topics: Topics
    engine: AsyncEngine
    schema: Schema
    outbox: SqlAlchemyOutboxedEventRepository
    mediator: cqrs.RequestMediator
    consumer: KafkaBroker

    @contextlib.asynccontextmanager
    async def running(self) -> collections.abc.AsyncGenerator[None, None]:
        """Create the schema and topics, consume commands (and relay replies when
        `settings.relay_in_process`) until the block ends; then release everything."""
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(self.engine.dispose)
            await self.prepare()
            stack.push_async_callback(self.consumer.stop)  # also after a half-done start
            await self.consumer.start()
            if self.settings.relay_in_process:
                await stack.enter_async_context(self.relaying())
            yield

    async def prepare(self) -> None:
        """Create the tables and the topics that are missing."""
        await create_schema(self.engine, self.schema)
        await ensure_inventory_topics(self.settings.kafka_bootstrap_servers, self.topics)

    def relaying(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Publish the outbox's replies to Kafka until the block ends."""
        return running_relay(self.outbox, self.settings.kafka_bootstrap_servers)

    def _lifespan(self, _app: fastapi.FastAPI) -> contextlib.AbstractAsyncContextManager[None]:
        return self.running()

    def app(self) -> fastapi.FastAPI:
        """The HTTP API, running `running()` as its lifespan."""
        return create_app(
            self.mediator,
            {
                "database": lambda: database_answers(self.engine),
                "broker": lambda: self.consumer.ping(timeout=BROKER_PING_TIMEOUT),
            },
            lifespan=self._lifespan,
        )


def build(settings: Settings, topics: Topics | None = None) -> Inventory:
    """The inventory's parts for `settings`; nothing connects until it runs."""
    register_messages()
    topics = topics or Topics()
    engine = create_engine(settings.database_url)
    schema = Schema()
    outbox = SqlAlchemyOutboxedEventRepository(async_sessionmaker(engine), schema=schema)
    return Inventory(
        settings=settings,
        topics=topics,
        engine=engine,
        schema=schema,
        outbox=outbox,
        mediator=request_mediator(TransactionPerUnit(outbox, topics.replies)),
        consumer=create_consumer(
            settings.kafka_bootstrap_servers,
            event_mediator(DeliveryUnitOfWork(outbox, topics.replies)),
            outbox,
            schema,
            topics,
        ),
    )


async def migrate(settings: Settings) -> None:
    """Create the missing tables of the database `settings` names."""
    inventory = build(settings)
    try:
        await create_schema(inventory.engine, inventory.schema)
    finally:
        await inventory.engine.dispose()


@contextlib.asynccontextmanager
async def relaying(settings: Settings) -> collections.abc.AsyncGenerator[None, None]:
    """The `relay` command: publish the outbox's replies to Kafka until the block ends
    (after creating what is missing, as `serve` does)."""
    inventory = build(settings)
    try:
        await inventory.prepare()
        async with inventory.relaying():
            yield
    finally:
        await inventory.engine.dispose()
