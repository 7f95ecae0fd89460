"""`install_problem_details`: every error a FastAPI app meets, answered as a problem.

| error                                                     | answer                       |
|-----------------------------------------------------------|------------------------------|
| the request breaks the schema (`RequestValidationError`)   | 422, listing the issues      |
| a framework HTTP error (no route 404, wrong method 405...) | its status, detail, headers  |
| one of the service's `client_errors`                      | the status it maps to        |
| one of the service's `unavailable` errors (database down)  | 503: a retry may succeed     |
| anything else                                             | 500                          |

A client error's message is its detail, so it must be written for clients
(say what to do); an `ErrorAnswer` with a `detail` of its own answers with
that text instead, for errors whose message holds internals. 5xx answers
never carry internals: the error is logged with its traceback and the client
reads a fixed detail. `ErrorBoundary` sends them as complete answers and does
not raise on, so the server keeps the connection open for the next request.

```
install_problem_details(
    app,
    service="inventory",
    client_errors={UnknownSkuError: 404, DataError: ErrorAnswer(422, "a value was refused")},
    unavailable=(StorageUnavailableError,),
)
```
"""

from __future__ import annotations

import dataclasses
import logging
import typing

import fastapi
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.openapi import document_problems
from servicekit.problems import MAX_ISSUES, ValidationIssue, problem, title_of

__all__ = ("ErrorAnswer", "ErrorBoundary", "install_problem_details")

logger = logging.getLogger("servicekit.http")

#: How much of a request's path a log line quotes.
_LOGGED_PATH: typing.Final = 200


@dataclasses.dataclass(frozen=True)
class ErrorAnswer:
    """How a service answers one kind of client error: `status`, and `detail` (`None`:
    the error's own message)."""

    status: int
    detail: str | None = None


def install_problem_details(
    app: fastapi.FastAPI,
    *,
    service: str,
    client_errors: typing.Mapping[type[Exception], int | ErrorAnswer] | None = None,
    unavailable: tuple[type[BaseException], ...] = (),
) -> None:
    """Answer every error of `app` as a problem (see the module's table) and put the
    problem schema in its OpenAPI document; `service` names it in 5xx details."""
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
    for error_type, answer in (client_errors or {}).items():
        if isinstance(answer, int):
            answer = ErrorAnswer(answer)
        app.add_exception_handler(error_type, _answering(answer))
    app.add_middleware(ErrorBoundary, service=service, unavailable=unavailable)
    document_problems(app)


async def _invalid_request(request: fastapi.Request, exc: Exception) -> Response:
    errors = typing.cast(RequestValidationError, exc).errors()
    detail = "the request breaks the API's contract; errors says where and how"
    if len(errors) > MAX_ISSUES:
        detail += f" (the first {MAX_ISSUES} of {len(errors)} issues)"
    return problem(422, detail, errors=[ValidationIssue.of(error) for error in errors[:MAX_ISSUES]])


async def _http_error(request: fastapi.Request, exc: Exception) -> Response:
    error = typing.cast(HTTPException, exc)
    detail = error.detail if isinstance(error.detail, str) else title_of(error.status_code)
    return problem(error.status_code, detail, headers=error.headers)


def _answering(
    answer: ErrorAnswer,
) -> typing.Callable[[fastapi.Request, Exception], typing.Awaitable[Response]]:
    async def handle(request: fastapi.Request, exc: Exception) -> Response:
        return problem(answer.status, str(exc) if answer.detail is None else answer.detail)

    return handle


class ErrorBoundary:
    """ASGI middleware: an error no handler took becomes a logged 503 (`unavailable`)
    or 500 problem.

    It answers and returns, so the server sees a finished exchange and keeps the
    connection. Once an answer has started (a stream, say) it cannot be replaced:
    the error is raised on, and the server closes the connection, as it must.
    """

    def __init__(
        self, app: ASGIApp, *, service: str, unavailable: tuple[type[BaseException], ...] = ()
    ) -> None:
        self.app = app
        self.service = service
        self.unavailable = unavailable

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            if started:
                raise
            logger.exception("%s %s failed", scope["method"], scope["path"][:_LOGGED_PATH])
            await self._answer(exc)(scope, receive, send)

    def _answer(self, exc: Exception) -> Response:
        if isinstance(exc, self.unavailable):
            return problem(
                503,
                f"the {self.service} service cannot reach what it depends on right now "
                f"(GET /health says what); try again shortly",
            )
        return problem(
            500, f"the {self.service} service failed to handle the request; it logged why"
        )
