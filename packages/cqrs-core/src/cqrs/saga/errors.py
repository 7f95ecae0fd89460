"""Saga runtime errors (setup mistakes are `SagaDefinitionError`, in `cqrs.saga.saga`).

They are drawn with every other cqrs-core error in the tree of `cqrs.exceptions`.
"""

from __future__ import annotations

import uuid

from cqrs.exceptions import CQRSError

__all__ = (
    "SagaError",
    "SagaNotFoundError",
    "SagaAlreadyExistsError",
    "SagaConcurrencyError",
    "SagaTypeMismatchError",
    "SagaStepTimeoutError",
    "SagaNotRetriableError",
    "SagaNotResolvableError",
)


class SagaError(CQRSError):
    """Base of the saga runtime errors."""


class SagaNotFoundError(SagaError, LookupError):
    """No saga is stored under the id."""

    def __init__(self, saga_id: uuid.UUID) -> None:
        self.saga_id = saga_id
        super().__init__(f"saga {saga_id} does not exist in this storage")


class SagaAlreadyExistsError(SagaError):
    """A saga with this id was created already."""

    def __init__(self, saga_id: uuid.UUID) -> None:
        self.saga_id = saga_id
        super().__init__(f"saga {saga_id} exists already")


class SagaConcurrencyError(SagaError):
    """Another worker is running this saga, or advanced it first.

    Nothing was run twice; leave the saga to the worker that holds it (or to
    recovery once its lease expires).
    """


class SagaTypeMismatchError(SagaError):
    """The saga stored under the id is not of the saga class it was resumed with."""

    def __init__(self, saga_id: uuid.UUID, stored: str, given: str) -> None:
        self.saga_id = saga_id
        #: The name the saga is stored under.
        self.stored = stored
        hint = ""
        if given.endswith(f".{stored}"):
            hint = (
                f" python-cqrs stored a saga under its class's __name__; this package stores "
                f"its __qualname__ ({given!r}), which tells nested classes apart: update the "
                f"stored name, or define the saga at module level."
            )
        super().__init__(
            f"saga {saga_id} is stored as a {stored}, not a {given}; resume it with the "
            f"saga class whose saga_name() is {stored!r}.{hint}"
        )


class SagaStepTimeoutError(SagaError, TimeoutError):
    """A messaging step's reply did not arrive before its deadline.

    The saga compensates, the timed-out step included: its command may have
    been carried out even though no reply came.
    """


class SagaNotRetriableError(SagaError):
    """An operator asked to retry a saga that cannot be run now: it is finished, it
    waits for a reply within its deadline, or the worker asked does not know its
    class. The message says which; nothing was run."""


class SagaNotResolvableError(SagaError):
    """An operator asked to resolve a saga that is finished already (`completed`,
    `failed` or `resolved`); nothing was written."""
