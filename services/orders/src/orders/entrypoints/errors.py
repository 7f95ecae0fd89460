"""HTTP error handling: known errors become 4xx answers, anything else a short JSON 503/500.

No request gets a stack trace: `ErrorBoundary` catches what the route and
FastAPI's handlers did not, logs it with its traceback, and answers
`{"detail": ...}` without internals: 503 when the database (or the network
to it) failed, which a retry may cure, 500 for anything else.
"""

from __future__ import annotations

import logging
import typing

import fastapi
import sqlalchemy.exc
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orders.application.errors import OrderNotFoundError
from orders.domain.errors import InvalidOrderError

__all__ = ("install_error_handling", "ErrorBoundary", "UNAVAILABLE", "INTERNAL")

logger = logging.getLogger("orders.http")

UNAVAILABLE: typing.Final = "the orders database is unavailable; try again shortly"
INTERNAL: typing.Final = "the orders service failed to handle the request; it logged the details"

# Failures of the storage or of the connection to it: transient, worth a retry.
_UNAVAILABLE_ERRORS: typing.Final = (sqlalchemy.exc.SQLAlchemyError, OSError, TimeoutError)


def install_error_handling(app: fastapi.FastAPI) -> None:
    """Answer 422 for an invalid order, 404 for an unknown one, and never leak a traceback."""
    app.add_exception_handler(InvalidOrderError, _invalid_order)
    app.add_exception_handler(OrderNotFoundError, _not_found)
    app.add_middleware(ErrorBoundary)


async def _invalid_order(request: fastapi.Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=422)


async def _not_found(request: fastapi.Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


class ErrorBoundary:
    """ASGI middleware: an unhandled error becomes a logged 503/500 JSON answer.

    Once a response has started (a stream, say) it cannot be replaced; the
    error is then re-raised for the server to log and close the connection.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
            unavailable = isinstance(exc, _UNAVAILABLE_ERRORS)
            logger.exception("%s %s failed", scope["method"], scope["path"])
            response = JSONResponse(
                {"detail": UNAVAILABLE if unavailable else INTERNAL},
                status_code=503 if unavailable else 500,
            )
            await response(scope, receive, send)
