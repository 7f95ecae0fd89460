"""python-cqrs's import path of the step log entry (`cqrs.saga.storage.models`).

>>> SagaLogEntry.__name__
'SagaLogEntry'
"""

from cqrs.saga.models import SagaLogEntry

__all__ = ("SagaLogEntry",)
