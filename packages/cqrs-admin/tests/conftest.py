"""The admin router over the in-memory ports, mounted in an app, and a client for it."""

from __future__ import annotations

import collections.abc
import dataclasses
import typing

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

ALICE_TOKEN = "alice-9f2c5e71d04b88aa"
BOB_TOKEN = "bob-77aa0c3e51f2b6d9"


@dataclasses.dataclass
class Console:
    """The ports behind the router, and a client signed in as alice."""

    clock: FakeClock
    outbox: MemoryOutbox
    storage: MemorySagaStorage
    dead_letters: MemoryDeadLetters
    app: FastAPI
    http: httpx.AsyncClient

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = ALICE_TOKEN,
        headers: typing.Mapping[str, str] | None = None,
        **options: typing.Any,
    ) -> httpx.Response:
        """`method path` under `/admin`, with `token` as the bearer token (none if `None`)."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        return await self.http.request(method, f"/admin{path}", headers=sent, **options)


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
