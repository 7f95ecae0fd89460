"""The clock everything time-dependent takes: a callable returning an aware `now`.

Storages, relays and the saga engine accept `clock=`; tests pass a
`cqrs.testing.FakeClock` instead of `utc_now`.

>>> utc_now().tzinfo is not None
True
"""

from __future__ import annotations

import datetime
import functools
import typing

__all__ = ("Clock", "aware_now", "utc_now")

Clock = typing.Callable[[], datetime.datetime]


#: Now, time zone aware, in UTC. A partial rather than a function: storages call
#: it on every write, and this saves a Python frame each time.
utc_now: Clock = functools.partial(datetime.datetime.now, datetime.timezone.utc)


def aware_now(clock: Clock) -> datetime.datetime:
    """`clock()`, refused with `ValueError` when it is naive (a clock without a time zone).

    >>> aware_now(utc_now).utcoffset()
    datetime.timedelta(0)
    """
    now = clock()
    if now.utcoffset() is None:
        raise ValueError(f"the clock gave a naive datetime {now!r}")
    return now
