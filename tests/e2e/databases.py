"""Throwaway databases for the end-to-end tests: PostgreSQL databases or SQLite files.

PostgreSQL is the machine's server (127.0.0.1:5432, user postgres, trust auth)
unless `CQRS_TEST_POSTGRES_URL` names another (an SQLAlchemy asyncpg URL whose
database is only used to create and drop the throwaway ones), as in the
packages' tests. A missing server fails the tests; they never skip.
"""

from __future__ import annotations

import collections.abc
import contextlib
import pathlib

from cqrs_sqla.testing import throwaway_postgres_database

SERVICES = ("orders", "inventory")


@contextlib.contextmanager
def service_databases(
    kind: str, folder: pathlib.Path
) -> collections.abc.Generator[dict[str, str], None, None]:
    """A fresh database URL per service (`{"orders": url, "inventory": url}`).

    `kind` is "sqlite" (files in `folder`) or "postgresql" (databases created
    now and dropped, with their connections, on exit).
    """
    if kind == "sqlite":
        yield {service: f"sqlite+aiosqlite:///{folder / f'{service}.db'}" for service in SERVICES}
        return
    if kind != "postgresql":
        raise ValueError(f"unknown database kind {kind!r}; use sqlite or postgresql")
    with contextlib.ExitStack() as stack:
        yield {
            service: stack.enter_context(throwaway_postgres_database(f"cqrs_e2e_{service}"))
            for service in SERVICES
        }
