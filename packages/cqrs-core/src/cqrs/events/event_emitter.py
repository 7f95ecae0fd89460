"""python-cqrs's import path of `EventEmitter` (`cqrs.events.event_emitter`).

>>> EventEmitter.__module__
'cqrs.events.emitter'
"""

from cqrs.events.emitter import EventEmitter

__all__ = ("EventEmitter",)
