"""Operator tools: find what the system gave up on, act on it, and audit every action.

Three ports, each with an in-memory implementation and a contract suite in
`cqrs.testing`:

- `OutboxAdmin`: dead outbox rows (list, stats, replay, discard); in memory,
  `cqrs.outbox.MemoryOutbox`.
- `SagaAdminStore`: sagas that need a person (list, show, resolve); in
  memory, `cqrs.saga.MemorySagaStorage`. `SagaAdmin` adds the retry, which
  runs the saga engine.
- `DeadLetterAdmin`: records consumers gave up on (list, replay); in memory,
  `MemoryDeadLetters`.

cqrs-sqla and cqrs-kafka implement them for their stores; cqrs-admin serves
them as a FastAPI router, a command line and a web page.

>>> import asyncio
>>> from cqrs.outbox import MemoryOutbox
>>> asyncio.run(MemoryOutbox().stats())
[]
"""

from __future__ import annotations

import importlib
import typing

from cqrs.exceptions import (
    AdminError,
    DeadLetterAlreadyReplayedError,
    DeadLetterNotFoundError,
    DeadLetterNotReplayableError,
    DeadRowNotFoundError,
    InvalidAdminRequestError,
)

if typing.TYPE_CHECKING:  # at run time, `__getattr__` below imports them on first use
    from cqrs.admin.audit import AdminAction, AuditEntry
    from cqrs.admin.dead_letters import DeadLetter, DeadLetterAdmin, DeadLetterId, RawRecord
    from cqrs.admin.memory import MemoryDeadLetters
    from cqrs.admin.outbox import OutboxAdmin, TopicStats
    from cqrs.admin.paging import Page
    from cqrs.admin.saga_admin import SagaAdmin
    from cqrs.admin.sagas import SagaAdminStore, SagaDetail, SagaQuery, SagaSummary

__all__ = (
    # ports
    "OutboxAdmin",
    "SagaAdminStore",
    "DeadLetterAdmin",
    "SagaAdmin",
    "MemoryDeadLetters",
    # what they take and give
    "Page",
    "TopicStats",
    "SagaQuery",
    "SagaSummary",
    "SagaDetail",
    "DeadLetter",
    "DeadLetterId",
    "RawRecord",
    "AuditEntry",
    "AdminAction",
    # errors
    "AdminError",
    "InvalidAdminRequestError",
    "DeadRowNotFoundError",
    "DeadLetterNotFoundError",
    "DeadLetterNotReplayableError",
    "DeadLetterAlreadyReplayedError",
)

# Imported lazily: the in-memory outbox and saga storage import this package's
# modules, and these modules import the outbox and the saga engine.
_HOMES: typing.Final = {
    "OutboxAdmin": "outbox",
    "TopicStats": "outbox",
    "SagaAdminStore": "sagas",
    "SagaQuery": "sagas",
    "SagaSummary": "sagas",
    "SagaDetail": "sagas",
    "SagaAdmin": "saga_admin",
    "DeadLetterAdmin": "dead_letters",
    "DeadLetter": "dead_letters",
    "DeadLetterId": "dead_letters",
    "RawRecord": "dead_letters",
    "MemoryDeadLetters": "memory",
    "Page": "paging",
    "AuditEntry": "audit",
    "AdminAction": "audit",
}


def __getattr__(name: str) -> typing.Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'cqrs.admin' has no attribute {name!r}")
    return getattr(importlib.import_module(f"cqrs.admin.{home}"), name)
