"""`cqrs-admin`: the admin operations from a shell, against a database and a Kafka cluster.

```
cqrs-admin outbox dead [--topic T]            dead outbox rows, oldest first
cqrs-admin outbox stats                       pending and dead rows per topic
cqrs-admin outbox replay (ID | --topic T | --all) [--reason R]
cqrs-admin outbox discard ID --reason R
cqrs-admin dead-letters list [--topic T]      records consumers gave up on
cqrs-admin dead-letters replay TOPIC PARTITION OFFSET [--force] [--reason R]
cqrs-admin sagas list [--status S] [--name N] [--overdue] [--min-recovery-attempts N]
                      [--running-longer-than SECONDS]
cqrs-admin sagas show ID
cqrs-admin sagas retry ID [--reason R]        needs --sagas MODULE:FUNCTION
cqrs-admin sagas resolve ID --reason R
cqrs-admin {outbox,dead-letters,sagas} audit  what operators did, newest first
```

Every command takes `--json` (one JSON document on standard output, for
scripts) and `--help`. Configuration comes from options or these variables:

| option | variable | meaning |
|---|---|---|
| `--database-url` | `CQRS_ADMIN_DATABASE_URL` | SQLAlchemy URL of the outbox and saga database |
| `--bootstrap-servers` | `KAFKA_BOOTSTRAP_SERVERS` | the Kafka cluster of the dead-letter topics |
| `--audit-topic` | `CQRS_ADMIN_AUDIT_TOPIC` | where replays are recorded (`cqrs-admin.audit`) |
| `--actor` | `CQRS_ADMIN_ACTOR` | the audit log's name for you (default: your login) |
| `--sagas` | `CQRS_ADMIN_SAGAS` | `module:function` giving the `SagaRecoveryWorker` |

The outbox table's name follows `OUTBOX_SQLA_TABLE`, as in cqrs-sqla. The
database and Kafka commands need the `sqla` and `kafka` extras
(`pip install "cqrs-admin[sqla,kafka]"`).

Exit codes: 0 done; 1 failed otherwise (the message says why); 2 a usage or
configuration mistake; 3 no such saga, dead row or dead letter; 4 refused by
the record's state (replayed already, finished, held by a worker); 5 the
database or broker cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import getpass
import importlib
import json
import os
import sys
import typing
import uuid

import pydantic

from cqrs.admin.audit import AuditEntry
from cqrs.admin.dead_letters import DeadLetterAdmin, DeadLetterId
from cqrs.admin.outbox import OutboxAdmin
from cqrs.admin.paging import DEFAULT_PAGE_SIZE
from cqrs.admin.saga_admin import SagaAdmin
from cqrs.admin.sagas import SagaQuery, saga_target
from cqrs.exceptions import InvalidAdminRequestError, MissingDependencyError
from cqrs.saga.models import SagaStatus
from cqrs.saga.recovery import SagaRecoveryWorker
from cqrs.saga.storage.protocol import ISagaStorage
from cqrs_admin.problems import CONFLICTS, NOT_FOUND
from cqrs_admin.schemas import (
    AuditEntryView,
    DeadLetterPage,
    DeadLetterView,
    DiscardedCount,
    OutboxRowPage,
    ReplayedCount,
    SagaDetailView,
    SagaPage,
    TopicStatsView,
)
from cqrs_admin.terminal import ProgressBar, table

__all__ = ("main", "EXIT_CODES")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_REFUSED, EXIT_UNAVAILABLE = range(6)
#: What each exit code means.
EXIT_CODES: typing.Final = {
    EXIT_OK: "done",
    EXIT_FAILED: "failed (the message says why)",
    EXIT_USAGE: "a usage or configuration mistake",
    EXIT_NOT_FOUND: "no such saga, dead row or dead letter",
    EXIT_REFUSED: "refused by the record's state",
    EXIT_UNAVAILABLE: "the database or broker cannot be reached",
}

Command = typing.Callable[["Session"], typing.Awaitable[int]]


class UsageError(Exception):
    """A mistake the command line reports with exit code 2."""


class _Subcommands(typing.Protocol):
    """What `ArgumentParser.add_subparsers` returns, as far as this module uses it."""

    def add_parser(self, name: str, **options: typing.Any) -> argparse.ArgumentParser: ...


# -- the stores a command works on ------------------------------------------------


class Session:
    """One command's arguments, output, and the admin ports it opens (closed at the end)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._exit = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._exit.aclose()

    def report(
        self,
        value: pydantic.BaseModel | typing.Sequence[pydantic.BaseModel],
        for_people: typing.Callable[[], str],
    ) -> int:
        """Print `value` as one JSON document with `--json`, else `for_people()`; `EXIT_OK`."""
        if self.args.json:
            if isinstance(value, pydantic.BaseModel):
                data: object = value.model_dump(mode="json")
            else:
                data = [item.model_dump(mode="json") for item in value]
            text = json.dumps(data, indent=2, ensure_ascii=False)
        else:
            text = for_people()
        print(text, file=sys.stdout)
        return EXIT_OK

    @property
    def actor(self) -> str:
        actor = typing.cast("str | None", self.args.actor)
        if actor is None:
            raise UsageError("who is acting? pass --actor NAME or set CQRS_ADMIN_ACTOR")
        return actor

    def outbox(self) -> OutboxAdmin:
        sqla = _extra("cqrs_sqla.outbox_admin", "the outbox commands", "sqla")
        relay = _extra("cqrs_sqla.relay", "the outbox commands", "sqla")
        schema, engine = self._database()
        return sqla.SqlAlchemyOutboxAdmin(relay.SqlAlchemyOutboxStore(engine, schema))

    def sagas(self) -> SagaAdmin:
        admin = _extra("cqrs_sqla.saga_admin", "the saga commands", "sqla")
        storage = _extra("cqrs_sqla.saga_storage", "the saga commands", "sqla")
        asyncio_sa = _extra("sqlalchemy.ext.asyncio", "the saga commands", "sqla")
        schema, engine = self._database()
        sessions = asyncio_sa.async_sessionmaker(engine, expire_on_commit=False)
        store = admin.SqlAlchemySagaAdmin(sessions, schema)
        recovery = None
        if self.args.sagas:
            recovery = _recovery_worker(
                self.args.sagas, storage.SqlAlchemySagaStorage(sessions, schema)
            )
        return SagaAdmin(store, recovery)

    def dead_letters(self) -> DeadLetterAdmin:
        kafka = _extra("cqrs_kafka.dead_letter_admin", "the dead-letter commands", "kafka")
        servers = self.args.bootstrap_servers
        if not servers:
            raise UsageError(
                "no Kafka cluster given: pass --bootstrap-servers or set KAFKA_BOOTSTRAP_SERVERS"
            )
        admin = kafka.KafkaDeadLetterAdmin(servers, audit_topic=self.args.audit_topic)
        self._exit.push_async_callback(admin.close)
        return typing.cast(DeadLetterAdmin, admin)

    def _database(self) -> tuple[typing.Any, typing.Any]:
        url = self.args.database_url
        if not url:
            raise UsageError(
                "no database given: pass --database-url or set CQRS_ADMIN_DATABASE_URL "
                "(an SQLAlchemy URL, e.g. postgresql+asyncpg://user@host/db)"
            )
        schema_module = _extra("cqrs_sqla.schema", "the database commands", "sqla")
        cqrs_sqla = _extra("cqrs_sqla", "the database commands", "sqla")
        sqlalchemy = _extra("sqlalchemy", "the database commands", "sqla")
        parsed = sqlalchemy.make_url(url)
        path = typing.cast("str | None", parsed.database)
        # SQLite would create an empty database at a mistyped path, and the command would
        # then fail on a missing table; say what is wrong instead.
        sqlite_file = parsed.get_backend_name() == "sqlite" and path not in (None, "", ":memory:")
        if sqlite_file and not os.path.isfile(str(path)):
            raise UsageError(f"no SQLite database at {path}: check --database-url")
        try:
            engine = cqrs_sqla.create_engine(url)
        except cqrs_sqla.UnsupportedDatabaseError as exc:
            raise UsageError(f"{exc}; check --database-url") from exc
        self._exit.push_async_callback(engine.dispose)
        return schema_module.Schema(), engine


def _extra(module: str, feature: str, extra: str) -> typing.Any:
    """Import `module`, which the `extra` of cqrs-admin installs."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(feature, f"cqrs-admin[{extra}]") from exc


def _recovery_worker(spec: str, storage: ISagaStorage) -> SagaRecoveryWorker:
    """The worker `module:function` returns for `storage`."""
    module_name, _, function_name = spec.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise UsageError(
            f"--sagas {spec!r}: cannot import it ({exc}); give module:function"
        ) from exc
    worker = function(storage)
    if not isinstance(worker, SagaRecoveryWorker):
        raise UsageError(
            f"--sagas {spec!r} returned a {type(worker).__name__}, not a SagaRecoveryWorker"
        )
    return worker


# -- the commands -------------------------------------------------------------------


def _when(moment: datetime.datetime | None) -> str:
    return "" if moment is None else moment.isoformat(timespec="seconds")


def _paged(text: str, next_cursor: str | None) -> str:
    """A page's table, and how to ask for the next page."""
    return text if next_cursor is None else f"{text}\nmore: --cursor {next_cursor}"


def _audit_table(views: typing.Sequence[AuditEntryView]) -> str:
    return table(
        ["WHEN", "WHO", "WHAT", "ON", "WHY", "DETAILS"],
        [
            [_when(v.at), v.actor, v.action.value, v.target, v.reason, v.details or ""]
            for v in views
        ],
    )


def _audit(session: Session, entries: typing.Sequence[AuditEntry]) -> int:
    views = [AuditEntryView.of(entry) for entry in entries]
    return session.report(views, lambda: _audit_table(views))


async def outbox_dead(session: Session) -> int:
    args = session.args
    page = OutboxRowPage.of(
        await session.outbox().list_dead(topic=args.topic, cursor=args.cursor, limit=args.limit)
    )
    rows = [
        [
            row.id,
            row.topic,
            row.key,
            row.event_name,
            row.attempts,
            row.last_error,
            _when(row.created_at),
        ]
        for row in page.items
    ]
    headers = ["ID", "TOPIC", "KEY", "EVENT", "ATTEMPTS", "LAST ERROR", "CREATED"]
    return session.report(page, lambda: _paged(table(headers, rows), page.next_cursor))


async def outbox_stats(session: Session) -> int:
    stats = [TopicStatsView.of(topic) for topic in await session.outbox().stats()]
    rows = [[s.topic, s.pending, s.dead, s.oldest_pending_age_seconds] for s in stats]
    return session.report(
        stats, lambda: table(["TOPIC", "PENDING", "DEAD", "OLDEST PENDING (S)"], rows)
    )


async def outbox_replay(session: Session) -> int:
    args, outbox = session.args, session.outbox()
    if args.id is not None:
        await outbox.replay(args.id, actor=session.actor, reason=args.reason)
        replayed = 1
    else:
        topic = None if args.all else args.topic
        dead = sum(s.dead for s in await outbox.stats() if topic in (None, s.topic))
        bar = ProgressBar(dead, sys.stderr, enabled=sys.stderr.isatty())
        replayed = await outbox.replay_all(
            topic=topic, actor=session.actor, reason=args.reason, progress=bar.update
        )
        bar.finish(replayed)
    return session.report(
        ReplayedCount(replayed=replayed), lambda: f"replayed {replayed} dead outbox row(s)"
    )


async def outbox_discard(session: Session) -> int:
    args = session.args
    await session.outbox().discard(args.id, actor=session.actor, reason=args.reason)
    return session.report(DiscardedCount(discarded=1), lambda: f"discarded outbox row {args.id}")


async def outbox_audit(session: Session) -> int:
    return _audit(session, await session.outbox().audit_log(limit=session.args.limit))


async def dead_letters_list(session: Session) -> int:
    args = session.args
    page = DeadLetterPage.of(
        await session.dead_letters().list_dead_letters(
            topic=args.topic, cursor=args.cursor, limit=args.limit
        )
    )
    headers = ["KEPT AT", "FROM", "KEY", "REASON", "ATTEMPTS", "DEAD SINCE", "REPLAYED"]
    rows = [_letter_row(letter) for letter in page.items]
    return session.report(page, lambda: _paged(table(headers, rows), page.next_cursor))


def _letter_row(letter: DeadLetterView) -> list[object]:
    origin = (
        f"{letter.original_topic}/{letter.original_partition}/{letter.original_offset}"
        if letter.original_topic
        else "?"
    )
    replayed = letter.replayed
    return [
        f"{letter.topic}/{letter.partition}/{letter.offset}",
        origin,
        letter.key,
        letter.reason,
        letter.attempts,
        _when(letter.dead_lettered_at),
        "" if replayed is None else f"{replayed.actor} {_when(replayed.at)}",
    ]


async def dead_letters_replay(session: Session) -> int:
    args = session.args
    where = DeadLetterId.checked(args.topic, args.partition, args.offset)
    await session.dead_letters().replay(
        where, actor=session.actor, reason=args.reason, force=args.force
    )
    return session.report(ReplayedCount(replayed=1), lambda: f"replayed dead letter {where.cursor}")


async def dead_letters_audit(session: Session) -> int:
    return _audit(session, await session.dead_letters().audit_log(limit=session.args.limit))


async def sagas_list(session: Session) -> int:
    args = session.args
    query = SagaQuery(
        status=None if args.status is None else SagaStatus(args.status),
        name=args.name,
        overdue=args.overdue,
        min_recovery_attempts=args.min_recovery_attempts,
        running_longer_than=None
        if args.running_longer_than is None
        else datetime.timedelta(seconds=args.running_longer_than),
    )
    page = SagaPage.of(
        await session.sagas().list_sagas(query, cursor=args.cursor, limit=args.limit)
    )
    headers = ["SAGA", "NAME", "STATUS", "ERROR", "WAITS FOR", "RECOVERIES", "CREATED"]
    rows = [
        [
            saga.saga_id,
            saga.name,
            saga.status.value,
            saga.error,
            ""
            if saga.waiting_for is None
            else f"{saga.waiting_for} until {_when(saga.waiting_until)}",
            saga.recovery_attempts,
            _when(saga.created_at),
        ]
        for saga in page.items
    ]
    return session.report(page, lambda: _paged(table(headers, rows), page.next_cursor))


async def _show(session: Session, sagas: SagaAdmin, saga_id: uuid.UUID) -> int:
    saga = await sagas.get_saga(saga_id)
    view = SagaDetailView.with_audit(saga, await sagas.audit_log(target=saga_target(saga_id)))

    def for_people() -> str:
        lines = [f"saga {view.saga_id} ({view.name}): {view.status.value}, version {view.version}"]
        if view.error:
            lines.append(f"error: {view.error}")
        lines.append(
            table(
                ["STEP", "ACTION", "STATUS", "AT", "DETAILS"],
                [
                    [e.step, e.action.value, e.status.value, _when(e.at), e.details]
                    for e in view.log
                ],
            )
        )
        if view.audit:
            lines += ["", _audit_table(view.audit)]
        return "\n".join(lines)

    return session.report(view, for_people)


async def sagas_show(session: Session) -> int:
    return await _show(session, session.sagas(), session.args.id)


async def sagas_retry(session: Session) -> int:
    sagas = session.sagas()
    if sagas.recovery is None:
        raise UsageError(
            "retrying runs the saga's steps: give --sagas module:function (or CQRS_ADMIN_SAGAS), "
            "a function that takes the saga storage and returns your SagaRecoveryWorker"
        )
    await sagas.retry(session.args.id, actor=session.actor, reason=session.args.reason)
    return await _show(session, sagas, session.args.id)


async def sagas_resolve(session: Session) -> int:
    sagas = session.sagas()
    await sagas.resolve(session.args.id, actor=session.actor, reason=session.args.reason)
    return await _show(session, sagas, session.args.id)


async def sagas_audit(session: Session) -> int:
    return _audit(session, await session.sagas().audit_log(limit=session.args.limit))


# -- parsing and running ---------------------------------------------------------------


def _common() -> argparse.ArgumentParser:
    """The options every command takes."""
    env = os.environ.get
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON document, for scripts")
    common.add_argument(
        "--database-url",
        default=env("CQRS_ADMIN_DATABASE_URL"),
        help="SQLAlchemy URL of the outbox and saga database (CQRS_ADMIN_DATABASE_URL)",
    )
    common.add_argument(
        "--bootstrap-servers",
        default=env("KAFKA_BOOTSTRAP_SERVERS"),
        help="Kafka bootstrap servers (KAFKA_BOOTSTRAP_SERVERS)",
    )
    common.add_argument(
        "--audit-topic",
        default=env("CQRS_ADMIN_AUDIT_TOPIC") or "cqrs-admin.audit",
        help="where dead-letter replays are recorded (CQRS_ADMIN_AUDIT_TOPIC)",
    )
    common.add_argument(
        "--actor",
        default=env("CQRS_ADMIN_ACTOR") or _login(),
        help="who the audit log says acted (CQRS_ADMIN_ACTOR; default: your login)",
    )
    common.add_argument(
        "--sagas",
        default=env("CQRS_ADMIN_SAGAS"),
        metavar="MODULE:FUNCTION",
        help=(
            "a function taking the saga storage and returning your SagaRecoveryWorker; "
            "`sagas retry` needs it (CQRS_ADMIN_SAGAS)"
        ),
    )
    return common


def _login() -> str | None:
    """The user's login name, if the system knows it (a container may not)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


def _page_options(parser: argparse.ArgumentParser, *, topic: bool = True) -> None:
    if topic:
        parser.add_argument("--topic", help="only this topic")
    parser.add_argument("--cursor", help="the cursor a previous page printed")
    parser.add_argument("--limit", type=int, default=DEFAULT_PAGE_SIZE, help="items per page")


def build_parser() -> argparse.ArgumentParser:
    """The `cqrs-admin` argument parser."""
    common = _common()
    codes = "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items())
    parser = argparse.ArgumentParser(
        prog="cqrs-admin",
        description="See and fix dead outbox rows, dead letters and stuck sagas.",
        epilog=f"exit codes: {codes}",
    )
    areas = parser.add_subparsers(dest="area", required=True, metavar="AREA")

    def command(area: _Subcommands, name: str, run: Command, text: str) -> argparse.ArgumentParser:
        sub = area.add_parser(
            name, parents=[common], help=text, description=text, epilog=f"exit codes: {codes}"
        )
        sub.set_defaults(run=run)
        return sub

    outbox = areas.add_parser("outbox", help="dead outbox rows").add_subparsers(
        dest="command", required=True, metavar="COMMAND"
    )
    _page_options(command(outbox, "dead", outbox_dead, "list dead rows, oldest first"))
    command(outbox, "stats", outbox_stats, "pending and dead rows per topic")
    replay = command(outbox, "replay", outbox_replay, "make dead rows pending again")
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", type=int, help="the dead row's id")
    which.add_argument("--topic", help="every dead row of this topic")
    which.add_argument("--all", action="store_true", help="every dead row")
    replay.add_argument("--reason", help="why (kept in the audit log)")
    discard = command(outbox, "discard", outbox_discard, "keep a dead row, never to be published")
    discard.add_argument("id", type=int, help="the dead row's id")
    discard.add_argument("--reason", required=True, help="why (kept in the audit log)")
    command(outbox, "audit", outbox_audit, "what operators did to outbox rows").add_argument(
        "--limit", type=int, default=DEFAULT_PAGE_SIZE
    )

    letters = areas.add_parser("dead-letters", help="records consumers gave up on").add_subparsers(
        dest="command", required=True, metavar="COMMAND"
    )
    _page_options(
        command(letters, "list", dead_letters_list, "list dead letters, oldest kept first")
    )
    send = command(letters, "replay", dead_letters_replay, "send a dead letter back to its topic")
    send.add_argument("topic", help="the dead-letter topic")
    send.add_argument("partition", type=int)
    send.add_argument("offset", type=int)
    send.add_argument("--force", action="store_true", help="even if it was replayed before")
    send.add_argument("--reason", help="why (kept in the audit log)")
    command(letters, "audit", dead_letters_audit, "the replays, newest first").add_argument(
        "--limit", type=int, default=DEFAULT_PAGE_SIZE
    )

    sagas = areas.add_parser("sagas", help="sagas that need a person").add_subparsers(
        dest="command", required=True, metavar="COMMAND"
    )
    listing = command(sagas, "list", sagas_list, "list sagas, oldest first")
    listing.add_argument("--status", choices=[status.value for status in SagaStatus])
    listing.add_argument("--name", help="only sagas of this name")
    listing.add_argument("--overdue", action="store_true", help="waiting past their deadline")
    listing.add_argument(
        "--min-recovery-attempts", type=int, metavar="N", help="recovered N times or more"
    )
    listing.add_argument(
        "--running-longer-than", type=int, metavar="SECONDS", help="unfinished and older"
    )
    _page_options(listing, topic=False)
    for name, run, text in (
        ("show", sagas_show, "a saga with its step log and audit"),
        ("retry", sagas_retry, "run a saga on now: resume it or compensate again"),
        ("resolve", sagas_resolve, "close an unfinished saga by hand"),
    ):
        sub = command(sagas, name, run, text)
        sub.add_argument("id", type=uuid.UUID, help="the saga's id")
        if name != "show":
            sub.add_argument(
                "--reason", required=name == "resolve", help="why (kept in the audit log)"
            )
    command(sagas, "audit", sagas_audit, "what operators did to sagas").add_argument(
        "--limit", type=int, default=DEFAULT_PAGE_SIZE
    )
    return parser


def _exit_code(exc: BaseException) -> int:
    """The exit code that reports `exc`."""
    if isinstance(exc, (UsageError, InvalidAdminRequestError, MissingDependencyError)):
        return EXIT_USAGE
    if isinstance(exc, NOT_FOUND):
        return EXIT_NOT_FOUND
    if isinstance(exc, CONFLICTS):
        return EXIT_REFUSED
    if isinstance(exc, OSError) or _is_unreachable_database(exc):
        return EXIT_UNAVAILABLE
    return EXIT_FAILED


def _is_unreachable_database(exc: BaseException) -> bool:
    """Whether `exc` is SQLAlchemy's word for a database it could not reach."""
    # Not imported for this: if SQLAlchemy was never loaded, `exc` is not one of its errors.
    exc_module = sys.modules.get("sqlalchemy.exc")
    if exc_module is None:
        return False
    unreachable = (exc_module.OperationalError, exc_module.InterfaceError)
    return isinstance(exc, unreachable) or isinstance(exc.__cause__, OSError)


async def _run(args: argparse.Namespace) -> int:
    run = typing.cast(Command, args.run)
    async with Session(args) as session:
        return await run(session)


def main(argv: typing.Sequence[str] | None = None) -> int:
    """Run `cqrs-admin` with `argv` (default: the process's); return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        print(f"cqrs-admin: {exc}", file=sys.stderr)
        return _exit_code(exc)


if __name__ == "__main__":
    raise SystemExit(main())
