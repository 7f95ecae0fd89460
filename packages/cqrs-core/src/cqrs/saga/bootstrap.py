"""Build a saga mediator.

>>> import di
>>> from cqrs.saga.storage.memory import MemorySagaStorage
>>> mediator = bootstrap(di_container=di.Container(), saga_storage=MemorySagaStorage())
"""

from __future__ import annotations

import datetime
import typing

from cqrs._bootstrap import filled, run_startup_hooks
from cqrs.clock import utc_now
from cqrs.container.resolve import as_container
from cqrs.saga.execution import DEFAULT_COMPENSATION, DEFAULT_LEASE, CompensationPolicy
from cqrs.saga.map import SagaMap
from cqrs.saga.mediator import SagaMediator
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.saga.storage.protocol import ISagaStorage

__all__ = ("bootstrap",)


def bootstrap(
    di_container: object | None = None,
    sagas_mapper: typing.Callable[[SagaMap], None] | None = None,
    saga_storage: ISagaStorage | None = None,
    on_startup: typing.Sequence[typing.Callable[[], object]] = (),
    compensation: CompensationPolicy = DEFAULT_COMPENSATION,
    lease: datetime.timedelta = DEFAULT_LEASE,
    clock: typing.Callable[[], datetime.datetime] = utc_now,
) -> SagaMediator:
    """Return a `SagaMediator` for the sagas `sagas_mapper` binds.

    `di_container` builds the steps (a `di.Container`, any
    `cqrs.container.Container`, or `None`); `saga_storage` defaults to a
    `MemorySagaStorage`, which does not survive the process. `compensation`
    sets the retries of failing compensations; `lease` how long a worker
    holds a saga before another may take it over; `clock` dates messaging
    steps' deadlines (tests pass a `cqrs.testing.FakeClock`, shared with the
    storage).
    """
    run_startup_hooks(on_startup)
    return SagaMediator(
        filled(SagaMap(), sagas_mapper),
        as_container(di_container),
        saga_storage if saga_storage is not None else MemorySagaStorage(),
        compensation=compensation,
        lease=lease,
        clock=clock,
    )
