"""What a failed import of an optional distribution means: absent, or installed but broken.

The modules that re-export another distribution (`cqrs.message_brokers.kafka`,
`cqrs.outbox.sqlalchemy`, ...) name the distribution to install only when it
is not installed. When it is, and one of its own imports fails (a missing
system module, a dependency of its own), that error is the one to show.

>>> try:
...     import cqrs_not_a_distribution  # pyright: ignore[reportMissingImports]
... except ImportError as error:
...     raise_if_installed(error, "cqrs_not_a_distribution")  # absent: returns
...     print("absent")
absent
"""

from __future__ import annotations

import importlib.util

__all__ = ("raise_if_installed",)


def raise_if_installed(error: ImportError, module: str) -> None:
    """Raise `error` again if `module` (a distribution's top-level package) is installed."""
    if importlib.util.find_spec(module) is not None:
        raise error
