"""`SqlAlchemySagaStorage` and its ORM models, provided by the `cqrs-sqla` distribution.

This module keeps python-cqrs's import path `cqrs.saga.storage.sqlalchemy`
working; it re-exports `cqrs_sqla` and names the distribution to install
when it is absent.
"""

from cqrs._optional import raise_if_installed
from cqrs.exceptions import MissingDependencyError

try:
    from cqrs_sqla.orm import (  # pyright: ignore[reportMissingImports]
        Base,  # pyright: ignore[reportUnknownVariableType]
        SagaExecutionModel,  # pyright: ignore[reportUnknownVariableType]
        SagaLogModel,  # pyright: ignore[reportUnknownVariableType]
    )
    from cqrs_sqla.saga_storage import (  # pyright: ignore[reportMissingImports]
        SqlAlchemySagaStorage,  # pyright: ignore[reportUnknownVariableType]
    )
except ImportError as exc:
    raise_if_installed(exc, "cqrs_sqla")  # installed but broken: its own error says why
    raise MissingDependencyError("cqrs.saga.storage.sqlalchemy", "cqrs-sqla") from exc

__all__ = ("SqlAlchemySagaStorage", "Base", "SagaExecutionModel", "SagaLogModel")
