"""python-cqrs's import path of the dispatch errors (`cqrs.dispatcher.exceptions`).

Each name is the error this package raises in that case:

>>> RequestHandlerDoesNotExist is RequestHandlerNotFoundError
True
"""

from cqrs.exceptions import InvalidBindingError, RequestHandlerNotFoundError
from cqrs.saga.errors import (
    SagaAlreadyExistsError,
    SagaConcurrencyError,
    SagaError,
    SagaNotFoundError,
)
from cqrs.saga.mediator import SagaNotBoundError

__all__ = (
    "RequestHandlerDoesNotExist",
    "RequestHandlerTypeError",
    "SagaDoesNotExist",
    "SagaConcurrencyError",
    "SagaError",
    "SagaNotFoundError",
    "SagaAlreadyExistsError",
)

#: `send` of a request type nobody handles.
RequestHandlerDoesNotExist = RequestHandlerNotFoundError
#: A handler of the wrong kind for its binding (raised at bootstrap here).
RequestHandlerTypeError = InvalidBindingError
#: No saga is bound to the context's type.
SagaDoesNotExist = SagaNotBoundError
