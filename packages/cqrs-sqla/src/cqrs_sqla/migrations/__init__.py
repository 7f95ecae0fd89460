"""cqrs-sqla's tables under Alembic: a version location for your environment, or `upgrade`.

The library's revisions form their own Alembic branch (label `cqrs_sqla`),
one revision per schema change since 0.1.0. Two ways to run them:

- With an Alembic environment of your own, add `VERSION_LOCATION` to its
  `version_locations` (beside your own folder) and run `alembic upgrade heads`:
  your revisions and the library's are upgraded together, in one version table.
- Without one (you create your own tables with `MetaData.create_all`, say),
  `await upgrade(engine)` runs the library's revisions alone, recording them
  in their own version table (`VERSION_TABLE`).

Tables already there are adopted, not created again: a database made by
`create_all` of 0.1.0 (or of a later release) upgrades in place, its rows kept.
Table names other than the defaults are set with `use_table_names(config, names)`
(in `env.py`) or `upgrade(engine, names)`.

Needs the `alembic` extra: `pip install "cqrs-sqla[alembic]"`.

>>> VERSION_LOCATION
'cqrs_sqla.migrations:versions'
>>> BRANCH
'cqrs_sqla'
"""

from __future__ import annotations

import pathlib
import typing

import sqlalchemy as sa
from alembic import op
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, MigrationStep, RevisionStep
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from cqrs_sqla.schema import TableNames, lock_schema_changes

__all__ = (
    "BRANCH",
    "VERSION_LOCATION",
    "VERSION_TABLE",
    "table_names",
    "upgrade",
    "use_table_names",
)

#: The branch label of the library's revisions: `alembic upgrade cqrs_sqla@head` runs them alone.
BRANCH: typing.Final = "cqrs_sqla"
#: For `version_locations` in `alembic.ini` (a package resource, found wherever it is installed).
VERSION_LOCATION: typing.Final = "cqrs_sqla.migrations:versions"
#: The version table `upgrade` keeps (an Alembic environment keeps its own `alembic_version`).
VERSION_TABLE: typing.Final = "cqrs_sqla_version"

_NAMES_ATTRIBUTE: typing.Final = "cqrs_sqla.table_names"
_VERSIONS: typing.Final = pathlib.Path(__file__).parent / "versions"


def use_table_names(config: Config, names: TableNames) -> None:
    """Make the library's revisions use these table names (call it in `env.py`).

    >>> config = Config()
    >>> use_table_names(config, TableNames(outbox="events_outbox"))
    >>> config.attributes["cqrs_sqla.table_names"].outbox
    'events_outbox'
    """
    config.attributes[_NAMES_ATTRIBUTE] = names


def table_names(context: MigrationContext) -> TableNames:
    """The table names a running revision works on: those set by `use_table_names`, or
    the defaults (`TableNames()`, which honours `OUTBOX_SQLA_TABLE`).

    >>> context = MigrationContext.configure(dialect_name="sqlite")
    >>> table_names(context).saga
    'saga'
    """
    config = context.config
    names = config.attributes.get(_NAMES_ATTRIBUTE) if config is not None else None
    return names if isinstance(names, TableNames) else TableNames()


async def upgrade(
    engine: AsyncEngine, names: TableNames | None = None, revision: str = f"{BRANCH}@head"
) -> None:
    """Upgrade the library's tables to `revision` (the newest by default), in one transaction.

    For applications without an Alembic environment of their own. Processes
    starting together take turns, as with `cqrs_sqla.create_all`.

    >>> import asyncio, cqrs_sqla
    >>> engine = cqrs_sqla.create_engine("sqlite+aiosqlite://")
    >>> asyncio.run(upgrade(engine))
    >>> asyncio.run(engine.dispose())
    """
    async with engine.begin() as connection:
        await lock_schema_changes(connection)
        await connection.run_sync(_upgrade, names or TableNames(), revision)


def _upgrade(connection: sa.Connection, names: TableNames, revision: str) -> None:
    config = Config()
    use_table_names(config, names)
    script = ScriptDirectory(str(_VERSIONS), version_locations=[str(_VERSIONS)])

    def steps(current: tuple[str, ...], _context: MigrationContext) -> list[RevisionStep]:
        # What `alembic upgrade` does, on the library's revisions only.
        pending = script.iterate_revisions(revision, current, implicit_base=True)
        return [
            MigrationStep.upgrade_from_script(script.revision_map, s)
            for s in reversed(list(pending))
        ]

    with EnvironmentContext(config, script, fn=steps) as environment:
        environment.configure(
            connection=connection,
            version_table=VERSION_TABLE,
            # SQLite alters a table by copying it: revisions that alter use batch mode.
            render_as_batch=connection.dialect.name == "sqlite",
        )
        environment.run_migrations()


def table_missing(name: str) -> bool:
    """Whether the database being upgraded lacks the table (revisions that create a
    table adopt one `create_all` made before)."""
    return not sa.inspect(op.get_bind()).has_table(name)


def column_missing(table: str, column: str) -> bool:
    """Whether the database being upgraded lacks the column (revisions that add one
    adopt a table `create_all` made with it)."""
    columns = sa.inspect(op.get_bind()).get_columns(table)
    return column not in {existing["name"] for existing in columns}
