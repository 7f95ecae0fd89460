"""The names python-cqrs 4.10 exports and the import paths its README and examples use."""

from __future__ import annotations

import importlib

import pytest

import cqrs

# python-cqrs 4.10's `cqrs.__all__`.
PYTHON_CQRS_ALL = [
    "ICircuitBreaker", "EventHandlerFallback", "RequestHandlerFallback", "RequestMediator",
    "SagaMediator", "StreamingRequestMediator", "EventMediator", "DomainEvent", "IDomainEvent",
    "DCDomainEvent", "PydanticDomainEvent", "NotificationEvent", "INotificationEvent",
    "DCNotificationEvent", "PydanticNotificationEvent", "Event", "IEvent", "DCEvent",
    "PydanticEvent", "EventEmitter", "EventHandler", "EventMap", "OutboxedEventMap",
    "EventStatus", "OutboxedEvent", "Request", "IRequest", "DCRequest", "PydanticRequest",
    "RequestHandler", "StreamingRequestHandler", "RequestMap", "SagaMap", "Response",
    "IResponse", "DCResponse", "PydanticResponse", "OutboxedEventRepository",
    "SqlAlchemyOutboxedEventRepository", "EventProducer", "Container", "DIContainer",
    "Compressor", "ZlibCompressor", "rebind_outbox_model", "Saga", "SagaStepHandler",
    "SagaStepResult", "Resp", "ContextT", "SagaMermaid", "CoRMermaid",
]  # fmt: skip

# module path -> names python-cqrs code imports from it.
PYTHON_CQRS_PATHS = {
    "cqrs.requests.request_handler": ["RequestHandler", "StreamingRequestHandler"],
    "cqrs.requests.cor_request_handler": ["CORRequestHandler"],
    "cqrs.requests.mermaid": ["CoRMermaid"],
    "cqrs.requests.map": ["RequestMap", "SagaMap"],
    "cqrs.requests.bootstrap": ["bootstrap", "bootstrap_streaming"],
    "cqrs.events.event": ["Event", "DomainEvent", "NotificationEvent", "DCNotificationEvent"],
    "cqrs.events.event_emitter": ["EventEmitter"],
    "cqrs.events.bootstrap": ["bootstrap"],
    "cqrs.mediator": [
        "RequestMediator", "StreamingRequestMediator", "EventMediator", "SagaMediator",
    ],
    "cqrs.dispatcher.exceptions": ["SagaConcurrencyError", "RequestHandlerDoesNotExist"],
    "cqrs.response": ["Response"],
    "cqrs.container.protocol": ["Container"],
    "cqrs.container.di": ["DIContainer"],
    "cqrs.container.dependency_injector": ["DependencyInjectorCQRSContainer"],
    "cqrs.middlewares.base": ["Middleware", "MiddlewareChain"],
    "cqrs.message_brokers.devnull": ["DevnullMessageBroker"],
    "cqrs.message_brokers.protocol": ["Message", "MessageBroker"],
    "cqrs.message_brokers.kafka": ["KafkaMessageBroker"],
    "cqrs.adapters.kafka": ["KafkaProducer", "kafka_producer_factory"],
    "cqrs.adapters.circuit_breaker": ["AioBreakerAdapter"],
    "cqrs.compressors.zlib": ["ZlibCompressor"],
    "cqrs.outbox.mock": ["MockOutboxedEventRepository"],
    "cqrs.outbox.sqlalchemy": ["SqlAlchemyOutboxedEventRepository", "rebind_outbox_model"],
    "cqrs.deserializers": ["JsonDeserializer", "DeserializeJsonError"],
    "cqrs.serializers": ["default_serializer"],
    "cqrs.serializers.protobuf": ["protobuf_value_serializer"],
    "cqrs.saga.saga": ["Saga"],
    "cqrs.saga.step": ["SagaStepHandler", "SagaStepResult", "Resp"],
    "cqrs.saga.models": ["SagaContext", "ContextT"],
    "cqrs.saga.fallback": ["Fallback"],
    "cqrs.saga.mermaid": ["SagaMermaid"],
    "cqrs.saga.recovery": ["recover_saga"],
    "cqrs.saga.bootstrap": ["bootstrap"],
    "cqrs.saga.storage.enums": ["SagaStatus", "SagaStepStatus"],
    "cqrs.saga.storage.memory": ["MemorySagaStorage"],
    "cqrs.saga.storage.protocol": ["ISagaStorage"],
    "cqrs.saga.storage.sqlalchemy": [
        "SqlAlchemySagaStorage", "Base", "SagaExecutionModel", "SagaLogModel",
    ],
}  # fmt: skip


@pytest.mark.parametrize("name", PYTHON_CQRS_ALL)
def test_every_name_python_cqrs_exported_is_there(name: str) -> None:
    assert getattr(cqrs, name) is not None


@pytest.mark.parametrize(("path", "names"), sorted(PYTHON_CQRS_PATHS.items()))
def test_every_import_path_python_cqrs_code_uses_works(path: str, names: list[str]) -> None:
    module = importlib.import_module(path)

    assert [name for name in names if not hasattr(module, name)] == []


def test_the_step_status_python_cqrs_names_compensated_exists() -> None:
    enums = importlib.import_module("cqrs.saga.storage.enums")

    assert str(enums.SagaStepStatus.COMPENSATED) == "compensated"


def test_fallback_setup_errors_are_type_errors_as_in_python_cqrs() -> None:
    class NotAHandler:
        pass

    with pytest.raises(TypeError):
        cqrs.RequestHandlerFallback(primary=NotAHandler, fallback=NotAHandler)  # type: ignore[arg-type]
