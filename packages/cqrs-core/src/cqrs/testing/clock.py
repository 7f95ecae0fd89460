"""`FakeClock`: a clock tests move by hand, for leases, staleness and timeouts.

>>> clock = FakeClock()
>>> start = clock()
>>> clock.advance(seconds=90)
>>> (clock() - start).total_seconds()
90.0
"""

from __future__ import annotations

import datetime

__all__ = ("FakeClock",)

_EPOCH = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


class FakeClock:
    """A callable returning a time zone aware `now` that only moves when told."""

    def __init__(self, now: datetime.datetime = _EPOCH) -> None:
        self.now: datetime.datetime = now

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, delta: datetime.timedelta | None = None, *, seconds: float = 0) -> None:
        """Move forward by `delta` and/or `seconds`."""
        self.now += (delta or datetime.timedelta()) + datetime.timedelta(seconds=seconds)
