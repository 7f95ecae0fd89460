"""The console the router tests drive: the in-memory ports behind the admin router, and
a client signed in as alice."""

from __future__ import annotations

import dataclasses
import typing

import httpx
from fastapi import FastAPI

from cqrs.admin.memory import MemoryDeadLetters
from cqrs.outbox.memory import MemoryOutbox
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.testing.clock import FakeClock

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
