"""The SQL outbox repository and its ORM model, provided by the `cqrs-sqla` distribution.

This module keeps python-cqrs's import path `cqrs.outbox.sqlalchemy`
working; it re-exports `cqrs_sqla` and names the distribution to install
when it is absent.
"""

from cqrs._optional import raise_if_installed
from cqrs.exceptions import MissingDependencyError

try:
    from cqrs_sqla.orm import (  # pyright: ignore[reportMissingImports]
        OutboxModel,  # pyright: ignore[reportUnknownVariableType]
        rebind_outbox_model,  # pyright: ignore[reportUnknownVariableType]
    )
    from cqrs_sqla.outbox import (  # pyright: ignore[reportMissingImports]
        SqlAlchemyOutboxedEventRepository,  # pyright: ignore[reportUnknownVariableType]
    )
except ImportError as exc:
    raise_if_installed(exc, "cqrs_sqla")  # installed but broken: its own error says why
    raise MissingDependencyError("cqrs.outbox.sqlalchemy", "cqrs-sqla") from exc

__all__ = ("SqlAlchemyOutboxedEventRepository", "OutboxModel", "rebind_outbox_model")
