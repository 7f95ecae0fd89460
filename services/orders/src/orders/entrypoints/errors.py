"""How the orders API answers errors: RFC 9457 problems (`servicekit`), never a stack trace.

| error                                                       | answer |
|-------------------------------------------------------------|--------|
| the request breaks the contract (the OpenAPI schema)         | 422    |
| `InvalidOrderError`: an order breaking a rule of the domain  | 422    |
| `DataRejectedError`: a value the database cannot store       | 422    |
| `OrderRefusedError`: a screening rule refused the order      | 422    |
| `IdempotencyConflictError`: an `Idempotency-Key` used before with another body | 409 |
| `InvalidIdempotencyKeyError`: an `Idempotency-Key` that cannot be kept | 422 |
| `OrderNotFoundError`: no order has the id                    | 404    |
| `StorageUnavailableError`: the database did not answer; a retry may cure it | 503 |
| anything else                                               | 500    |

5xx answers carry no internals; the error is logged with its traceback.
"""

from __future__ import annotations

import typing

import fastapi

from orders.application.errors import (
    DataRejectedError,
    OrderNotFoundError,
    OrderRefusedError,
    StorageUnavailableError,
)
from orders.domain.errors import InvalidOrderError
from servicekit import ErrorAnswer, install_problem_details
from servicekit.idempotency import IDEMPOTENCY_ERRORS

__all__ = ("CLIENT_ERRORS", "install_error_handling")

#: The client's mistakes and their 4xx status (the mediators log them at INFO only).
CLIENT_ERRORS: typing.Final[typing.Mapping[type[Exception], int | ErrorAnswer]] = {
    InvalidOrderError: 422,
    DataRejectedError: 422,
    OrderRefusedError: 422,
    OrderNotFoundError: 404,
    **IDEMPOTENCY_ERRORS,
}


def install_error_handling(app: fastapi.FastAPI) -> None:
    """Answer every error of `app` as a problem, by the module's table."""
    install_problem_details(
        app,
        service="orders",
        client_errors=CLIENT_ERRORS,
        unavailable=(StorageUnavailableError,),
    )
