"""The composition root: settings in, a wired orders service out.

Every service of the reference system has this shape (services/README.md):

- `build(settings, *, overrides)` makes every object (database, mediators,
  saga engine, payment, recovery worker, Kafka broker) without connecting to
  anything; `overrides` hands it adapters of the caller's (a test's fakes).
- `Orders.running()` starts what runs beside the HTTP server; `Orders.app()`
  is the HTTP app whose lifespan runs it.
- `create_app()` is the importable app factory:
  `uvicorn --factory orders.main:create_app` or `fastapi run`.
- `relaying(settings)` and `migrate(settings)` serve the other two commands.

```
orders = build(Settings.load())
app = orders.app()  # its lifespan starts the consumer and the workers
```
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import dataclasses
import datetime
import logging
import typing

import di
import fastapi
from di.dependent import Dependent
from faststream.kafka import KafkaBroker

import cqrs
from cqrs.admin.saga_admin import SagaAdmin
from cqrs.consumer import ConsumerHealth
from cqrs.container.di import DIContainer
from cqrs.events import bootstrap as events_bootstrap
from cqrs.requests import bootstrap as requests_bootstrap
from cqrs.saga import bootstrap as saga_bootstrap
from cqrs.saga.map import SagaMap
from cqrs.saga.mediator import SagaMediator
from cqrs.saga.mermaid import SagaMermaid
from cqrs.saga.recovery import SagaRecoveryWorker
from cqrs.telemetry import OutboxGauges, SagaGauges
from cqrs_kafka.consumer import kafka_broker
from cqrs_kafka.dead_letter_admin import KafkaDeadLetterAdmin
from cqrs_kafka.relay import running_relay
from cqrs_sqla.outbox_admin import SqlAlchemyOutboxAdmin
from cqrs_sqla.saga_admin import SqlAlchemySagaAdmin
from cqrs_sqla.saga_changes import NotifyingSagaStorage, SagaChanges
from orders.adapters.database import Database
from orders.adapters.idempotency import KeyPurge
from orders.adapters.kafka import create_topics, subscribe_replies
from orders.adapters.messages import (
    INVENTORY_REPLIES,
    REPLIES,
    InventoryMessages,
    register_messages,
)
from orders.adapters.payment import SimulatedPayment
from orders.adapters.reads import SqlOrderReads
from orders.application.get_order import GetOrder, GetOrderHandler
from orders.application.inventory import InventoryCommands
from orders.application.order_history import ListCustomerOrders, ListCustomerOrdersHandler
from orders.application.place_order import (
    PlaceOrder,
    PlaceOrderHandler,
    PlaceOrderOnce,
    PlaceOrderOnceHandler,
)
from orders.application.ports import (
    BackupPaymentPort,
    OrderChanges,
    OrderReads,
    PaymentPort,
    SagaLauncher,
    UnitOfWorkFactory,
)
from orders.application.replies import DeliverStockReply
from orders.application.saga import (
    OrderSaga,
    OrderSagaContext,
    PaymentFellBack,
    ReportPaymentFallback,
    SagaTimeouts,
)
from orders.application.screening import (
    SCREENING_CHAIN,
    DescribeScreening,
    DescribeScreeningHandler,
    OrderScreening,
    ScreeningPolicy,
    ScreenOrder,
)
from orders.application.watch_order import StreamTiming, WatchOrder, WatchOrderHandler
from orders.entrypoints import http
from orders.entrypoints.errors import CLIENT_ERRORS
from orders.entrypoints.page import PageSettings
from orders.settings import Settings
from servicekit.admin import ADMIN_SCOPE, mount_admin
from servicekit.auth import CustomerAuth
from servicekit.middlewares import HandlerTimings, add_timings_route, mediator_middlewares
from servicekit.server import Stopping
from servicekit.telemetry import sampling

__all__ = (
    "Orders",
    "Overrides",
    "build",
    "create_app",
    "migrate",
    "prepare",
    "provide",
    "relaying",
)

logger = logging.getLogger("orders")

#: How often the recovery worker looks for sagas to resume or time out (seconds).
RECOVERY_INTERVAL: typing.Final = 1.0
#: How long a worker holds a saga; after a crash, another takes it over once it passes.
SAGA_LEASE: typing.Final = datetime.timedelta(seconds=15)
#: How long an unclaimed saga that waits for nothing may sit before recovery takes it.
STALE_AFTER: typing.Final = datetime.timedelta(seconds=5)
#: How long a health probe of the broker may take (seconds).
BROKER_PING_TIMEOUT: typing.Final = 1.0


@dataclasses.dataclass(frozen=True)
class Orders:
    """The wired service: what the entrypoints use."""

    settings: Settings
    database: Database
    #: Sends `PlaceOrder`, `PlaceOrderOnce`, `GetOrder` and `ListCustomerOrders`.
    requests: cqrs.RequestMediator
    #: Sends `ScreenOrder` down the screening chain (`PlaceOrderHandler` asks it).
    screening: cqrs.RequestMediator
    #: Streams `WatchOrder`: an order's transitions as its saga writes them.
    streams: cqrs.StreamingRequestMediator
    #: Wakes the streams when a saga is written (LISTEN/NOTIFY on PostgreSQL).
    changes: SagaChanges
    #: How long each type of message took (every mediator's `Timing` middleware).
    timings: HandlerTimings
    #: Runs and resumes order sagas; `deliver` hands them replies.
    sagas: SagaMediator
    #: Dispatches consumed replies to `DeliverStockReply`.
    events: cqrs.EventMediator
    recovery: SagaRecoveryWorker
    #: The FastStream broker with the reply consumer (started by `running`).
    broker: KafkaBroker
    #: How the reply consumer gets on with its records.
    consumer_health: ConsumerHealth
    #: The replies the consumer gave up on (`inventory.replies.dlq`), for the admin console.
    dead_letters: KafkaDeadLetterAdmin
    #: Deletes the expired idempotency keys of `POST /orders` while `running`.
    key_purge: KeyPurge
    #: Who the customer of a request is (`ORDERS_CUSTOMER_AUTH`).
    customers: CustomerAuth

    async def database_answers(self) -> bool:
        """Health probe: the database runs a query."""
        await self.database.ping()
        return True

    async def broker_answers(self) -> bool:
        """Health probe: the Kafka cluster answers the consumer's broker."""
        return await self.broker.ping(timeout=BROKER_PING_TIMEOUT)

    async def consumer_healthy(self) -> bool:
        """Health probe: the reply consumer gets on with its records."""
        return self.consumer_health.healthy

    async def prepare(self) -> None:
        """Upgrade the schema (or check it, `ORDERS_MIGRATE_ON_START=false`) and create
        the topics that are missing."""
        await self.database.prepare_schema(upgrade=self.settings.migrate_on_start)
        await create_topics(self.settings.kafka_bootstrap_servers)

    @contextlib.asynccontextmanager
    async def running(self) -> collections.abc.AsyncGenerator[None, None]:
        """Run what serves beside the HTTP API until the block ends: the schema (created if
        missing), the topics, the reply consumer, the recovery worker, the purge of
        expired idempotency keys, and the outbox relay when `relay_in_process` is set."""
        stop = asyncio.Event()
        async with contextlib.AsyncExitStack() as stack:
            # Closed in reverse: recovery and sagas stop first, the database goes last.
            stack.push_async_callback(self.database.close)
            stack.push_async_callback(self.dead_letters.close)
            stack.push_async_callback(self.changes.close)
            await self.prepare()
            stack.push_async_callback(self.broker.stop)  # also after a half-done start
            await self.broker.start()
            if self.settings.relay_in_process:
                await stack.enter_async_context(self.relaying())
            await stack.enter_async_context(
                sampling(SagaGauges(self._saga_admin()), self.key_purge)
            )
            recovery = asyncio.get_running_loop().create_task(self.recovery.run_forever(stop))
            stack.push_async_callback(_finish, stop, recovery)
            yield

    @contextlib.asynccontextmanager
    async def relaying(self) -> collections.abc.AsyncGenerator[None, None]:
        """Publish the outbox (the saga's commands) to Kafka until the block ends,
        sampling its gauges (rows pending, dead) meanwhile."""
        store = self.database.outbox_store()
        try:
            async with (
                running_relay(
                    store, self.settings.kafka_bootstrap_servers, keyring=self.settings.keyring()
                ),
                sampling(OutboxGauges(SqlAlchemyOutboxAdmin(store))),
            ):
                yield
        finally:
            await store.close()

    def app(self, stopping: Stopping | None = None) -> fastapi.FastAPI:
        """The HTTP API, running `running()` as its lifespan; `stopping` set ends the
        event streams (the server is shutting down)."""

        def lifespan(app: fastapi.FastAPI) -> contextlib.AbstractAsyncContextManager[None]:
            return self.running()

        operators = self.settings.operators()
        app = http.create_app(
            self.requests,
            self.streams,
            probes={
                "database": self.database_answers,
                "broker": self.broker_answers,
                "consumer": self.consumer_healthy,
            },
            lifespan=lifespan,
            stopping=stopping,
            page=PageSettings(
                inventory_url=self.settings.inventory_url,
                reply_timeout_seconds=self.settings.reply_timeout_seconds,
                admin_console=operators.grants(ADMIN_SCOPE),
                saga_diagram=SagaMermaid(OrderSaga).sequence(),
                trace_url_template=self.settings.trace_url_template,
            ),
            customers=self.customers,
            rate_limit=self.settings.rate(),
            changes=self.changes,
            docs=self.settings.docs_enabled,
        )
        add_timings_route(app, self.timings)
        mount_admin(
            app,
            operators,
            outbox=SqlAlchemyOutboxAdmin(self.database.outbox_store()),
            sagas=SagaAdmin(self._saga_admin(), self.recovery),
            dead_letters=self.dead_letters,
        )
        return app

    def _saga_admin(self) -> SqlAlchemySagaAdmin:
        return SqlAlchemySagaAdmin(self.database.session_factory, self.database.schema)


@dataclasses.dataclass(frozen=True)
class Overrides:
    """Adapters `build` takes instead of making its own (tests pass fakes)."""

    database: Database | None = None
    payment: PaymentPort | None = None
    backup_payment: BackupPaymentPort | None = None


def build(settings: Settings, *, overrides: Overrides = Overrides()) -> Orders:
    """Wire the service for `settings`, with `overrides`' adapters; nothing connects yet."""
    register_messages()
    customers = settings.customers()  # a jwt mode without its key stops here
    database = overrides.database or Database.connect(
        settings.database_url, pool_size=settings.database_pool_size
    )
    changes = SagaChanges(database.engine, database.schema)
    storage = NotifyingSagaStorage(database.saga_storage(), changes)
    keys = database.idempotency_store(settings.idempotency_ttl)
    container = DIContainer(di.Container())
    unit_of_work = database.unit_of_work(keys)
    timings = HandlerTimings()
    middlewares = mediator_middlewares("orders", timings, expected=CLIENT_ERRORS)
    sagas = saga_bootstrap.bootstrap(
        di_container=container,
        sagas_mapper=_map_sagas,
        saga_storage=storage,
        lease=SAGA_LEASE,
        domain_events_mapper=_map_step_events,
        middlewares=middlewares,
    )
    screening = requests_bootstrap.bootstrap(
        di_container=container, queries_mapper=_map_screening, middlewares=middlewares
    )
    provide(
        container,
        {
            UnitOfWorkFactory: unit_of_work,
            OrderReads: SqlOrderReads(database.engine, database.schema, unit_of_work),
            SagaLauncher: sagas,
            SagaMediator: sagas,
            PaymentPort: overrides.payment
            or SimulatedPayment(
                settings.payment_credit_limit,
                name="primary",
                unavailable=settings.payment_primary_fails,
            ),
            BackupPaymentPort: overrides.backup_payment
            or SimulatedPayment(settings.payment_credit_limit, name="backup"),
            InventoryCommands: InventoryMessages(),
            SagaTimeouts: SagaTimeouts(reply=settings.reply_timeout),
            OrderChanges: changes,
            StreamTiming: StreamTiming(poll_seconds=settings.stream_poll_seconds),
            ScreeningPolicy: ScreeningPolicy(settings.blocked_skus, settings.max_order_total),
            OrderScreening: screening,
        },
    )
    events = events_bootstrap.bootstrap(
        di_container=container, events_mapper=_map_replies, middlewares=middlewares
    )
    # FastStream logs through the process's logging (servicekit.logs), not a handler
    # of its own.
    # TLS and SASL from the KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* and KAFKA_SSL_* variables.
    broker = kafka_broker(
        settings.kafka_bootstrap_servers, logger=logging.getLogger("orders.consumer")
    )
    replies = subscribe_replies(
        broker, events, keyring=settings.keyring(), in_flight=settings.replies_in_flight
    )
    return Orders(
        settings=settings,
        database=database,
        requests=requests_bootstrap.bootstrap(
            di_container=container,
            commands_mapper=_map_commands,
            queries_mapper=_map_queries,
            middlewares=middlewares,
        ),
        streams=requests_bootstrap.bootstrap_streaming(
            di_container=container, queries_mapper=_map_streams, middlewares=middlewares
        ),
        screening=screening,
        timings=timings,
        changes=changes,
        sagas=sagas,
        events=events,
        recovery=SagaRecoveryWorker(
            storage=storage,
            sagas={OrderSaga.saga_name(): (OrderSaga, OrderSagaContext)},
            container=container,
            interval=RECOVERY_INTERVAL,
            stale_after=STALE_AFTER,
            lease=SAGA_LEASE,
            emit=sagas.emit,  # a resumed pass's steps emit their events too
        ),
        broker=broker,
        consumer_health=replies.health,
        dead_letters=KafkaDeadLetterAdmin(
            settings.kafka_bootstrap_servers, topics=[f"{INVENTORY_REPLIES}.dlq"]
        ),
        key_purge=KeyPurge(keys, database.session_factory, settings.idempotency_purge_seconds),
        customers=customers,
    )


def create_app(
    settings: Settings | None = None,
    *,
    overrides: Overrides = Overrides(),
    stopping: Stopping | None = None,
) -> fastapi.FastAPI:
    """The app factory: the service's HTTP app for `settings` (default: the environment's).

    ```
    uvicorn --factory orders.main:create_app
    ```
    """
    return build(settings or Settings.load(), overrides=overrides).app(stopping)


@contextlib.asynccontextmanager
async def relaying(settings: Settings) -> collections.abc.AsyncGenerator[None, None]:
    """The `relay` command: publish the outbox to Kafka until the block ends (after
    readying the schema and the topics, as `serve` does)."""
    orders = build(settings)
    try:
        await orders.prepare()
        async with orders.relaying():
            yield
    finally:
        await orders.database.close()


async def prepare(settings: Settings) -> None:
    """Ready the schema and create the missing topics, then let go of the connections."""
    orders = build(settings)
    try:
        await orders.prepare()
    finally:
        await orders.database.close()


async def migrate(settings: Settings) -> str:
    """The `migrate` command: upgrade the database to the newest revisions; what it did."""
    database = Database.connect(settings.database_url)
    try:
        return await database.create_schema()
    finally:
        await database.close()


async def _finish(stop: asyncio.Event, worker: asyncio.Task[None]) -> None:
    stop.set()
    await worker


def provide(container: DIContainer, instances: typing.Mapping[type[typing.Any], object]) -> None:
    """Make `container` inject each instance of `instances` where its type is asked for.

    Call it before the container resolves anything: it caches how to build each type.

    >>> import asyncio
    >>> container = DIContainer()
    >>> provide(container, {SagaTimeouts: SagaTimeouts(reply=datetime.timedelta(seconds=5))})
    >>> asyncio.run(container.resolve(SagaTimeouts)).reply.total_seconds()
    5.0
    """
    for dependency_type, instance in instances.items():
        container.container.bind(
            di.bind_by_type(Dependent(_constant(instance), scope="request"), dependency_type)
        )


def _constant(instance: object) -> typing.Callable[[], object]:
    return lambda: instance


def _map_sagas(mapper: SagaMap) -> None:
    mapper.bind(OrderSagaContext, OrderSaga)


def _map_step_events(mapper: cqrs.EventMap) -> None:
    mapper.bind(PaymentFellBack, ReportPaymentFallback)


def _map_commands(mapper: cqrs.RequestMap) -> None:
    mapper.bind(PlaceOrder, PlaceOrderHandler)
    mapper.bind(PlaceOrderOnce, PlaceOrderOnceHandler)


def _map_screening(mapper: cqrs.RequestMap) -> None:
    mapper.bind(ScreenOrder, SCREENING_CHAIN)


def _map_queries(mapper: cqrs.RequestMap) -> None:
    mapper.bind(GetOrder, GetOrderHandler)
    mapper.bind(ListCustomerOrders, ListCustomerOrdersHandler)
    mapper.bind(DescribeScreening, DescribeScreeningHandler)


def _map_streams(mapper: cqrs.RequestMap) -> None:
    mapper.bind(WatchOrder, WatchOrderHandler)


def _map_replies(mapper: cqrs.EventMap) -> None:
    for reply_type in REPLIES:
        mapper.bind(reply_type, DeliverStockReply)
