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

import importlib
import typing

# First, and on import: over a python-cqrs installation the modules below may not be ours.
import cqrs._python_cqrs  # noqa: F401  # pyright: ignore[reportUnusedImport]
from cqrs._optional import raise_if_installed
from cqrs.circuit_breaker import ICircuitBreaker
from cqrs.compressors import Compressor, ZlibCompressor
from cqrs.container.di import DIContainer
from cqrs.container.protocol import Container
from cqrs.events import (
    DCDomainEvent,
    DCEvent,
    DCNotificationEvent,
    DomainEvent,
    ECSTEvent,
    Event,
    EventEmitter,
    EventHandler,
    EventHandlerFallback,
    EventMap,
    EventMediator,
    IDomainEvent,
    IEvent,
    INotificationEvent,
    NotificationEvent,
    PydanticDomainEvent,
    PydanticEvent,
    PydanticNotificationEvent,
    SyncEventHandler,
)
from cqrs.exceptions import (
    ConfigurationError,
    CQRSError,
    DuplicateBindingError,
    EventHandlingError,
    EventTooLargeError,
    FallbackTypeMismatchError,
    FollowUpLimitError,
    InvalidBindingError,
    MissingDependencyError,
    PermanentError,
    PythonCqrsInstalledError,
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
from cqrs.outbox import (
    EventProducer,
    EventStatus,
    MemoryOutbox,
    OutboxedEvent,
    OutboxedEventMap,
    OutboxedEventRepository,
)
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
from cqrs.requests.mermaid import CoRMermaid
from cqrs.response import DCResponse, IResponse, PydanticResponse, Response
from cqrs.saga import SagaMap, SagaMediator
from cqrs.saga.mermaid import SagaMermaid
from cqrs.saga.models import ContextT
from cqrs.saga.saga import Saga
from cqrs.saga.step import Resp, SagaStepHandler, SagaStepResult

if typing.TYPE_CHECKING:  # at run time, `__getattr__` below imports them on first use
    from cqrs_sqla.orm import rebind_outbox_model as rebind_outbox_model
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
    "IDomainEvent",
    "INotificationEvent",
    "Event",
    "PydanticEvent",
    "DCEvent",
    "DomainEvent",
    "PydanticDomainEvent",
    "DCDomainEvent",
    "NotificationEvent",
    "PydanticNotificationEvent",
    "DCNotificationEvent",
    "ECSTEvent",
    "EventEmitter",
    # sagas
    "Saga",
    "SagaStepHandler",
    "SagaStepResult",
    "Resp",
    "ContextT",
    # diagrams
    "SagaMermaid",
    "CoRMermaid",
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
    "SagaMediator",
    # ports and infrastructure
    "Container",
    "DIContainer",
    "Compressor",
    "ZlibCompressor",
    "Message",
    "MessageBroker",
    "DevnullMessageBroker",
    "InMemoryMessageBroker",
    "OutboxedEventRepository",
    "OutboxedEvent",
    "EventStatus",
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
    "FollowUpLimitError",
    "EventTooLargeError",
    "PermanentError",
    "MissingDependencyError",
    "PythonCqrsInstalledError",
    "__version__",
)


# The documented names whose code is in the cqrs-sqla distribution; they are not
# in `__all__`, so `import *` works without it.
_FROM_CQRS_SQLA: typing.Final = {
    "SqlAlchemyOutboxedEventRepository": "cqrs_sqla.outbox",
    "rebind_outbox_model": "cqrs_sqla.orm",
}


def __getattr__(name: str) -> typing.Any:
    module_name = _FROM_CQRS_SQLA.get(name)
    if module_name is None:
        raise AttributeError(f"module 'cqrs' has no attribute {name!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise_if_installed(exc, "cqrs_sqla")  # installed but broken: its own error says why
        raise MissingDependencyError(f"cqrs.{name}", "cqrs-sqla") from exc
    return getattr(module, name)
