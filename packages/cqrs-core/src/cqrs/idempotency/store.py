"""The idempotency port: a request retried under the same key gets the first answer.

A client sends a key with a request that changes state (an `Idempotency-Key`
header, say). The handler claims the key in the SAME transaction as the
state it writes, and saves its answer there too: a retry after a lost answer,
or after the server crashed, finds the committed key and gets the stored
answer instead of doing the work twice; if the transaction rolled back, key
and work went together and the retry does the work.

```
async with session.begin():
    stored = await store.claim(session, request)
    if stored is not None:
        return stored  # answered before: no second effect
    answer = ...  # the handler's writes, on the same session
    await store.save(session, request, answer)
```

The same key with another body is a client's mistake:
`IdempotencyConflictError`. A key is kept for the store's `ttl`; after it a
claim treats the key as new.

>>> import asyncio
>>> from cqrs.idempotency.memory import MemoryIdempotencyStore
>>> store = MemoryIdempotencyStore()
>>> orders: list[str] = []
>>> async def place(key: str, body: bytes) -> str:
...     request = IdempotentRequest("customer-7", key, fingerprint(body))
...     async with store.session() as session, session.begin():
...         stored = await store.claim(session, request)
...         if stored is not None:
...             return stored
...         orders.append(body.decode())
...         answer = f"order {len(orders)}"
...         await store.save(session, request, answer)
...         return answer
>>> asyncio.run(place("k-1", b"2 x sku-1")), asyncio.run(place("k-1", b"2 x sku-1"))
('order 1', 'order 1')
>>> orders
['2 x sku-1']
>>> asyncio.run(place("k-1", b"9 x sku-1"))  # doctest: +ELLIPSIS
Traceback (most recent call last):
    ...
cqrs.idempotency.store.IdempotencyConflictError: the idempotency key 'k-1' was used with ...
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import typing

from typing_extensions import TypeVar

from cqrs.exceptions import ConfigurationError, CQRSError

__all__ = (
    "DEFAULT_TTL",
    "IdempotencyConflictError",
    "IdempotencyDeadlockError",
    "IdempotencyError",
    "IdempotencyStore",
    "IdempotencyUsageError",
    "IdempotentRequest",
    "InvalidIdempotencyKeyError",
    "MAX_KEY_LENGTH",
    "answer_of",
    "check_ttl",
    "fingerprint",
)

SessionT_contra = TypeVar("SessionT_contra", contravariant=True, default=typing.Any)

#: The longest scope and key a store keeps (the SQL columns are `VARCHAR(255)`).
MAX_KEY_LENGTH: typing.Final = 255
#: How long a store keeps a key unless told otherwise.
DEFAULT_TTL: typing.Final = datetime.timedelta(hours=24)


class IdempotencyError(CQRSError):
    """Base of the idempotency errors."""


class IdempotencyConflictError(IdempotencyError):
    """The key was used before with another request body: the client reused a key for
    a different request. Answer it as a client error (409 or 422); it needs a new key."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"the idempotency key {key!r} was used with another request body; "
            "send a new key for a new request."
        )
        self.key = key


class InvalidIdempotencyKeyError(IdempotencyError, ValueError):
    """A scope or key that cannot be stored: empty, longer than `MAX_KEY_LENGTH`, or not
    printable ASCII. Answer it as a client error."""


class IdempotencyDeadlockError(IdempotencyError):
    """Two open transactions each wait for a key the other claimed (in memory; a
    database aborts one of them the same way). Roll back and retry."""


class IdempotencyUsageError(IdempotencyError):
    """`claim` and `save` were not used in one transaction: an answer saved without a
    claim, or a claimed key committed without its answer."""


@dataclasses.dataclass(frozen=True)
class IdempotentRequest:
    """A request under an idempotency key.

    `scope` keeps clients' keys apart (the client or customer id, with the
    route); `fingerprint` identifies the body (see `fingerprint`).

    >>> IdempotentRequest("customer-7", "k-1", fingerprint(b"{}")).key
    'k-1'
    """

    scope: str
    key: str
    fingerprint: str

    def __post_init__(self) -> None:
        for name in ("scope", "key"):
            _check_text(name, getattr(self, name))
        if not isinstance(self.fingerprint, str) or not 0 < len(self.fingerprint) <= 64:
            raise InvalidIdempotencyKeyError(
                f"the fingerprint must be a str of 1 to 64 characters, not {self.fingerprint!r}"
            )


def fingerprint(body: bytes) -> str:
    """A fingerprint of a request body: its SHA-256, in hex (64 characters).

    >>> fingerprint(b"{}")[:12]
    '44136fa355b3'
    """
    return hashlib.sha256(body).hexdigest()


def answer_of(request: IdempotentRequest, fingerprint: str, answer: str | None) -> str:
    """What a claim of a used key returns: the answer stored with `fingerprint`, if it is
    the request's. For implementations of `IdempotencyStore`.

    >>> request = IdempotentRequest("customer-7", "k-1", "abc")
    >>> answer_of(request, "abc", "order 1")
    'order 1'
    """
    if fingerprint != request.fingerprint:
        raise IdempotencyConflictError(request.key)
    if answer is None:
        raise IdempotencyUsageError(
            f"the idempotency key {request.key!r} was claimed and committed without an "
            "answer: call save() before the transaction commits."
        )
    return answer


def check_ttl(ttl: datetime.timedelta) -> datetime.timedelta:
    """`ttl`, refused with `ConfigurationError` unless positive. For implementations.

    >>> check_ttl(DEFAULT_TTL)
    datetime.timedelta(days=1)
    """
    if ttl <= datetime.timedelta(0):
        raise ConfigurationError(f"the idempotency ttl must be positive, not {ttl}")
    return ttl


def _check_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidIdempotencyKeyError(f"the {name} must be a non-empty str, not {value!r}")
    if len(value) > MAX_KEY_LENGTH:
        raise InvalidIdempotencyKeyError(
            f"the {name} is {len(value)} characters long; at most {MAX_KEY_LENGTH} are kept"
        )
    if not (value.isascii() and value.isprintable()):
        raise InvalidIdempotencyKeyError(
            f"the {name} {value!r} must be printable ASCII characters only"
        )


@typing.runtime_checkable
class IdempotencyStore(typing.Protocol[SessionT_contra]):
    """Keeps idempotency keys and their answers in the caller's transaction.

    Expired keys are dropped by each implementation's `purge`.
    """

    async def claim(self, session: SessionT_contra, request: IdempotentRequest) -> str | None:
        """Claim `request`'s key in `session`'s transaction, or find its answer.

        Returns `None` when the key is new (or expired): the claim is part of
        the transaction, and the caller does its work and `save`s the answer
        in it. Returns the saved answer when the key was used with the same
        fingerprint and committed. When another transaction holds an
        uncommitted claim of the key, waits until it ends. Raises
        `IdempotencyConflictError` for the same key with another fingerprint,
        and `IdempotencyUsageError` for a key committed without an answer.
        """
        ...

    async def save(self, session: SessionT_contra, request: IdempotentRequest, answer: str) -> None:
        """Store `answer` under the key this transaction claimed (it commits with it).

        Raises `IdempotencyUsageError` when the transaction has not claimed the key.
        """
        ...
