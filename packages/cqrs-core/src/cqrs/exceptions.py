"""Every error cqrs-core raises, in one tree.

```
CQRSError(Exception)                        base of every cqrs-core error
├── ConfigurationError                      a setup mistake, raised while bootstrapping
│   ├── DuplicateBindingError               one request type bound to two handlers
│   ├── InvalidBindingError(TypeError)      a binding that cannot work
│   ├── FallbackTypeMismatchError(TypeError)  primary and fallback handle different types
│   ├── UnregisteredEventError              cqrs.outbox: an event name the outbox lacks
│   └── SagaDefinitionError                 cqrs.saga: a saga whose steps cannot run
├── RequestHandlerNotFoundError(LookupError)  `send`/`stream` of a request nobody handles
├── EventHandlingError                      every event handler failure of one dispatch
├── FollowUpLimitError                      follow-up events still recorded after the level limit
├── EventTooLargeError(ValueError)          an event above the outbox's size limit
├── PermanentError                          a failure retrying cannot fix: dead-lettered at once
│   ├── UndecodableRecordError(ValueError)  a consumed record is no known event
│   └── SignatureError                      cqrs.signing: a record's signature is missing or wrong
├── NoDeliveryError(LookupError)            current_delivery() outside a handler
├── RecordRefusedError                      the in-memory broker refused a record
├── MissingDependencyError(ImportError)     an optional package is absent
├── PythonCqrsInstalledError(ImportError)   python-cqrs shares this environment
├── InvalidInboxKeyError(ValueError)        cqrs.inbox: a key an inbox record cannot have
├── InboxDeadlockError                      cqrs.inbox: transactions wait for each other
├── IdempotencyError                        cqrs.idempotency: base of the idempotency errors
│   ├── IdempotencyConflictError            cqrs.idempotency: a key reused with another body
│   ├── InvalidIdempotencyKeyError(ValueError)  cqrs.idempotency: a key that cannot be kept
│   ├── IdempotencyDeadlockError            cqrs.idempotency: transactions wait for each other
│   └── IdempotencyUsageError               cqrs.idempotency: claim and save not in one transaction
├── SagaError                               cqrs.saga: base of the saga runtime errors
│   ├── SagaNotFoundError(LookupError)      cqrs.saga: no saga stored under that id
│   ├── SagaAlreadyExistsError              cqrs.saga: create_saga of an id that exists
│   ├── SagaConcurrencyError                cqrs.saga: another worker holds or moved it
│   ├── SagaTypeMismatchError               cqrs.saga: the stored saga is of another class
│   ├── SagaStepTimeoutError(TimeoutError)  cqrs.saga: no reply before the step's deadline
│   ├── SagaNotRetriableError               cqrs.saga: an operator's retry with nothing to run
│   ├── SagaNotResolvableError              cqrs.saga: an operator's resolve of a finished saga
│   ├── SagaNotBoundError(LookupError)      cqrs.saga: no saga bound for a context type
│   └── HarnessError(AssertionError)        cqrs.testing: a harness step the saga refuses
└── AdminError                              an operator's action was refused (cqrs.admin)
    ├── InvalidAdminRequestError(ValueError)     bad actor, reason, cursor...
    ├── DeadRowNotFoundError(LookupError)        no dead outbox row has that id
    ├── DeadLetterNotFoundError(LookupError)     nothing kept at that place
    ├── DeadLetterNotReplayableError             it does not say where it came from
    └── DeadLetterAlreadyReplayedError           a second replay, not forced
InjectedFailure(Exception)                  cqrs.testing: what a SagaTestHarness step raises
LabelPrinterDown(Exception)                 cqrs.testing.saga_admin: a test saga's failing step
ScaleDown(Exception)                        cqrs.testing.saga_admin: its failing compensation
```

A class is imported from the module its description starts with, the others
from here (most are re-exported by `cqrs` too). Setup mistakes are
`ConfigurationError`s so that a service fails at start-up rather than on the
first request. Runtime failures are separate classes. A test
(`cqrs.testing.error_tree`) holds this tree to the classes.
"""

from __future__ import annotations

import typing

__all__ = (
    "CQRSError",
    "ConfigurationError",
    "DuplicateBindingError",
    "InvalidBindingError",
    "FallbackTypeMismatchError",
    "RequestHandlerNotFoundError",
    "EventHandlingError",
    "FollowUpLimitError",
    "EventTooLargeError",
    "PermanentError",
    "UndecodableRecordError",
    "NoDeliveryError",
    "RecordRefusedError",
    "MissingDependencyError",
    "PythonCqrsInstalledError",
    "AdminError",
    "InvalidAdminRequestError",
    "DeadRowNotFoundError",
    "DeadLetterNotFoundError",
    "DeadLetterNotReplayableError",
    "DeadLetterAlreadyReplayedError",
)


class CQRSError(Exception):
    """Base class of every error raised by cqrs-core."""


class ConfigurationError(CQRSError):
    """The mediator was set up wrongly; the message says how to fix it."""


class DuplicateBindingError(ConfigurationError):
    """A request type was bound to a second handler.

    A request has exactly one handler. Bind a list of `CORRequestHandler`s to
    build a chain, or `RequestHandlerFallback` to add a fallback.
    """


class InvalidBindingError(ConfigurationError, TypeError):
    """A binding that cannot work, for example a plain handler for streaming.

    Also a `TypeError`, which python-cqrs raised for a fallback of non-handlers.
    """


class FallbackTypeMismatchError(ConfigurationError, TypeError):
    """A fallback whose primary and fallback handle different message types.

    Also a `TypeError`, as python-cqrs raised it.
    """


class RequestHandlerNotFoundError(CQRSError, LookupError):
    """No handler is bound for the request type that was sent."""

    def __init__(self, request_type: type[object]) -> None:
        self.request_type = request_type
        super().__init__(
            f"No handler is bound for {request_type.__qualname__}. Bind one in the "
            f"commands_mapper or queries_mapper given to bootstrap, e.g. "
            f"`mapper.bind({request_type.__name__}, {request_type.__name__}Handler)`."
        )


class EventHandlingError(CQRSError):
    """One or more event handlers raised; the others still ran.

    `failures` lists `(event, handler type, exception)` for each failed handler.
    A mediator does not raise this itself: it raises the first failed
    handler's own exception (as python-cqrs did), with this report attached
    as that exception's `event_handling_error` attribute.
    """

    def __init__(
        self, failures: typing.Sequence[tuple[object, type[object], BaseException]]
    ) -> None:
        self.failures: tuple[tuple[object, type[object], BaseException], ...] = tuple(failures)
        names = ", ".join(
            f"{handler.__qualname__}({type(event).__name__}): {exc!r}"
            for event, handler, exc in self.failures
        )
        super().__init__(f"{len(self.failures)} event handler(s) failed: {names}")


class EventTooLargeError(CQRSError, ValueError):
    """The outbox refused an event whose encoded size is above its limit: no broker
    would take it, so it was not stored (nothing of the transaction is lost but it).

    `size` and `max_bytes` are in bytes.
    """

    def __init__(self, event_name: str, size: int, max_bytes: int) -> None:
        self.event_name = event_name
        self.size = size
        self.max_bytes = max_bytes
        super().__init__(
            f"event {event_name!r} is {size} bytes encoded, above the outbox's limit of "
            f"{max_bytes} bytes, so no broker would take it; send less (a reference to the "
            f"data rather than the data), or raise the outbox's max_message_bytes together "
            f"with the broker's own limit (Kafka: the producer's max_request_size and the "
            f"topic's max.message.bytes)"
        )


class PermanentError(CQRSError):
    """A failure that retrying cannot fix: raise it (or a subclass) from an event handler.

    A consumer (`cqrs.consumer`) sends a record whose handling raised one to
    the dead-letter topic on the first try, instead of retrying it and
    holding up its partition. So do pydantic's `ValidationError` and the
    types a consumer's `ConsumerRetry.permanent` names. Raise it for input
    that is wrong for good (an unknown SKU, a quantity of 0), not for an
    outage: a `ConnectionError` or `TimeoutError` is waited out instead.
    """


class UndecodableRecordError(PermanentError, ValueError):
    """A consumed record that is not an event the consumer knows: bad JSON, an event
    name with no class, a value its class rejects, or no usable message id.

    Retrying cannot help; the consumer sends the record to its dead-letter topic.
    """


class NoDeliveryError(CQRSError, LookupError):
    """`current_delivery()` was called outside the handling of a consumed record."""


class RecordRefusedError(CQRSError):
    """The in-memory broker (`cqrs.consumer.memory.MemoryBroker`) refused a record: it is
    over the broker's `max_record_size`, or its topic was told to `refuse` records."""


class FollowUpLimitError(CQRSError):
    """Event handlers kept recording follow-up events, level after level, past the
    limit: most likely handlers that answer each other's events in a cycle.

    `events` are the follow-ups of the last level, which were not dispatched.
    """

    def __init__(self, levels: int, events: typing.Sequence[object]) -> None:
        self.events = tuple(events)
        names = sorted({type(event).__name__ for event in self.events})
        super().__init__(
            f"event handlers still recorded follow-up events ({', '.join(names)}) after "
            f"{levels} levels of one dispatch; look for handlers whose events lead back to "
            f"each other, and stop the cycle in one of them"
        )


class MissingDependencyError(CQRSError, ImportError):
    """An optional dependency is not installed; the message names what to install."""

    def __init__(self, feature: str, install: str) -> None:
        super().__init__(f"{feature} needs an optional dependency: pip install '{install}'")


class AdminError(CQRSError):
    """An operator's action (`cqrs.admin`) was refused; nothing was changed."""


class InvalidAdminRequestError(AdminError, ValueError):
    """The request is malformed: an empty actor, a missing or oversized reason, text
    with NUL characters, a cursor this store did not hand out, a page size out of
    range. The message names the field."""


class DeadRowNotFoundError(AdminError, LookupError):
    """No outbox row with that id is dead: it does not exist, or it was replayed,
    discarded or published meanwhile. List the dead rows again."""

    def __init__(self, row_id: int) -> None:
        self.row_id = row_id
        super().__init__(
            f"no dead outbox row has id {row_id}; it may have been replayed or discarded "
            f"meanwhile: list the dead rows again"
        )


class DeadLetterNotFoundError(AdminError, LookupError):
    """No dead letter is kept at that topic, partition and offset (never written, or
    gone with the topic's retention)."""


class DeadLetterNotReplayableError(AdminError):
    """The dead letter lacks the headers that say where it came from (its original
    topic), so it cannot be sent back; publish its value by hand."""


class DeadLetterAlreadyReplayedError(AdminError):
    """The dead letter was replayed before; replay it again only on purpose, with `force`.

    A replay keeps the record's message id, so an inbox that handled it already
    drops the second copy.
    """


class PythonCqrsInstalledError(CQRSError, ImportError):
    """python-cqrs is installed too: both install the `cqrs` package, so files are mixed.

    Raised by `import cqrs`; the message says how to repair the environment.
    """

    def __init__(self, version: str, location: str) -> None:
        self.version = version
        self.location = location
        super().__init__(
            f"python-cqrs {version} is installed in {location}, next to cqrs-core. Both "
            f"install the `cqrs` import package, so their files are now mixed. Remove "
            f"python-cqrs, then reinstall cqrs-core (uninstalling deletes the files they "
            f"share): pip uninstall -y python-cqrs && pip install --force-reinstall "
            f"--no-deps cqrs-core"
        )
