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

import collections.abc
import functools
import pathlib
import typing

import sqlalchemy as sa
from alembic import op
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, MigrationStep, RevisionStep
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError, coerce_resource_to_filename
from sqlalchemy.ext.asyncio import AsyncEngine

from cqrs_sqla.schema import TableNames, lock_schema_changes

__all__ = (
    "BRANCH",
    "VERSION_LOCATION",
    "VERSION_TABLE",
    "heads",
    "pending",
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
    engine: AsyncEngine,
    names: TableNames | None = None,
    revision: str = f"{BRANCH}@head",
    *,
    locations: collections.abc.Sequence[str] = (),
    version_table: str = VERSION_TABLE,
) -> tuple[str, ...]:
    """Upgrade the library's tables to `revision` (the newest by default), in one
    transaction; the ids of the revisions applied, in order (none: it was there already).

    For applications without an Alembic environment of their own. Processes
    starting together take turns, as with `cqrs_sqla.create_all`. `locations`
    adds version locations of your own (`"package.module:folder"` or a path)
    beside the library's: upgrade them together with `revision="heads"`, in
    one version table (`version_table`).

    >>> import asyncio, cqrs_sqla
    >>> engine = cqrs_sqla.create_engine("sqlite+aiosqlite://")
    >>> asyncio.run(upgrade(engine))[-1]
    'cqrs_sqla_0004'
    >>> asyncio.run(upgrade(engine))
    ()
    >>> asyncio.run(engine.dispose())
    """
    async with engine.begin() as connection:
        await lock_schema_changes(connection)
        return await connection.run_sync(
            _upgrade, names or TableNames(), revision, _script(locations), version_table
        )


async def pending(
    engine: AsyncEngine,
    revision: str = f"{BRANCH}@head",
    *,
    locations: collections.abc.Sequence[str] = (),
    version_table: str = VERSION_TABLE,
) -> tuple[str, ...]:
    """The ids of the revisions `upgrade` would apply, in order, without applying them.

    Raises `alembic.util.CommandError` when the database is at a revision these
    locations do not have (a newer release upgraded it).

    >>> import asyncio, cqrs_sqla
    >>> engine = cqrs_sqla.create_engine("sqlite+aiosqlite://")
    >>> asyncio.run(pending(engine))
    ('cqrs_sqla_0001', 'cqrs_sqla_0002', 'cqrs_sqla_0003', 'cqrs_sqla_0004')
    >>> asyncio.run(engine.dispose())
    """
    script = _script(locations)

    def planned(connection: sa.Connection) -> tuple[str, ...]:
        context = MigrationContext.configure(connection, opts={"version_table": version_table})
        return tuple(s.revision for s in _plan(script, revision, context.get_current_heads()))

    async with engine.connect() as connection:
        return await connection.run_sync(planned)


def heads(locations: collections.abc.Sequence[str] = ()) -> tuple[str, ...]:
    """The newest revision of each branch: the library's, and those of `locations`.

    >>> heads()
    ('cqrs_sqla_0004',)
    """
    return tuple(sorted(_script(locations).get_heads()))


def _script(locations: collections.abc.Sequence[str]) -> ScriptDirectory:
    return _scripts(tuple(locations))


@functools.lru_cache(maxsize=8)
def _scripts(locations: tuple[str, ...]) -> ScriptDirectory:
    # Read once per process: a service checks or upgrades at every start, tests often.
    given = (str(coerce_resource_to_filename(where)) for where in locations)
    folders = dict.fromkeys([str(_VERSIONS), *given])  # the library's once, if given too
    return ScriptDirectory(str(_VERSIONS), version_locations=list(folders))


def _plan(script: ScriptDirectory, revision: str, current: tuple[str, ...]) -> list[Script]:
    # What `alembic upgrade` does: the revisions between the current heads and `revision`,
    # oldest first.
    try:
        scripts = list(script.iterate_revisions(revision, current, implicit_base=True))
    except RevisionError as exc:  # raised while iterating, past Alembic's own translation
        raise CommandError(str(exc)) from exc
    return [s for s in reversed(scripts) if isinstance(s, Script)]


def _upgrade(
    connection: sa.Connection,
    names: TableNames,
    revision: str,
    script: ScriptDirectory,
    version_table: str,
) -> tuple[str, ...]:
    config = Config()
    use_table_names(config, names)
    applied: list[str] = []

    def steps(current: tuple[str, ...], _context: MigrationContext) -> list[RevisionStep]:
        planned = _plan(script, revision, current)
        applied.extend(s.revision for s in planned)
        return [MigrationStep.upgrade_from_script(script.revision_map, s) for s in planned]

    with EnvironmentContext(config, script, fn=steps) as environment:
        environment.configure(
            connection=connection,
            version_table=version_table,
            # SQLite alters a table by copying it: revisions that alter use batch mode.
            render_as_batch=connection.dialect.name == "sqlite",
        )
        environment.run_migrations()
    return tuple(applied)


def table_missing(name: str) -> bool:
    """Whether the database being upgraded lacks the table (revisions that create a
    table adopt one `create_all` made before)."""
    return not sa.inspect(op.get_bind()).has_table(name)


def column_missing(table: str, column: str) -> bool:
    """Whether the database being upgraded lacks the column (revisions that add one
    adopt a table `create_all` made with it)."""
    columns = sa.inspect(op.get_bind()).get_columns(table)
    return column not in {existing["name"] for existing in columns}
