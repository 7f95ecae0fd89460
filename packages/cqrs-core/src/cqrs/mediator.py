"""python-cqrs's import path of the four mediators (`cqrs.mediator`).

>>> sorted(__all__)
['EventMediator', 'RequestMediator', 'SagaMediator', 'StreamingRequestMediator']
"""

from cqrs.events.mediator import EventMediator
from cqrs.requests.mediator import RequestMediator, StreamingRequestMediator
from cqrs.saga.mediator import SagaMediator

__all__ = ("RequestMediator", "StreamingRequestMediator", "EventMediator", "SagaMediator")
