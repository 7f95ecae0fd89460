"""Stopping on SIGTERM and SIGINT: the two ways a launcher (or Ctrl-C) ends a command.

```
stop = asyncio.Event()
with stop_on_signals(stop.set):
    await stop.wait()  # until SIGTERM or SIGINT
```
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import signal

__all__ = ("STOP_SIGNALS", "stop_on_signals")

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def stop_on_signals(
    stop: collections.abc.Callable[[], object],
) -> collections.abc.Generator[None, None, None]:
    """Call `stop` on the running event loop whenever a stop signal arrives, within the block.

    The previous handling comes back after the block.
    """
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop)
    try:
        yield
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
