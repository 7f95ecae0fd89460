"""A service's schema under Alembic: its own revisions and cqrs-sqla's, upgraded together.

Each service ships an Alembic version location inside its package (orders:
`orders.adapters.migrations:versions`) whose revisions create and change its
own tables, on a branch of its own (label: the service's name). cqrs-sqla's
revisions (`cqrs_sqla.migrations`, label `cqrs_sqla`) are the other branch.
Both are upgraded together to `heads`, in one `alembic_version` table that
holds a head per branch.

Why two branches and not `depends_on`: the services' tables refer to none of
the library's (no foreign key, no data moved between them), so neither branch
waits for the other and each can gain a revision without touching the other's.
A later service revision that does need a library table (one that reads the
`idempotency` table, say) names it in its own `depends_on` (`"cqrs_sqla_0003"`),
and Alembic runs that library revision first.

No `alembic.ini` and no `env.py`: `Migrations` builds what Alembic needs in
code, so `orders migrate` is `alembic upgrade heads` for anyone who installed
the service. The service's commands use it:

- `migrate`: `upgrade`, and say which revisions were applied, or that the
  database was at head already;
- `serve` and `relay`: `at_start`: upgrade when `PREFIX_MIGRATE_ON_START` is
  true (the default), else refuse to start (`SchemaVersionError`, one line) on
  a database that is behind.

Processes upgrading at once take turns (a PostgreSQL advisory lock, SQLite's
write lock): the second finds the first's work done.

>>> import asyncio, cqrs_sqla
>>> migrations = Migrations("demo", "cqrs_sqla.migrations:versions")
>>> migrations.heads()
('cqrs_sqla_0004',)
>>> engine = cqrs_sqla.create_engine("sqlite+aiosqlite://")
>>> asyncio.run(migrations.upgrade(engine))  # doctest: +ELLIPSIS
'demo schema: applied cqrs_sqla_0001, ..., cqrs_sqla_0004; now at head cqrs_sqla_0004'
>>> asyncio.run(migrations.upgrade(engine))
'demo schema: already at head cqrs_sqla_0004'
>>> asyncio.run(engine.dispose())
"""

from __future__ import annotations

import collections.abc
import contextlib
import dataclasses
import logging
import typing

import alembic.util
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from cqrs_sqla import migrations
from cqrs_sqla.schema import TableNames

__all__ = ("VERSION_TABLE", "Migrations", "SchemaVersionError")

#: Where the services record their heads (Alembic's default table).
VERSION_TABLE: typing.Final = "alembic_version"

logger = logging.getLogger("servicekit.migrations")
# Alembic says which implementation it picked each time it looks at the database; the
# line `upgrade` returns says what was applied.
logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)


class SchemaVersionError(RuntimeError):
    """The database's schema is not the one this release runs on; the message says what to do."""


@dataclasses.dataclass(frozen=True)
class Migrations:
    """The revisions of service `service`: its version `location` (`"package:folder"`)
    beside cqrs-sqla's, upgraded together in `VERSION_TABLE`."""

    service: str
    location: str

    def heads(self) -> tuple[str, ...]:
        """The newest revision of each branch (the service's and the library's)."""
        return migrations.heads(self._locations)

    async def upgrade(self, engine: AsyncEngine, names: TableNames | None = None) -> str:
        """`alembic upgrade heads`; one line saying what was applied.

        `names` are the library's table names the service uses (default: `TableNames()`).
        Raises `SchemaVersionError` when the database is at a revision this release
        does not know.
        """
        with self._known_revisions():
            applied = await migrations.upgrade(
                engine,
                names,
                "heads",
                locations=self._locations,
                version_table=VERSION_TABLE,
            )
        at_head = f"head {', '.join(self.heads())}"
        if not applied:
            return f"{self.service} schema: already at {at_head}"
        return f"{self.service} schema: applied {', '.join(applied)}; now at {at_head}"

    async def check(self, engine: AsyncEngine) -> None:
        """Raise `SchemaVersionError` unless the database is at head (nothing to apply)."""
        with self._known_revisions():
            behind = await migrations.pending(
                engine, "heads", locations=self._locations, version_table=VERSION_TABLE
            )
        if behind:
            raise SchemaVersionError(
                f"the {self.service} database is behind this release ({len(behind)} "
                f"revision(s) to apply: {', '.join(behind)}); run `{self.service} migrate`, "
                f"or set {self.service.upper()}_MIGRATE_ON_START=true"
            )

    async def differences(
        self, engine: AsyncEngine, metadata: collections.abc.Sequence[sa.MetaData]
    ) -> list[typing.Any]:
        """What Alembic's autogenerate finds between the database and the models of
        `metadata` (the service's tables and `cqrs_sqla.schema.Schema`'s): empty when the
        revisions built what the models describe."""

        def compare(connection: sa.Connection) -> list[typing.Any]:
            context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
            return list(compare_metadata(context, list(metadata)))  # pyright: ignore[reportArgumentType]

        async with engine.connect() as connection:
            return await connection.run_sync(compare)

    async def at_start(
        self, engine: AsyncEngine, names: TableNames | None = None, *, upgrade: bool
    ) -> None:
        """What `serve` and `relay` do first: `upgrade` (logging what it did), or
        `check` when the service is told not to (`PREFIX_MIGRATE_ON_START=false`)."""
        if upgrade:
            logger.info("%s", await self.upgrade(engine, names))
        else:
            await self.check(engine)

    @property
    def _locations(self) -> tuple[str]:
        return (self.location,)

    @contextlib.contextmanager
    def _known_revisions(self) -> collections.abc.Generator[None, None, None]:
        # Alembic's error for a version table naming a revision no location has.
        try:
            yield
        except alembic.util.CommandError as exc:
            raise SchemaVersionError(
                f"the {self.service} database is at a revision this release does not know "
                f"({exc}); a newer release upgraded it: run that release instead"
            ) from exc
