"""The operator console (cqrs-admin) at `/admin`, only when a token is configured.

`mount_admin(app, token, ...)` includes cqrs-admin's router under `/admin`
for the admin ports the service has, with one bearer token (the services'
`ADMIN_TOKEN`); its audit log names the operator `operator`. Without a token
nothing is mounted: there is no open admin.

>>> import asyncio, httpx
>>> from cqrs.outbox.memory import MemoryOutbox
>>> app = fastapi.FastAPI()
>>> mount_admin(app, None, outbox=MemoryOutbox())
False
>>> token = "a-token-of-sixteen+"
>>> mount_admin(app, pydantic.SecretStr(token), outbox=MemoryOutbox())
True
>>> async def dead_rows(headers: dict[str, str]) -> int:
...     transport = httpx.ASGITransport(app=app)
...     async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
...         return (await client.get("/admin/outbox/dead", headers=headers)).status_code
>>> asyncio.run(dead_rows({})), asyncio.run(dead_rows({"Authorization": f"Bearer {token}"}))
(401, 200)
"""

from __future__ import annotations

import fastapi
import pydantic

from cqrs.admin.dead_letters import DeadLetterAdmin
from cqrs.admin.outbox import OutboxAdmin
from cqrs.admin.saga_admin import SagaAdmin
from cqrs_admin import BearerTokens, admin_router

__all__ = ("ADMIN_PREFIX", "OPERATOR", "mount_admin")

ADMIN_PREFIX = "/admin"
"""Where the console and its API are mounted."""
OPERATOR = "operator"
"""The name the audit log gives whoever holds the token."""


def mount_admin(
    app: fastapi.FastAPI,
    token: pydantic.SecretStr | None,
    *,
    outbox: OutboxAdmin | None = None,
    sagas: SagaAdmin | None = None,
    dead_letters: DeadLetterAdmin | None = None,
) -> bool:
    """Mount the console for `token` with the given ports; whether it was mounted."""
    if token is None:
        return False
    authenticate = BearerTokens({token.get_secret_value(): OPERATOR})
    router = admin_router(
        outbox=outbox, sagas=sagas, dead_letters=dead_letters, authenticate=authenticate
    )
    app.include_router(router, prefix=ADMIN_PREFIX)
    return True
