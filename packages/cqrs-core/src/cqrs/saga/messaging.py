"""Messaging steps: a step another service carries out, over commands and replies.

The step's `command` goes out through the outbox in the same write that
records the saga as waiting; the saga then waits, persisted, until a reply
is delivered (`SagaMediator.deliver`, on any instance) or the step's
`timeout` passes. A reply runs `on_reply`, which updates the context, or
raises to fail the step; a timeout fails the step and compensates it too,
because the command may have been carried out anyway.

Compensation may be a command as well: `compensation_command` is sent
through the outbox; when `compensation_replies` is not empty, the saga waits
for one of them (resending on timeout, as the compensation policy allows).

The command should carry the saga id (or something that leads back to it),
and the other service should copy it into its reply, so that whoever
consumes the reply knows which saga to deliver it to.

>>> import dataclasses, datetime, uuid, pydantic
>>> from cqrs.events.event import NotificationEvent
>>> from cqrs.saga.models import SagaContext
>>> from cqrs.saga.step import SagaStepResult
>>> class Reserve(pydantic.BaseModel):
...     saga_id: uuid.UUID
...     sku: str
>>> @dataclasses.dataclass
... class OrderContext(SagaContext):
...     sku: str
...     reservation_id: str | None = None
>>> class ReserveStock(MessagingStep[OrderContext, None]):
...     replies = ("stock_reserved",)
...     timeout = datetime.timedelta(seconds=30)
...     async def command(self, context: OrderContext, saga_id: uuid.UUID):
...         return NotificationEvent[Reserve](
...             event_name="reserve_stock", topic="inventory.commands",
...             payload=Reserve(saga_id=saga_id, sku=context.sku))
...     async def on_reply(self, context: OrderContext, reply: NotificationEvent[typing.Any]):
...         context.reservation_id = reply.payload["reservation_id"]
...         return self._generate_step_result(None)
"""

from __future__ import annotations

import abc
import datetime
import typing
import uuid

from cqrs.events.event import NotificationEvent
from cqrs.saga.step import ContextT, SagaStepHandler, SagaStepResult, StepResponseT

__all__ = ("MessagingStep",)

Reply = NotificationEvent[typing.Any]


class MessagingStep(SagaStepHandler[ContextT, StepResponseT]):
    """A saga step that sends a command to another service and waits for its reply.

    Set `replies` to the event names that answer the command. The engine
    calls `command`, `on_reply` and the compensation hooks; never `act` or
    `compensate`.
    """

    replies: typing.ClassVar[typing.Collection[str]] = ()
    timeout: datetime.timedelta = datetime.timedelta(seconds=30)
    compensation_replies: typing.ClassVar[typing.Collection[str]] = ()
    compensation_timeout: datetime.timedelta = datetime.timedelta(seconds=30)

    @abc.abstractmethod
    async def command(self, context: ContextT, saga_id: uuid.UUID) -> Reply:
        """The command to send; a registered `NotificationEvent` (see `OutboxedEventMap`)."""

    @abc.abstractmethod
    async def on_reply(
        self, context: ContextT, reply: Reply
    ) -> SagaStepResult[ContextT, StepResponseT]:
        """Apply the reply to `context` and return the step's result; raise to fail."""

    async def compensation_command(self, context: ContextT, saga_id: uuid.UUID) -> Reply | None:
        """The command that undoes this step, or `None` when there is nothing to send."""
        return None

    async def on_compensation_reply(self, context: ContextT, reply: Reply) -> None:
        """Check a reply to the compensation command; raise to count it as a failed try."""

    def partition_key(self, context: ContextT, saga_id: uuid.UUID) -> str:
        """The outbox partition key of this step's commands: the saga id, by default,
        so one saga's commands are published in the order it sent them."""
        return str(saga_id)

    async def act(self, context: ContextT) -> SagaStepResult[ContextT, StepResponseT]:
        raise TypeError(
            f"{type(self).__qualname__} is a messaging step: the saga engine sends its "
            f"command and waits for the reply; do not call act() yourself."
        )

    async def compensate(self, context: ContextT) -> None:
        raise TypeError(
            f"{type(self).__qualname__} is a messaging step: the saga engine sends its "
            f"compensation command; do not call compensate() yourself."
        )
