"""Refuse to run over a python-cqrs installation (checked when this module is imported).

python-cqrs installs the same `cqrs` import package, so installing one over
the other mixes their files. Looking up one distribution by name costs a
fraction of a millisecond (no scan of every installed distribution).
"""

from __future__ import annotations

import importlib.metadata

from cqrs.exceptions import PythonCqrsInstalledError

__all__ = ("refuse_python_cqrs",)

DISTRIBUTION = "python-cqrs"


def refuse_python_cqrs() -> None:
    """Raise `PythonCqrsInstalledError` when python-cqrs is installed here too."""
    try:
        found = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return
    raise PythonCqrsInstalledError(found.version, str(found.locate_file("")))


refuse_python_cqrs()
