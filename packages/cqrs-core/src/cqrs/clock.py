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

__all__ = ("Clock", "utc_now")

Clock = typing.Callable[[], datetime.datetime]


#: Now, time zone aware, in UTC. A partial rather than a function: storages call
#: it on every write, and this saves a Python frame each time.
utc_now: Clock = functools.partial(datetime.datetime.now, datetime.timezone.utc)
