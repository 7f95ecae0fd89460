"""Errors as RFC 9457 problem details (`application/problem+json`), for the admin router.

A router cannot install exception handlers on the application that mounts it,
so its routes use `ProblemRoute`, which answers every exception raised by a
route or its dependencies (authentication and validation included) with a
problem document, and never with a stack trace:

| status | when |
|---|---|
| 401 | no bearer token, or an unknown one (`WWW-Authenticate: Bearer`) |
| 404 | no saga, dead row or dead letter under that id |
| 409 | refused by the record's state: a second replay, a finished saga, a worker holds it |
| 413 | a request body over `MAX_BODY_BYTES` |
| 422 | a malformed request: bad JSON, a field out of bounds, a cursor never handed out |
| 503 | the database or broker cannot be reached |
| 500 | anything else (logged) |
"""

from __future__ import annotations

import logging
import typing

import pydantic
from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from cqrs.exceptions import (
    AdminError,
    CQRSError,
    DeadLetterNotFoundError,
    DeadRowNotFoundError,
    InvalidAdminRequestError,
)
from cqrs.saga.errors import (
    SagaConcurrencyError,
    SagaNotFoundError,
    SagaNotResolvableError,
    SagaNotRetriableError,
)
from cqrs_admin.errors import NotAuthenticatedError

__all__ = (
    "Problem",
    "ProblemRoute",
    "problem_responses",
    "problem_for",
    "MAX_BODY_BYTES",
    "PROBLEM_JSON",
    "NOT_FOUND",
    "CONFLICTS",
)

logger: logging.Logger = logging.getLogger("cqrs_admin")

PROBLEM_JSON: typing.Final = "application/problem+json"
#: The largest request body a route reads; the bodies it takes are a few fields.
MAX_BODY_BYTES: typing.Final = 16 * 1024

_TITLES: typing.Final = {
    401: "Not authenticated",
    404: "Not found",
    409: "Conflict",
    411: "Length required",
    413: "Request body too large",
    422: "Invalid request",
    500: "Internal error",
    503: "Unavailable",
}
#: The errors that say the record asked for does not exist.
NOT_FOUND: typing.Final = (SagaNotFoundError, DeadRowNotFoundError, DeadLetterNotFoundError)
#: Refusals that the record's state explains (every other `AdminError` is one too).
CONFLICTS: typing.Final = (
    SagaConcurrencyError,
    SagaNotRetriableError,
    SagaNotResolvableError,
    AdminError,
)


class Problem(pydantic.BaseModel):
    """An RFC 9457 problem: what went wrong, for people (`title`, `detail`) and programs
    (`status`, `errors` for the fields of an invalid request)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[dict[str, typing.Any]] | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, typing.Any]]:
    """The `responses=` of a route that can answer these statuses with a problem."""
    schema = Problem.model_json_schema()
    return {
        status: {"description": _TITLES[status], "content": {PROBLEM_JSON: {"schema": schema}}}
        for status in statuses
    }


def problem(
    status: int,
    detail: str | None,
    *,
    errors: list[dict[str, typing.Any]] | None = None,
    headers: typing.Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem response."""
    body = Problem(title=_TITLES.get(status, "Error"), status=status, detail=detail, errors=errors)
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


def problem_for(exc: Exception) -> JSONResponse:
    """The problem response that answers `exc`."""
    if isinstance(exc, NotAuthenticatedError):
        challenge = "Bearer" if exc.error is None else f'Bearer error="{exc.error}"'
        return problem(401, str(exc), headers={"WWW-Authenticate": challenge})
    if isinstance(exc, HTTPException):
        return problem(exc.status_code, str(exc.detail), headers=exc.headers)
    if isinstance(exc, RequestValidationError):
        errors = [_field_error(error) for error in exc.errors()]
        return problem(422, "the request does not match its schema", errors=errors)
    if isinstance(exc, InvalidAdminRequestError):
        return problem(422, str(exc))
    if isinstance(exc, NOT_FOUND):
        return problem(404, str(exc))
    if isinstance(exc, CONFLICTS):
        return problem(409, str(exc))
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return problem(503, f"{type(exc).__name__}: {exc}")
    logger.exception("admin request failed", exc_info=exc)
    # Our own errors say what happened and what to do; anything else is not shown.
    detail = str(exc) if isinstance(exc, CQRSError) else "see the server log"
    return problem(500, detail)


def _field_error(error: typing.Any) -> dict[str, typing.Any]:
    """One field's validation error, without the input (it may be huge or binary)."""
    fields = typing.cast(dict[str, typing.Any], error)
    return jsonable_encoder({key: fields[key] for key in ("type", "loc", "msg") if key in fields})


class ProblemRoute(APIRoute):
    """An `APIRoute` whose every failure is answered as a problem, and whose request
    bodies are bounded by `MAX_BODY_BYTES` before they are read."""

    def get_route_handler(
        self,
    ) -> typing.Callable[[Request], typing.Coroutine[typing.Any, typing.Any, Response]]:
        handle = super().get_route_handler()

        async def handle_as_problems(request: Request) -> Response:
            refusal = _oversized(request)
            if refusal is not None:
                return refusal
            try:
                return await handle(request)
            except Exception as exc:
                return problem_for(exc)

        return handle_as_problems


def _oversized(request: Request) -> JSONResponse | None:
    """A refusal of a body that is, or may be, larger than `MAX_BODY_BYTES`."""
    length = request.headers.get("content-length")
    if length is None:
        if "transfer-encoding" in request.headers:
            return problem(411, "send the body with a Content-Length header")
        return None
    if not length.isdigit() or len(length) > 9 or int(length) > MAX_BODY_BYTES:
        return problem(413, f"request bodies are limited to {MAX_BODY_BYTES} bytes")
    return None
