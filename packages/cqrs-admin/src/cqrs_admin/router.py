"""`admin_router`: the operator console as one FastAPI router any application mounts.

```python
from cqrs.admin import SagaAdmin
from cqrs_admin import admin_router

app.include_router(
    admin_router(outbox=outbox_admin, sagas=SagaAdmin(saga_admin_store, worker)),
    prefix="/admin",
)
```

Give it the admin ports you have (any of `outbox`, `sagas`, `dead_letters`);
the routes of the others are left out. Every route but the console page
needs an operator's bearer token, checked by `authenticate` (by default
`BearerTokens.from_env()`: `CQRS_ADMIN_TOKENS`); with no credential
configured the router is not built at all (`NoCredentialError`). The page
itself is a static shell: it asks for the token and sends it with each call.
Errors are RFC 9457 problems (`cqrs_admin.problems`).
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at
# run time, and they name the `authenticate` dependency this function receives.

import datetime
import typing
import uuid

from fastapi import APIRouter, Depends, Path, Query, Response, params
from fastapi.responses import HTMLResponse

from cqrs.admin.checks import MAX_TOPIC_LENGTH
from cqrs.admin.dead_letters import DeadLetterAdmin, DeadLetterId
from cqrs.admin.outbox import OutboxAdmin
from cqrs.admin.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from cqrs.admin.saga_admin import SagaAdmin
from cqrs.admin.sagas import MAX_NAME_LENGTH, SagaQuery, saga_target
from cqrs.exceptions import ConfigurationError
from cqrs.saga.models import SagaStatus
from cqrs_admin.auth import Authenticate, BearerTokens
from cqrs_admin.console import ConsoleSettings, console_page
from cqrs_admin.problems import ProblemRoute, problem_responses
from cqrs_admin.schemas import (
    AuditEntryView,
    DeadLetterPage,
    DeadLetterReplayBody,
    OutboxRowPage,
    ReasonBody,
    ReplayAllBody,
    ReplayedCount,
    RequiredReasonBody,
    SagaDetailView,
    SagaPage,
    TopicStatsView,
)

__all__ = ("admin_router",)

Limit = typing.Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")]
Cursor = typing.Annotated[
    str | None, Query(max_length=600, description="The `next_cursor` of the page before.")
]
TopicFilter = typing.Annotated[str | None, Query(min_length=1, max_length=MAX_TOPIC_LENGTH)]
RowId = typing.Annotated[int, Path(ge=1, le=2**63 - 1)]
_HUNDRED_YEARS = 100 * 365 * 24 * 3600

# What each kind of route may answer besides its success.
_READ = problem_responses(401, 422, 500, 503)
_READ_ONE = problem_responses(401, 404, 422, 500, 503)
_ACT = problem_responses(401, 404, 409, 411, 413, 422, 500, 503)


def admin_router(
    *,
    outbox: OutboxAdmin | None = None,
    sagas: SagaAdmin | None = None,
    dead_letters: DeadLetterAdmin | None = None,
    authenticate: Authenticate | None = None,
    max_recovery_attempts: int = 5,
    refresh_seconds: float = 5.0,
) -> APIRouter:
    """The admin API and console page over the given ports.

    `authenticate` is a FastAPI dependency returning the operator's name (the
    audit log's actor); by default `BearerTokens.from_env()`, which raises
    `NoCredentialError` when no token is configured. `max_recovery_attempts`
    (your `SagaRecoveryWorker`'s) is what the page calls "recovery gave up";
    `refresh_seconds` how often the page reloads its lists. Raises
    `ConfigurationError` when no port is given.
    """
    if outbox is None and sagas is None and dead_letters is None:
        raise ConfigurationError(
            "admin_router needs something to administer: pass outbox=, sagas= and/or "
            "dead_letters= (the cqrs.admin ports)."
        )
    check = authenticate if authenticate is not None else BearerTokens.from_env()
    actor = Depends(check)
    router = APIRouter(route_class=ProblemRoute, tags=["admin"])
    settings = ConsoleSettings(
        outbox=outbox is not None,
        sagas=sagas is not None,
        dead_letters=dead_letters is not None,
        retry=sagas is not None and sagas.recovery is not None,
        max_recovery_attempts=max_recovery_attempts,
        refresh_seconds=refresh_seconds,
    )
    page = console_page(settings)

    @router.get("/", response_class=HTMLResponse, summary="The console page")
    async def console() -> HTMLResponse:
        """The web console: a static page that asks for a token and calls this API."""
        return HTMLResponse(page)

    @router.get("/audit", responses=_READ, summary="What operators did, newest first")
    async def audit_log(
        operator: typing.Annotated[str, actor], limit: Limit = DEFAULT_PAGE_SIZE
    ) -> list[AuditEntryView]:
        entries = [
            entry
            for port in (outbox, sagas, dead_letters)
            if port is not None
            for entry in await port.audit_log(limit=limit)
        ]
        entries.sort(key=lambda entry: entry.at, reverse=True)
        return [AuditEntryView.of(entry) for entry in entries[:limit]]

    if outbox is not None:
        _outbox_routes(router, outbox, actor)
    if dead_letters is not None:
        _dead_letter_routes(router, dead_letters, actor)
    if sagas is not None:
        _saga_routes(router, sagas, actor)
    return router


def _outbox_routes(router: APIRouter, outbox: OutboxAdmin, actor: params.Depends) -> None:

    @router.get("/outbox/dead", responses=_READ, summary="Dead outbox rows, oldest first")
    async def dead_rows(
        operator: typing.Annotated[str, actor],
        topic: TopicFilter = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> OutboxRowPage:
        return OutboxRowPage.of(await outbox.list_dead(topic=topic, cursor=cursor, limit=limit))

    @router.get("/outbox/stats", responses=_READ, summary="Pending and dead rows per topic")
    async def stats(operator: typing.Annotated[str, actor]) -> list[TopicStatsView]:
        return [TopicStatsView.of(topic) for topic in await outbox.stats()]

    @router.post(
        "/outbox/dead/replay", responses=_ACT, summary="Replay every dead row of a topic (or all)"
    )
    async def replay_all(
        operator: typing.Annotated[str, actor], body: ReplayAllBody
    ) -> ReplayedCount:
        replayed = await outbox.replay_all(topic=body.topic, actor=operator, reason=body.reason)
        return ReplayedCount(replayed=replayed)

    @router.post(
        "/outbox/dead/{row_id}/replay",
        status_code=204,
        responses=_ACT,
        summary="Replay one dead row",
    )
    async def replay(
        operator: typing.Annotated[str, actor], row_id: RowId, body: ReasonBody | None = None
    ) -> Response:
        await outbox.replay(row_id, actor=operator, reason=body and body.reason)
        return Response(status_code=204)

    @router.post(
        "/outbox/dead/{row_id}/discard",
        status_code=204,
        responses=_ACT,
        summary="Discard one dead row: kept, never published",
    )
    async def discard(
        operator: typing.Annotated[str, actor], row_id: RowId, body: RequiredReasonBody
    ) -> Response:
        await outbox.discard(row_id, actor=operator, reason=body.reason)
        return Response(status_code=204)


def _dead_letter_routes(
    router: APIRouter, dead_letters: DeadLetterAdmin, actor: params.Depends
) -> None:

    @router.get("/dead-letters", responses=_READ, summary="Dead letters, from the oldest kept")
    async def list_dead_letters(
        operator: typing.Annotated[str, actor],
        topic: TopicFilter = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> DeadLetterPage:
        page = await dead_letters.list_dead_letters(topic=topic, cursor=cursor, limit=limit)
        return DeadLetterPage.of(page)

    @router.post(
        "/dead-letters/replay",
        status_code=204,
        responses=_ACT,
        summary="Send a dead letter back to its original topic",
    )
    async def replay(
        operator: typing.Annotated[str, actor], body: DeadLetterReplayBody
    ) -> Response:
        where = DeadLetterId.checked(body.topic, body.partition, body.offset)
        await dead_letters.replay(where, actor=operator, reason=body.reason, force=body.force)
        return Response(status_code=204)


def _saga_routes(router: APIRouter, sagas: SagaAdmin, actor: params.Depends) -> None:

    async def detail(saga_id: uuid.UUID) -> SagaDetailView:
        saga = await sagas.get_saga(saga_id)
        return SagaDetailView.with_audit(saga, await sagas.audit_log(target=saga_target(saga_id)))

    @router.get("/sagas", responses=_READ, summary="Sagas, oldest first, by status and name")
    async def list_sagas(
        operator: typing.Annotated[str, actor],
        status: SagaStatus | None = None,
        name: typing.Annotated[str | None, Query(min_length=1, max_length=MAX_NAME_LENGTH)] = None,
        overdue: typing.Annotated[
            bool, Query(description="Only those waiting for a reply past its deadline.")
        ] = False,
        min_recovery_attempts: typing.Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
        running_longer_than: typing.Annotated[
            int | None,
            Query(ge=0, le=_HUNDRED_YEARS, description="Seconds since it was created."),
        ] = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> SagaPage:
        query = SagaQuery(
            status=status,
            name=name,
            overdue=overdue,
            min_recovery_attempts=min_recovery_attempts,
            running_longer_than=None
            if running_longer_than is None
            else datetime.timedelta(seconds=running_longer_than),
        )
        return SagaPage.of(await sagas.list_sagas(query, cursor=cursor, limit=limit))

    @router.get("/sagas/{saga_id}", responses=_READ_ONE, summary="One saga, its log and audit")
    async def get_saga(
        operator: typing.Annotated[str, actor], saga_id: uuid.UUID
    ) -> SagaDetailView:
        return await detail(saga_id)

    @router.post(
        "/sagas/{saga_id}/retry",
        responses=_ACT,
        summary="Run the saga on now: resume it, or compensate again",
    )
    async def retry(
        operator: typing.Annotated[str, actor], saga_id: uuid.UUID, body: ReasonBody | None = None
    ) -> SagaDetailView:
        await sagas.retry(saga_id, actor=operator, reason=body and body.reason)
        return await detail(saga_id)

    @router.post(
        "/sagas/{saga_id}/resolve",
        responses=_ACT,
        summary="Close the saga by hand as resolved",
    )
    async def resolve(
        operator: typing.Annotated[str, actor], saga_id: uuid.UUID, body: RequiredReasonBody
    ) -> SagaDetailView:
        await sagas.resolve(saga_id, actor=operator, reason=body.reason)
        return await detail(saga_id)
