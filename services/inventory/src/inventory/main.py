"""The composition root: settings in, a wired inventory service out.

Every service of the reference system has this shape (services/README.md):

- `build(settings, *, overrides)` makes every object (engine, outbox,
  mediators, the Kafka consumer) without connecting to anything;
  `overrides` hands it parts of the caller's (a test's topics).
- `Inventory.running()` starts what runs beside the HTTP server (schema,
  topics, the consumer, the relay when configured in-process);
  `Inventory.app()` is the HTTP app whose lifespan runs it.
- `create_app()` is the importable app factory:
  `uvicorn --factory inventory.main:create_app` or `fastapi run`.
- `relaying(settings)`, `prepare(settings)` and `migrate(settings)` serve the
  other commands.

```
inventory = build(Settings.load())
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
from cqrs.consumer import ConsumerHealth
from cqrs.events import bootstrap as events_bootstrap
from cqrs.requests import bootstrap as requests_bootstrap
from cqrs.telemetry import OutboxGauges
from cqrs_kafka.dead_letter_admin import KafkaDeadLetterAdmin
from cqrs_kafka.relay import running_relay
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from cqrs_sqla.outbox_admin import SqlAlchemyOutboxAdmin
from cqrs_sqla.schema import Schema
from inventory.adapters.database import (
    create_engine,
    create_schema,
    database_answers,
    prepare_schema,
)
from inventory.adapters.kafka import DeliveryUnitOfWorkFactory, Topics, ensure_inventory_topics
from inventory.adapters.messages import (
    COMMANDS,
    ORDER_CONFIRMED,
    ORDER_EVENTS,
    ORDER_REJECTED,
    RELEASE_STOCK,
    RESERVE_STOCK,
    register_messages,
)
from inventory.adapters.unit_of_work import SqlUnitOfWorkFactory
from inventory.application import (
    LIST_STOCK,
    GetStock,
    GetStockHandler,
    ListStock,
    OrderConfirmedHandler,
    OrderRejectedHandler,
    ReleaseStockHandler,
    ReserveStockHandler,
    Restock,
    RestockHandler,
    StockSnapshot,
    UnitOfWorkFactory,
)
from inventory.entrypoints import http
from inventory.entrypoints.consumer import create_consumer
from inventory.settings import Settings
from servicekit.admin import mount_admin
from servicekit.middlewares import HandlerTimings, add_timings_route, mediator_middlewares
from servicekit.server import Stopping
from servicekit.telemetry import sampling

__all__ = (
    "BROKER_PING_TIMEOUT",
    "Inventory",
    "Overrides",
    "build",
    "create_app",
    "event_mediator",
    "migrate",
    "prepare",
    "relaying",
    "request_mediator",
)

BROKER_PING_TIMEOUT = 3.0
"""Seconds `GET /health` waits for the Kafka broker to answer."""


def request_mediator(
    unit_of_work: UnitOfWorkFactory,
    timings: HandlerTimings | None = None,
    snapshot: StockSnapshot | None = None,
) -> cqrs.RequestMediator:
    """The mediator of the HTTP API: `Restock`, `GetStock` and `ListStock`, in units from
    `unit_of_work` (each message's duration added to `timings`); `ListStock` falls back
    on `snapshot`, the levels it last read, when the database does not answer."""
    return requests_bootstrap.bootstrap(
        di_container=_container(unit_of_work, snapshot or StockSnapshot()),
        commands_mapper=lambda requests: requests.bind(Restock, RestockHandler),
        queries_mapper=_bind_queries,
        middlewares=mediator_middlewares(
            "inventory", timings or HandlerTimings(), expected=http.CLIENT_ERRORS
        ),
    )


def _bind_queries(requests: cqrs.RequestMap) -> None:
    requests.bind(GetStock, GetStockHandler)
    requests.bind(ListStock, LIST_STOCK)


def event_mediator(
    unit_of_work: UnitOfWorkFactory, timings: HandlerTimings | None = None
) -> cqrs.EventMediator:
    """The mediator of the consumed messages: the commands `reserve_stock` and
    `release_stock`, the orders' notifications `order_confirmed` and `order_rejected`."""

    def bind(events: cqrs.EventMap) -> None:
        events.bind(COMMANDS[RESERVE_STOCK], ReserveStockHandler)
        events.bind(COMMANDS[RELEASE_STOCK], ReleaseStockHandler)
        events.bind(ORDER_EVENTS[ORDER_CONFIRMED], OrderConfirmedHandler)
        events.bind(ORDER_EVENTS[ORDER_REJECTED], OrderRejectedHandler)

    return events_bootstrap.bootstrap(
        di_container=_container(unit_of_work),
        events_mapper=bind,
        middlewares=mediator_middlewares(
            "inventory", timings or HandlerTimings(), expected=http.CLIENT_ERRORS
        ),
    )


def _container(
    unit_of_work: UnitOfWorkFactory, snapshot: StockSnapshot | None = None
) -> di.Container:
    """Handlers ask for a `UnitOfWorkFactory`, which is `unit_of_work`, and the stock view's
    for a `StockSnapshot`, which is `snapshot` (one per mediator)."""
    container = di.Container()
    provider = dependent.Dependent(lambda: unit_of_work, scope="request")
    container.bind(di.bind_by_type(provider, UnitOfWorkFactory))
    kept = snapshot or StockSnapshot()
    container.bind(
        di.bind_by_type(dependent.Dependent(lambda: kept, scope="request"), StockSnapshot)
    )
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
    consumer_health: ConsumerHealth
    #: How long each type of message took (every mediator's `Timing` middleware).
    timings: HandlerTimings
    #: The commands the consumer gave up on (`inventory.commands.dlq`), for the admin console.
    dead_letters: KafkaDeadLetterAdmin

    @contextlib.asynccontextmanager
    async def running(self) -> collections.abc.AsyncGenerator[None, None]:
        """Create the schema and topics, consume commands (and relay replies when
        `settings.relay_in_process`) until the block ends; then release everything."""
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(self.engine.dispose)
            stack.push_async_callback(self.dead_letters.close)
            await self.prepare()
            stack.push_async_callback(self.consumer.stop)  # also after a half-done start
            await self.consumer.start()
            if self.settings.relay_in_process:
                await stack.enter_async_context(self.relaying())
            yield

    async def prepare(self) -> None:
        """Upgrade the schema (or check it, `INVENTORY_MIGRATE_ON_START=false`) and create
        the topics that are missing."""
        await prepare_schema(self.engine, self.schema, upgrade=self.settings.migrate_on_start)
        await ensure_inventory_topics(self.settings.kafka_bootstrap_servers, self.topics)

    @contextlib.asynccontextmanager
    async def relaying(self) -> collections.abc.AsyncGenerator[None, None]:
        """Publish the outbox's replies to Kafka until the block ends, sampling its
        gauges (rows pending, dead) meanwhile."""
        try:
            async with (
                running_relay(
                    self.outbox.store,
                    self.settings.kafka_bootstrap_servers,
                    keyring=self.settings.keyring(),
                ),
                sampling(OutboxGauges(SqlAlchemyOutboxAdmin(self.outbox.store))),
            ):
                yield
        finally:
            await self.outbox.store.close()

    async def consumer_healthy(self) -> bool:
        """Health probe: the command consumer gets on with its records."""
        return self.consumer_health.healthy

    async def database_answers(self) -> bool:
        """Health probe: the database runs a query."""
        return await database_answers(self.engine)

    async def broker_answers(self) -> bool:
        """Health probe: the Kafka cluster answers the consumer's broker."""
        return await self.consumer.ping(timeout=BROKER_PING_TIMEOUT)

    def app(self, stopping: Stopping | None = None) -> fastapi.FastAPI:
        """The HTTP API, running `running()` as its lifespan (`stopping` is unused: no
        response of this API lasts)."""

        def lifespan(app: fastapi.FastAPI) -> contextlib.AbstractAsyncContextManager[None]:
            return self.running()

        app = http.create_app(
            self.mediator,
            probes={
                "database": self.database_answers,
                "broker": self.broker_answers,
                "consumer": self.consumer_healthy,
            },
            lifespan=lifespan,
            operators=self.settings.operators(),
            docs=self.settings.docs_enabled,
        )
        add_timings_route(app, self.timings)
        mount_admin(
            app,
            self.settings.operators(),
            outbox=SqlAlchemyOutboxAdmin(self.outbox.store),
            dead_letters=self.dead_letters,
        )
        return app


@dataclasses.dataclass(frozen=True)
class Overrides:
    """Parts `build` takes instead of making its own (tests pass topics of their own)."""

    topics: Topics | None = None


def build(settings: Settings, *, overrides: Overrides = Overrides()) -> Inventory:
    """The inventory's parts for `settings`, with `overrides`'; nothing connects yet."""
    register_messages()
    topics = overrides.topics or Topics()
    engine = create_engine(settings.database_url)
    schema = Schema()
    outbox = SqlAlchemyOutboxedEventRepository(async_sessionmaker(engine), schema=schema)
    consumer_health = ConsumerHealth()
    timings = HandlerTimings()
    return Inventory(
        settings=settings,
        topics=topics,
        engine=engine,
        schema=schema,
        outbox=outbox,
        mediator=request_mediator(SqlUnitOfWorkFactory(outbox, topics.replies), timings),
        consumer=create_consumer(
            settings.kafka_bootstrap_servers,
            event_mediator(DeliveryUnitOfWorkFactory(outbox, topics.replies), timings),
            outbox,
            schema,
            topics,
            consumer_health,
            settings.keyring(),
        ),
        consumer_health=consumer_health,
        timings=timings,
        dead_letters=KafkaDeadLetterAdmin(
            settings.kafka_bootstrap_servers, topics=[topics.commands_dead_letter]
        ),
    )


def create_app(
    settings: Settings | None = None,
    *,
    overrides: Overrides = Overrides(),
    stopping: Stopping | None = None,
) -> fastapi.FastAPI:
    """The app factory: the service's HTTP app for `settings` (default: the environment's).

    ```
    uvicorn --factory inventory.main:create_app
    ```
    """
    return build(settings or Settings.load(), overrides=overrides).app(stopping)


async def prepare(settings: Settings) -> None:
    """Ready the schema and create the missing topics, then let go of the connections."""
    inventory = build(settings)
    try:
        await inventory.prepare()
    finally:
        await inventory.engine.dispose()


async def migrate(settings: Settings) -> str:
    """The `migrate` command: upgrade the database `settings` names to the newest
    revisions; what it did."""
    inventory = build(settings)
    try:
        return await create_schema(inventory.engine, inventory.schema)
    finally:
        await inventory.engine.dispose()


@contextlib.asynccontextmanager
async def relaying(settings: Settings) -> collections.abc.AsyncGenerator[None, None]:
    """The `relay` command: publish the outbox's replies to Kafka until the block ends
    (after readying the schema and the topics, as `serve` does)."""
    inventory = build(settings)
    try:
        await inventory.prepare()
        async with inventory.relaying():
            yield
    finally:
        await inventory.engine.dispose()
