"""The errors `cqrs-demo` raises.

```
DemoError
├── StartupError        a process did not come up (it exited, or never answered)
└── ChildExitedError    a process exited while the system was running
```

>>> issubclass(StartupError, DemoError)
True
"""

from __future__ import annotations

__all__ = ("DemoError", "StartupError", "ChildExitedError")


class DemoError(RuntimeError):
    """Base class of the errors of `cqrs_demo`."""


class StartupError(DemoError):
    """A process of the reference system did not come up; the message names it and
    quotes the end of its output."""


class ChildExitedError(DemoError):
    """A supervised process exited although nobody asked it to; the message names it,
    gives its exit code and quotes the end of its output."""
