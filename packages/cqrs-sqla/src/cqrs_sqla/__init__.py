"""SQLAlchemy adapters for cqrs-core: outbox, inbox and saga storage, and their admin sides."""

from cqrs_sqla.engine import create_engine
from cqrs_sqla.errors import (
    DatabaseUnavailableError,
    IntegrityViolationError,
    InvalidDataError,
    SqlAdapterError,
    UnsupportedDatabaseError,
)
from cqrs_sqla.idempotency import SqlAlchemyIdempotencyStore
from cqrs_sqla.inbox import SqlAlchemyInbox
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from cqrs_sqla.outbox_admin import SqlAlchemyOutboxAdmin
from cqrs_sqla.pg_outbox import AsyncpgOutbox
from cqrs_sqla.relay import SqlAlchemyOutboxStore
from cqrs_sqla.saga_admin import SqlAlchemySagaAdmin
from cqrs_sqla.saga_storage import SqlAlchemySagaStorage
from cqrs_sqla.schema import Schema, TableNames, create_all
from cqrs_sqla.sqlite import (
    configure_sqlite,
    create_sqlite_engine,  # pyright: ignore[reportDeprecated]  (kept, deprecated)
)

__version__ = "0.1.0"

__all__ = (
    "Schema",
    "TableNames",
    "create_all",
    "SqlAlchemyInbox",
    "SqlAlchemyIdempotencyStore",
    "SqlAlchemyOutboxedEventRepository",
    "AsyncpgOutbox",
    "SqlAlchemyOutboxStore",
    "SqlAlchemySagaStorage",
    "SqlAlchemyOutboxAdmin",
    "SqlAlchemySagaAdmin",
    "create_engine",
    "configure_sqlite",
    "create_sqlite_engine",
    "SqlAdapterError",
    "UnsupportedDatabaseError",
    "DatabaseUnavailableError",
    "IntegrityViolationError",
    "InvalidDataError",
    "__version__",
)
