"""Orchestrated sagas: steps with compensation, persisted, recoverable after a crash."""

from cqrs.saga.errors import (
    SagaAlreadyExistsError,
    SagaConcurrencyError,
    SagaError,
    SagaNotFoundError,
    SagaNotResolvableError,
    SagaNotRetriableError,
    SagaStepTimeoutError,
    SagaTypeMismatchError,
)
from cqrs.saga.execution import CompensationPolicy, SagaRunner
from cqrs.saga.fallback import Fallback
from cqrs.saga.map import SagaMap
from cqrs.saga.mediator import SagaMediator, SagaNotBoundError
from cqrs.saga.messaging import MessagingStep
from cqrs.saga.models import (
    SagaContext,
    SagaLogEntry,
    SagaState,
    SagaStatus,
    SagaStepAction,
    SagaStepStatus,
    SagaWait,
)
from cqrs.saga.recovery import SagaRecoveryWorker, recover_saga
from cqrs.saga.saga import Saga, SagaDefinitionError, SagaStep
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage import ISagaStorage, MemorySagaStorage
from cqrs.saga.transaction import SagaTransaction

__all__ = (
    "Saga",
    "SagaStep",
    "SagaStepHandler",
    "SagaStepResult",
    "MessagingStep",
    "SagaContext",
    "Fallback",
    "SagaMap",
    "SagaMediator",
    "SagaTransaction",
    "SagaRunner",
    "CompensationPolicy",
    "recover_saga",
    "SagaRecoveryWorker",
    "ISagaStorage",
    "MemorySagaStorage",
    "SagaState",
    "SagaStatus",
    "SagaLogEntry",
    "SagaStepAction",
    "SagaStepStatus",
    "SagaWait",
    "SagaError",
    "SagaNotFoundError",
    "SagaAlreadyExistsError",
    "SagaConcurrencyError",
    "SagaNotBoundError",
    "SagaDefinitionError",
    "SagaTypeMismatchError",
    "SagaStepTimeoutError",
    "SagaNotRetriableError",
    "SagaNotResolvableError",
)
