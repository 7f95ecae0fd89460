"""Fixtures of the end-to-end tests: the reference system as real processes.

`system` is started once per test module and database (SQLite and
PostgreSQL), on its own local broker; tests share it and keep out of each
other's way by using their own SKUs (`sku` fixture). A module that needs
other settings or one database only defines its own `system` fixture with
`started_system`.
"""

from __future__ import annotations

import collections.abc
import uuid

import httpx
import pytest

from cqrs_demo import ReferenceSystem

from .running import started_system
from .shop import Shop


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def system(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> collections.abc.Iterator[ReferenceSystem]:
    folder = tmp_path_factory.mktemp(f"system-{request.param}")
    with started_system(request.param, folder) as system:
        yield system


@pytest.fixture
async def shop(system: ReferenceSystem) -> collections.abc.AsyncIterator[Shop]:
    """A client of `system`; after the test, fails it if a process crashed meanwhile."""
    async with httpx.AsyncClient(timeout=30.0) as http:
        yield Shop(http, system)
    system.supervisor.check()


@pytest.fixture
def sku(request: pytest.FixtureRequest) -> str:
    """A SKU no other test uses."""
    return f"{request.node.originalname[:30]}-{uuid.uuid4().hex[:8]}"
