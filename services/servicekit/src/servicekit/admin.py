"""The operator console (cqrs-admin) at `/admin`, for operators with the `admin` scope.

`mount_admin(app, tokens, ...)` includes cqrs-admin's router under `/admin`
for the admin ports the service has. Every call but the console page needs a
bearer token of `OPERATOR_TOKENS` (`servicekit.auth.OperatorTokens`) with
scope `admin`: none or an unknown one answers 401, one without the scope
403; the audit log names the operator who holds it. When no operator holds
the scope nothing is mounted: there is no open admin.

>>> import asyncio, httpx
>>> from cqrs.outbox.memory import MemoryOutbox
>>> from servicekit.auth import OperatorTokens
>>> app = fastapi.FastAPI()
>>> mount_admin(app, OperatorTokens.parse(""), outbox=MemoryOutbox())
False
>>> ann, bob = "a" * 32, "b" * 32
>>> tokens = OperatorTokens.parse(f"ann:{ann}:admin,bob:{bob}:stock.restock")
>>> mount_admin(app, tokens, outbox=MemoryOutbox())
True
>>> async def dead_rows(token: str | None) -> int:
...     headers = {} if token is None else {"Authorization": f"Bearer {token}"}
...     transport = httpx.ASGITransport(app=app)
...     async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
...         return (await client.get("/admin/outbox/dead", headers=headers)).status_code
>>> [asyncio.run(dead_rows(token)) for token in (None, bob, ann)]
[401, 403, 200]
"""

from __future__ import annotations

import typing

import fastapi

from cqrs.admin.dead_letters import DeadLetterAdmin
from cqrs.admin.outbox import OutboxAdmin
from cqrs.admin.saga_admin import SagaAdmin
from cqrs_admin import admin_router
from servicekit.auth import OperatorTokens
from servicekit.openapi import problem_responses

__all__ = ("ADMIN_PREFIX", "ADMIN_SCOPE", "mount_admin")

ADMIN_PREFIX = "/admin"
"""Where the console and its API are mounted."""
ADMIN_SCOPE: typing.Final = "admin"
"""The scope an operator token needs for the console's API."""


def mount_admin(
    app: fastapi.FastAPI,
    tokens: OperatorTokens,
    *,
    outbox: OutboxAdmin | None = None,
    sagas: SagaAdmin | None = None,
    dead_letters: DeadLetterAdmin | None = None,
) -> bool:
    """Mount the console with the given ports for `tokens`' holders of `ADMIN_SCOPE`;
    whether it was mounted (not when nobody holds the scope)."""
    if not tokens.grants(ADMIN_SCOPE):
        return False
    router = admin_router(
        outbox=outbox,
        sagas=sagas,
        dead_letters=dead_letters,
        authenticate=tokens.actor(ADMIN_SCOPE),
    )
    # cqrs-admin declares its 401s; the scope check adds 403.
    for route in router.routes:
        if isinstance(route, fastapi.routing.APIRoute) and 401 in route.responses:
            route.responses = {**problem_responses(403), **route.responses}
    app.include_router(router, prefix=ADMIN_PREFIX)
    return True
