"""Exponential backoff: the pauses between the tries of something that may fail.

>>> [round(d, 2) for d in exponential_delays(5, initial=0.1, multiplier=2.0, maximum=0.5)]
[0.1, 0.2, 0.4, 0.5]
"""

from __future__ import annotations

import collections.abc

__all__ = ("exponential_delays",)


def exponential_delays(
    attempts: int, *, initial: float, multiplier: float, maximum: float
) -> collections.abc.Iterator[float]:
    """The `attempts - 1` pauses between `attempts` tries: `initial`, then multiplied
    by `multiplier` each time, never above `maximum`."""
    delay = initial
    for _ in range(attempts - 1):
        yield min(delay, maximum)
        delay *= multiplier
