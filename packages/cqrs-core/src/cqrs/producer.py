"""python-cqrs's import path of `EventProducer` (`cqrs.producer`).

>>> EventProducer.__module__
'cqrs.outbox.producer'
"""

from cqrs.outbox.producer import EventProducer

__all__ = ("EventProducer",)
