"""`ConsumerHealth`: whether a consumer is getting on with its records, for `/health`.

A consumer reports troubles it cannot get past by itself: a dead letter the
broker does not take, fetches or offset commits that fail. A trouble is
logged at once; the consumer turns unhealthy once one has lasted
`unhealthy_after` seconds, and healthy again as soon as none has. A
handler's own failures are no trouble: retries and dead letters deal with them.

>>> clock = [100.0]
>>> health = ConsumerHealth(unhealthy_after=30.0, clock=lambda: clock[0])
>>> health.trouble("dead-letter orders[0]@7", "orders.dlq refuses it")
>>> clock[0] += 31.0
>>> health.healthy, health.report()["troubles"]
(False, [{'what': 'dead-letter orders[0]@7', 'detail': 'orders.dlq refuses it', 'seconds': 31.0}])
>>> health.cleared("dead-letter orders[0]@7")
>>> health.healthy
True
"""

from __future__ import annotations

import collections.abc
import dataclasses
import time
import typing

from cqrs.exceptions import ConfigurationError

__all__ = ("ConsumerHealth",)


@dataclasses.dataclass
class _Trouble:
    detail: str
    since: float


class ConsumerHealth:
    """Troubles of one consumer and counts of its dead letters; see the module docstring.

    `clock` gives seconds on a monotonic scale (`time.monotonic` by default).
    """

    def __init__(
        self,
        unhealthy_after: float = 30.0,
        clock: collections.abc.Callable[[], float] = time.monotonic,
    ) -> None:
        if unhealthy_after < 0:
            raise ConfigurationError(
                f"ConsumerHealth.unhealthy_after is in seconds, 0 or more; got {unhealthy_after}."
            )
        self.unhealthy_after = unhealthy_after
        self._clock = clock
        self._troubles: dict[str, _Trouble] = {}
        #: Records sent to a dead-letter topic since the consumer started.
        self.dead_letters = 0
        #: Failed tries to publish a dead letter.
        self.dead_letter_failures = 0

    def trouble(self, what: str, detail: str) -> None:
        """Note that `what` is going wrong (again), for the reason `detail`."""
        known = self._troubles.get(what)
        if known is None:
            self._troubles[what] = _Trouble(detail, self._clock())
        else:
            known.detail = detail

    def cleared(self, what: str) -> None:
        """Note that `what` is no longer going wrong (nothing happens if it was not)."""
        self._troubles.pop(what, None)

    @property
    def healthy(self) -> bool:
        """False while some trouble has lasted `unhealthy_after` seconds or more."""
        now = self._clock()
        return all(
            now - trouble.since < self.unhealthy_after for trouble in self._troubles.values()
        )

    def report(self) -> dict[str, typing.Any]:
        """What a `/health` route can show: healthy or not, each trouble and for how
        long it has lasted, and the dead-letter counts."""
        now = self._clock()
        return {
            "healthy": self.healthy,
            "troubles": [
                {"what": what, "detail": trouble.detail, "seconds": round(now - trouble.since, 3)}
                for what, trouble in self._troubles.items()
            ],
            "dead_letters": self.dead_letters,
            "dead_letter_failures": self.dead_letter_failures,
        }
