"""The composition root: settings in, a wired orders service out.

`build` makes every object (database, mediators, saga engine, payment,
recovery worker, Kafka broker) without connecting to anything; `running`
starts what runs beside the HTTP server; `create_app` puts them together for
`python -m orders serve`, and `relay` and `migrate` are the other two commands.

```
orders = build(Settings.from_env())
app = create_app(orders)  # its lifespan starts the consumer and the workers
```
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import dataclasses
import datetime
import logging
import signal
import typing

import di
import fastapi
from di.dependent import Dependent
from faststream.kafka import KafkaBroker

import cqrs
from cqrs.consumer import ConsumerHealth
from cqrs.container.di import DIContainer
from cqrs.events import bootstrap as events_bootstrap
from cqrs.requests import bootstrap as requests_bootstrap
from cqrs.saga import bootstrap as saga_bootstrap
from cqrs.saga.map import SagaMap
from cqrs.saga.mediator import SagaMediator
from cqrs.saga.recovery import SagaRecoveryWorker, recover_saga
from cqrs.saga.storage.protocol import ISagaStorage
from orders.adapters.background import BackgroundSagas
from orders.adapters.database import Database
from orders.adapters.kafka import create_topics, running_relay, subscribe_replies
from orders.adapters.messages import REPLIES, InventoryMessages, register_messages
from orders.adapters.payment import SimulatedPayment
from orders.application.get_order import GetOrder, GetOrderHandler
from orders.application.inventory import InventoryCommands
from orders.application.place_order import PlaceOrder, PlaceOrderHandler
from orders.application.ports import PaymentPort, SagaLauncher, Transactions
from orders.application.replies import DeliverStockReply
from orders.application.saga import OrderSaga, OrderSagaContext, SagaTimeouts
from orders.entrypoints import http
from orders.settings import Settings

__all__ = ("Orders", "build", "provide", "running", "create_app", "relay", "migrate")

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
    #: Sends `PlaceOrder` and `GetOrder`.
    requests: cqrs.RequestMediator
    #: Runs and resumes order sagas; `deliver` hands them replies.
    sagas: SagaMediator
    #: Dispatches consumed replies to `DeliverStockReply`.
    events: cqrs.EventMediator
    #: The background passes of newly placed orders' sagas.
    launcher: BackgroundSagas
    recovery: SagaRecoveryWorker
    #: The FastStream broker with the reply consumer (started by `running`).
    broker: KafkaBroker
    #: How the reply consumer gets on with its records.
    consumer_health: ConsumerHealth

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


def build(settings: Settings, *, database: Database | None = None) -> Orders:
    """Wire the service for `settings` (on `database` when given); nothing connects yet."""
    register_messages()
    database = database or Database.connect(settings.database_url)
    storage = database.saga_storage()
    container = DIContainer(di.Container())
    sagas = saga_bootstrap.bootstrap(
        di_container=container, sagas_mapper=_map_sagas, saga_storage=storage, lease=SAGA_LEASE
    )
    launcher = BackgroundSagas(
        lambda saga_id: recover_saga(
            OrderSaga, saga_id, OrderSagaContext, container, storage, lease=SAGA_LEASE
        )
    )
    provide(
        container,
        {
            Transactions: database.transactions(),
            ISagaStorage: storage,
            SagaLauncher: launcher,
            SagaMediator: sagas,
            PaymentPort: SimulatedPayment(settings.payment_credit_limit),
            InventoryCommands: InventoryMessages(),
            SagaTimeouts: SagaTimeouts(reply=settings.reply_timeout),
        },
    )
    events = events_bootstrap.bootstrap(di_container=container, events_mapper=_map_replies)
    broker = KafkaBroker(settings.kafka_bootstrap_servers, logger=logger)
    replies = subscribe_replies(broker, events)
    return Orders(
        settings=settings,
        database=database,
        requests=requests_bootstrap.bootstrap(
            di_container=container, commands_mapper=_map_commands, queries_mapper=_map_queries
        ),
        sagas=sagas,
        events=events,
        launcher=launcher,
        recovery=SagaRecoveryWorker(
            storage=storage,
            sagas={OrderSaga.saga_name(): (OrderSaga, OrderSagaContext)},
            container=container,
            interval=RECOVERY_INTERVAL,
            stale_after=STALE_AFTER,
            lease=SAGA_LEASE,
        ),
        broker=broker,
        consumer_health=replies.health,
    )


@contextlib.asynccontextmanager
async def running(orders: Orders) -> collections.abc.AsyncGenerator[None, None]:
    """Run what serves beside the HTTP API until the block ends: the schema (created if
    missing), the topics, the reply consumer, the recovery worker, the background
    sagas, and the outbox relay when `relay_in_process` is set."""
    settings = orders.settings
    await orders.database.create_schema()
    await create_topics(settings.kafka_bootstrap_servers)
    stop = asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        # Closed in reverse: recovery and sagas stop first, the database goes last.
        stack.push_async_callback(orders.database.close)
        await orders.broker.start()
        stack.push_async_callback(orders.broker.stop)
        if settings.relay_in_process:
            await stack.enter_async_context(
                running_relay(orders.database, settings.kafka_bootstrap_servers)
            )
        stack.push_async_callback(orders.launcher.close)
        recovery = asyncio.get_running_loop().create_task(orders.recovery.run_forever(stop))
        stack.push_async_callback(_finish, stop, recovery)
        yield


def create_app(
    orders: Orders, *, stopping: typing.Callable[[], bool] = lambda: False
) -> fastapi.FastAPI:
    """The HTTP app whose lifespan is `running(orders)`; `stopping` ends event streams."""

    def lifespan(app: fastapi.FastAPI) -> typing.AsyncContextManager[None]:
        return running(orders)

    return http.create_app(
        orders.requests,
        probes={
            "database": orders.database_answers,
            "broker": orders.broker_answers,
            "consumer": orders.consumer_healthy,
        },
        lifespan=lifespan,
        stopping=stopping,
    )


async def relay(settings: Settings) -> None:
    """Publish the outbox to Kafka until SIGTERM or SIGINT."""
    database = Database.connect(settings.database_url)
    try:
        await database.create_schema()
        await create_topics(settings.kafka_bootstrap_servers)
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopped.set)
        async with running_relay(database, settings.kafka_bootstrap_servers):
            print(f"orders relay publishing to {settings.kafka_bootstrap_servers}", flush=True)
            await stopped.wait()
    finally:
        await database.close()


async def migrate(settings: Settings) -> None:
    """Create the missing tables of the service's database."""
    database = Database.connect(settings.database_url)
    try:
        await database.create_schema()
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


def _map_commands(mapper: cqrs.RequestMap) -> None:
    mapper.bind(PlaceOrder, PlaceOrderHandler)


def _map_queries(mapper: cqrs.RequestMap) -> None:
    mapper.bind(GetOrder, GetOrderHandler)


def _map_replies(mapper: cqrs.EventMap) -> None:
    for reply_type in REPLIES:
        mapper.bind(reply_type, DeliverStockReply)
