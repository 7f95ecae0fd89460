"""python-cqrs's import path of the saga statuses (`cqrs.saga.storage.enums`).

>>> str(SagaStatus.COMPLETED)
'completed'
"""

from cqrs.saga.models import SagaStatus, SagaStepAction, SagaStepStatus

__all__ = ("SagaStatus", "SagaStepStatus", "SagaStepAction")
