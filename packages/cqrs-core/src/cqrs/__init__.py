"""cqrs: commands, queries, events and sagas for event-driven Python services.

>>> import asyncio
>>> import cqrs
>>> from cqrs.requests import bootstrap
>>> class Greet(cqrs.Request[str]):
...     name: str
>>> class GreetHandler(cqrs.RequestHandler[Greet, str]):
...     async def handle(self, request: Greet) -> str:
...         return f"hello {request.name}"
>>> mediator = bootstrap.bootstrap(commands_mapper=lambda m: m.bind(Greet, GreetHandler))
>>> asyncio.run(mediator.send(Greet(name="Ada")))
'hello Ada'
"""

import typing

from cqrs.circuit_breaker import ICircuitBreaker
from cqrs.container.protocol import Container
from cqrs.events import (
    DCDomainEvent,
    DomainEvent,
    ECSTEvent,
    Event,
    EventEmitter,
    EventHandler,
    EventHandlerFallback,
    EventMap,
    EventMediator,
    IEvent,
    NotificationEvent,
    SyncEventHandler,
)
from cqrs.exceptions import (
    ConfigurationError,
    CQRSError,
    DuplicateBindingError,
    EventHandlingError,
    EventTooLargeError,
    FallbackTypeMismatchError,
    InvalidBindingError,
    MissingDependencyError,
    RequestHandlerNotFoundError,
)
from cqrs.inbox import InboxRepository, MemoryInbox
from cqrs.message_brokers import (
    DevnullMessageBroker,
    InMemoryMessageBroker,
    Message,
    MessageBroker,
)
from cqrs.middlewares import LoggingMiddleware, Middleware
from cqrs.outbox import EventProducer, MemoryOutbox, OutboxedEventMap, OutboxedEventRepository
from cqrs.registry import HandlerRegistry
from cqrs.requests import (
    CORRequestHandler,
    DCRequest,
    IRequest,
    PydanticRequest,
    Request,
    RequestHandler,
    RequestHandlerFallback,
    RequestMap,
    RequestMediator,
    StreamingRequestHandler,
    StreamingRequestMediator,
    SyncRequestHandler,
)
from cqrs.response import DCResponse, IResponse, PydanticResponse, Response
from cqrs.saga import SagaMap

if typing.TYPE_CHECKING:  # at run time, `__getattr__` below imports it on first use
    from cqrs_sqla.outbox import (
        SqlAlchemyOutboxedEventRepository as SqlAlchemyOutboxedEventRepository,
    )

__version__ = "0.1.0"

__all__ = (
    # requests and responses
    "IRequest",
    "Request",
    "PydanticRequest",
    "DCRequest",
    "IResponse",
    "Response",
    "PydanticResponse",
    "DCResponse",
    # handlers
    "RequestHandler",
    "SyncRequestHandler",
    "StreamingRequestHandler",
    "CORRequestHandler",
    "EventHandler",
    "SyncEventHandler",
    "RequestHandlerFallback",
    "EventHandlerFallback",
    "ICircuitBreaker",
    # events
    "IEvent",
    "Event",
    "DomainEvent",
    "DCDomainEvent",
    "NotificationEvent",
    "ECSTEvent",
    "EventEmitter",
    # maps and registration
    "RequestMap",
    "EventMap",
    "SagaMap",
    "OutboxedEventMap",
    "HandlerRegistry",
    # mediators
    "RequestMediator",
    "StreamingRequestMediator",
    "EventMediator",
    # ports and infrastructure
    "Container",
    "Message",
    "MessageBroker",
    "DevnullMessageBroker",
    "InMemoryMessageBroker",
    "OutboxedEventRepository",
    "MemoryOutbox",
    "EventProducer",
    "InboxRepository",
    "MemoryInbox",
    "Middleware",
    "LoggingMiddleware",
    # errors
    "CQRSError",
    "ConfigurationError",
    "DuplicateBindingError",
    "InvalidBindingError",
    "FallbackTypeMismatchError",
    "RequestHandlerNotFoundError",
    "EventHandlingError",
    "EventTooLargeError",
    "MissingDependencyError",
    "__version__",
)


def __getattr__(name: str) -> typing.Any:
    # `cqrs.SqlAlchemyOutboxedEventRepository`, the documented path, comes from the
    # cqrs-sqla distribution; it is not in `__all__`, so `import *` works without it.
    if name == "SqlAlchemyOutboxedEventRepository":
        try:
            from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
        except ImportError as exc:
            raise MissingDependencyError(
                "cqrs.SqlAlchemyOutboxedEventRepository", "cqrs-sqla"
            ) from exc
        return SqlAlchemyOutboxedEventRepository
    raise AttributeError(f"module 'cqrs' has no attribute {name!r}")
