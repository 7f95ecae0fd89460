"""The clock everything time-dependent takes: a callable returning an aware `now`.

Storages, relays and the saga engine accept `clock=`; tests pass a
`cqrs.testing.FakeClock` instead of `utc_now`.

>>> utc_now().tzinfo is not None
True
"""

from __future__ import annotations

import datetime
import typing

__all__ = ("Clock", "utc_now")

Clock = typing.Callable[[], datetime.datetime]


def utc_now() -> datetime.datetime:
    """Now, time zone aware, in UTC."""
    return datetime.datetime.now(datetime.timezone.utc)
