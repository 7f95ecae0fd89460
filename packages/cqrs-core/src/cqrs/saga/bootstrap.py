"""Build a saga mediator.

>>> import di
>>> from cqrs.saga.storage.memory import MemorySagaStorage
>>> mediator = bootstrap(di_container=di.Container(), saga_storage=MemorySagaStorage())
"""

from __future__ import annotations

import datetime
import typing

from cqrs._bootstrap import (
    EventsMapper,
    StartupHook,
    domain_events_emitter,
    filled,
    run_startup_hooks,
)
from cqrs.clock import utc_now
from cqrs.container.resolve import as_container
from cqrs.message_brokers.protocol import MessageBroker
from cqrs.middlewares.base import Middleware
from cqrs.saga.execution import DEFAULT_COMPENSATION, DEFAULT_LEASE, CompensationPolicy
from cqrs.saga.map import SagaMap
from cqrs.saga.mediator import SagaMediator
from cqrs.saga.storage.protocol import ISagaStorage

__all__ = ("bootstrap",)


def bootstrap(
    di_container: object | None = None,
    sagas_mapper: typing.Callable[[SagaMap], None] | None = None,
    saga_storage: ISagaStorage | None = None,
    on_startup: typing.Sequence[StartupHook] | None = None,
    compensation: CompensationPolicy = DEFAULT_COMPENSATION,
    lease: datetime.timedelta = DEFAULT_LEASE,
    clock: typing.Callable[[], datetime.datetime] = utc_now,
    *,
    message_broker: MessageBroker | None = None,
    domain_events_mapper: EventsMapper | None = None,
    middlewares: typing.Sequence[Middleware] | None = None,
    max_concurrent_event_handlers: int = 1,
    concurrent_event_handle_enable: bool = True,
) -> SagaMediator:
    """Return a `SagaMediator` for the sagas `sagas_mapper` binds.

    `di_container` builds the steps (a `di.Container`, any
    `cqrs.container.Container`, or `None`); `saga_storage` defaults to a
    `MemorySagaStorage`, which does not survive the process. `compensation`
    sets the retries of failing compensations; `lease` how long a worker
    holds a saga before another may take it over; `clock` dates messaging
    steps' deadlines (tests pass a `cqrs.testing.FakeClock`, shared with the
    storage).

    The events steps record go to the handlers `domain_events_mapper` binds
    (up to `max_concurrent_event_handlers` at once) and, for notification
    events, to `message_broker` (dropped when `None`). `middlewares` is
    accepted as python-cqrs accepted it, and not applied to sagas.
    """
    del middlewares  # python-cqrs took them for sagas and never applied them
    run_startup_hooks(on_startup or ())
    container = as_container(di_container)
    emitter = domain_events_emitter(
        container,
        domain_events_mapper,
        message_broker,
        max_concurrent_event_handlers,
        concurrent_event_handle_enable,
    )
    return SagaMediator(
        filled(SagaMap(), sagas_mapper),
        container,
        emitter,
        storage=saga_storage,
        compensation=compensation,
        lease=lease,
        clock=clock,
    )
