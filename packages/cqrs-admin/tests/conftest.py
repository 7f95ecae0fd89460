"""The admin router over the in-memory ports, mounted in an app, and a client for it."""

from __future__ import annotations

import collections.abc

import httpx
import pytest
from fastapi import FastAPI

from cqrs.admin.memory import MemoryDeadLetters
from cqrs.admin.saga_admin import SagaAdmin
from cqrs.outbox.memory import MemoryOutbox
from cqrs.saga.recovery import SagaRecoveryWorker
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.testing.clock import FakeClock
from cqrs.testing.saga_admin import ParcelContext, ParcelSaga
from cqrs_admin import BearerTokens, admin_router

from .console import ALICE_TOKEN, BOB_TOKEN, Console


@pytest.fixture
async def console() -> collections.abc.AsyncIterator[Console]:
    clock = FakeClock()
    outbox = MemoryOutbox(clock)
    storage = MemorySagaStorage(clock=clock, outbox=outbox)
    dead_letters = MemoryDeadLetters(clock)
    worker = SagaRecoveryWorker(
        storage=storage, sagas={ParcelSaga.saga_name(): (ParcelSaga, ParcelContext)}, clock=clock
    )
    app = FastAPI()
    app.include_router(
        admin_router(
            outbox=outbox,
            sagas=SagaAdmin(storage, worker),
            dead_letters=dead_letters,
            authenticate=BearerTokens({ALICE_TOKEN: "alice", BOB_TOKEN: "bob"}),
        ),
        prefix="/admin",
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as http:
        yield Console(clock, outbox, storage, dead_letters, app, http)
