"""`ConsumerRetry`: what a consumer does when handling a record fails.

A failure is one of three kinds:

- permanent: retrying cannot fix it. The record goes to the dead-letter
  topic on the first try, so it holds up its partition for one try only.
  `PermanentError` (which `UndecodableRecordError` is), pydantic's
  `ValidationError`, `EventTooLargeError` (the handler stages an event no
  broker would take), and the types given as `permanent`.
- transient: "not now" rather than "never", an outage of a database or a
  network. `ConnectionError` and `TimeoutError`, or the types given as
  `transient`. Retried every `max_delay` seconds until the outage ends, never
  dead-lettered for it.
- anything else: retried with backoff, `attempts` tries in all, then
  dead-lettered.

The kind is decided over the error and every error it wraps
(`wrapped_errors`): its `__cause__`, the failures of an `EventHandlingError`
(also of one attached to a handler's exception as `event_handling_error`),
and the members of an exception group. One permanent error among them makes
the failure permanent (the record cannot succeed as a whole), and is the
error its dead letter names; otherwise one transient error makes it transient.

>>> retry = ConsumerRetry()
>>> outage = RuntimeError("the repository failed")
>>> outage.__cause__ = ConnectionRefusedError("database is down")
>>> retry.is_transient(outage), retry.is_transient(ValueError("odd"))
(True, False)
>>> from cqrs.exceptions import PermanentError
>>> wrapped = RuntimeError("reserving failed")
>>> wrapped.__cause__ = PermanentError("no such SKU")
>>> retry.permanent_error(wrapped)
PermanentError('no such SKU')
"""

from __future__ import annotations

import asyncio
import collections.abc
import dataclasses
import typing

import pydantic

from cqrs.backoff import exponential_delays
from cqrs.exceptions import (
    ConfigurationError,
    EventHandlingError,
    EventTooLargeError,
    PermanentError,
)

__all__ = (
    "ConsumerRetry",
    "DEFAULT_PERMANENT",
    "DEFAULT_TRANSIENT",
    "wrapped_errors",
)

#: Errors no retry can fix, by default.
DEFAULT_PERMANENT: tuple[type[BaseException], ...] = (
    PermanentError,
    pydantic.ValidationError,
    EventTooLargeError,
)
#: Errors of an outage, by default (`asyncio.TimeoutError` is `TimeoutError` from 3.11 on).
DEFAULT_TRANSIENT: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    asyncio.TimeoutError,
)


@dataclasses.dataclass(frozen=True)
class ConsumerRetry:
    """How often a failing record is handled again, how long to wait in between, and
    which errors are not worth a retry.

    `attempts` counts every try, the first included; the pause before the
    second is `initial_delay` seconds, each next one `multiplier` times
    longer, at most `max_delay`. Only the record's own partition waits.
    To add your own permanent types, keep the defaults:
    `ConsumerRetry(permanent=(*DEFAULT_PERMANENT, OutOfStock))`.

    >>> list(ConsumerRetry(attempts=5, initial_delay=0.5, max_delay=1.5).delays())
    [0.5, 1.0, 1.5, 1.5]
    """

    attempts: int = 5
    initial_delay: float = 0.1
    multiplier: float = 2.0
    max_delay: float = 5.0
    transient: tuple[type[BaseException], ...] = DEFAULT_TRANSIENT
    permanent: tuple[type[BaseException], ...] = DEFAULT_PERMANENT

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigurationError(
                f"ConsumerRetry.attempts counts the first try too: give 1 or more, "
                f"not {self.attempts}."
            )
        if self.initial_delay < 0 or self.max_delay < 0 or self.multiplier < 1:
            raise ConfigurationError(
                "ConsumerRetry needs initial_delay >= 0, max_delay >= 0 and multiplier >= 1; "
                f"got {self.initial_delay}, {self.max_delay} and {self.multiplier}."
            )

    def permanent_error(self, error: BaseException) -> BaseException | None:
        """The first error of a `permanent` type among `error` and those it wraps; `None`
        when there is none."""
        return next((e for e in wrapped_errors(error) if isinstance(e, self.permanent)), None)

    def is_transient(self, error: BaseException) -> bool:
        """Whether `error`, or an error it wraps, is of a `transient` type."""
        return any(isinstance(e, self.transient) for e in wrapped_errors(error))

    def delays(self) -> collections.abc.Iterator[float]:
        """The pauses between tries, in seconds (one fewer than `attempts`)."""
        return exponential_delays(
            self.attempts,
            initial=self.initial_delay,
            multiplier=self.multiplier,
            maximum=self.max_delay,
        )


def wrapped_errors(error: BaseException) -> collections.abc.Iterator[BaseException]:
    """`error`, then each error it wraps, each once (see the module docstring).

    >>> group = EventHandlingError([(object(), object, KeyError("sku"))])
    >>> [type(e).__name__ for e in wrapped_errors(group)]
    ['EventHandlingError', 'KeyError']
    """
    seen: set[int] = set()
    pending: collections.deque[BaseException] = collections.deque([error])
    while pending:
        current = pending.popleft()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if current.__cause__ is not None:
            pending.append(current.__cause__)
        # The report of failed handlers: the error itself, or attached to the first
        # handler's exception when the mediator raises that exception instead.
        for report in (current, getattr(current, "event_handling_error", None)):
            if isinstance(report, EventHandlingError):
                pending.extend(failure[2] for failure in report.failures)
        # Exception groups, built in (3.11+) or from the `exceptiongroup` backport.
        members: object = getattr(current, "exceptions", None)
        if isinstance(members, tuple):
            pending.extend(
                member
                for member in typing.cast("tuple[object, ...]", members)
                if isinstance(member, BaseException)
            )
