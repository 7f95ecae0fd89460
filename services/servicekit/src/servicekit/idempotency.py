"""The `Idempotency-Key` header: a client's retry gets the first answer.

`idempotency_key` is a route dependency: it reads the optional header and
fingerprints the request body, giving an `IdempotencyKey` (or `None` when
the client sent no key). The service scopes it to its client and hands it to
a `cqrs.idempotency.IdempotencyStore` in the transaction that does the work:

```
@app.post("/orders", responses=problem_responses(422))
async def place(body: PlaceOrder, key: Annotated[IdempotencyKey | None, Depends(idempotency_key)]):
    request = None if key is None else key.scoped(f"orders:{customer}")
    ...  # claim, do the work, save the answer: one transaction
```

The header's schema (in the OpenAPI document) is 1 to 255 visible ASCII
characters, no spaces: a key that breaks it is a 422 (a validation problem).
The same key with another body is a 409 once
`install_problem_details(..., client_errors=IDEMPOTENCY_ERRORS)` maps the
store's `IdempotencyConflictError`: the request is valid, it conflicts with
the one the key was first used for.
"""

from __future__ import annotations

import dataclasses
import typing

import fastapi

from cqrs.idempotency import (
    MAX_KEY_LENGTH,
    IdempotencyConflictError,
    IdempotentRequest,
    InvalidIdempotencyKeyError,
    fingerprint,
)
from servicekit.error_handling import ErrorAnswer

__all__ = ("HEADER", "IDEMPOTENCY_ERRORS", "KEY_PATTERN", "IdempotencyKey", "idempotency_key")

HEADER: typing.Final = "Idempotency-Key"

#: What a key may hold: visible ASCII, no spaces (HTTP strips a header's outer spaces), a
#: stricter rule than the store's (printable ASCII).
KEY_PATTERN: typing.Final = r"^[!-~]+$"

#: `client_errors` of `install_problem_details` for the idempotency errors: 409 for a key
#: used with another body, 422 for a key the store cannot keep.
IDEMPOTENCY_ERRORS: typing.Final[typing.Mapping[type[Exception], int | ErrorAnswer]] = {
    IdempotencyConflictError: 409,
    InvalidIdempotencyKeyError: 422,
}


@dataclasses.dataclass(frozen=True)
class IdempotencyKey:
    """A request's `Idempotency-Key` and the fingerprint of its body.

    >>> IdempotencyKey("k-1", fingerprint(b"{}")).scoped("orders:c-7").scope
    'orders:c-7'
    """

    key: str
    fingerprint: str

    def scoped(self, scope: str) -> IdempotentRequest:
        """The store's request for this key within `scope` (the client's keys)."""
        return IdempotentRequest(scope, self.key, self.fingerprint)


async def idempotency_key(
    request: fastapi.Request,
    key: typing.Annotated[
        str | None,
        fastapi.Header(
            alias=HEADER,
            min_length=1,
            max_length=MAX_KEY_LENGTH,
            pattern=KEY_PATTERN,
            description="a new random key per request (a UUID, say); a retry sends the "
            "same key and body and gets the first answer",
        ),
    ] = None,
) -> IdempotencyKey | None:
    """The dependency: the request's `IdempotencyKey`, or `None` without the header."""
    if key is None:
        return None
    answer = IdempotencyKey(key, fingerprint(await request.body()))
    try:
        answer.scoped("any")  # the store's own rules for keys, whatever the scope
    except InvalidIdempotencyKeyError as exc:
        raise fastapi.HTTPException(422, f"the {HEADER} header is not usable: {exc}") from exc
    return answer
