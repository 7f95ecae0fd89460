"""`cqrs-admin` against SQLite and PostgreSQL: the outbox and saga commands, their output,
their audit entries and their exit codes."""

from __future__ import annotations

import asyncio
import collections.abc
import json
import os
import pathlib
import subprocess
import sys
import typing
import uuid
from importlib import metadata

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from cqrs.message_brokers.protocol import Message
from cqrs.saga.execution import CompensationPolicy
from cqrs.saga.recovery import SagaRecoveryWorker
from cqrs.saga.storage.protocol import ISagaStorage
from cqrs.testing.outbox_admin import give_up_on_pending
from cqrs.testing.saga_admin import ParcelContext, ParcelSaga, leave_compensation_failed
from cqrs_admin.cli import main
from cqrs_sqla.encoding import outbox_values
from cqrs_sqla.engine import create_engine
from cqrs_sqla.notify import insert_notifying
from cqrs_sqla.outbox_admin import SqlAlchemyOutboxAdmin
from cqrs_sqla.relay import SqlAlchemyOutboxStore
from cqrs_sqla.saga_storage import SqlAlchemySagaStorage
from cqrs_sqla.schema import Schema, create_all
from cqrs_sqla.testing import throwaway_postgres_database

_ONE_TRY = CompensationPolicy(attempts=1)


def recovery(storage: ISagaStorage) -> SagaRecoveryWorker:
    """What `--sagas` names: the worker that runs `ParcelSaga` on `storage`."""
    return SagaRecoveryWorker(
        storage=storage,
        sagas={ParcelSaga.saga_name(): (ParcelSaga, ParcelContext)},
        compensation=_ONE_TRY,
    )


@pytest.fixture(scope="module")
def postgres_url() -> collections.abc.Iterator[str]:
    with throwaway_postgres_database("cqrs_admin_cli") as url:
        yield url


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> collections.abc.Iterator[str]:
    """An empty schema, under the default table names the command line uses."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'admin.db'}"
    monkeypatch.delenv("OUTBOX_SQLA_TABLE", raising=False)
    asyncio.run(_schema(url, create=True))
    yield url
    asyncio.run(_schema(url, create=False))


async def _schema(url: str, *, create: bool) -> None:
    engine = create_engine(url)
    try:
        if create:
            await create_all(engine, Schema())
        else:
            async with engine.begin() as connection:
                await connection.run_sync(Schema().metadata.drop_all)
    finally:
        await engine.dispose()


async def _dead_rows(url: str, *messages: Message) -> list[int]:
    """Write `messages`, let a relay whose broker is down kill them; their row ids."""
    engine = create_engine(url)
    admin = SqlAlchemyOutboxAdmin(SqlAlchemyOutboxStore(engine, Schema()))
    try:
        earlier = {row.id for row in (await admin.list_dead(limit=500)).items}
        rows = [outbox_values(message, admin.store.clock()) for message in messages]
        async with engine.begin() as connection:
            await connection.run_sync(
                lambda sync: insert_notifying(sync, admin.store.schema.outbox, rows)
            )
        await give_up_on_pending(admin, admin.store)
        return [row.id for row in (await admin.list_dead(limit=500)).items if row.id not in earlier]
    finally:
        await engine.dispose()


async def _compensation_failed(url: str) -> uuid.UUID:
    engine = create_engine(url)
    try:
        return await leave_compensation_failed(
            SqlAlchemySagaStorage(async_sessionmaker(engine), Schema())
        )
    finally:
        await engine.dispose()


def _message(topic: str = "parcels", key: str = "p-1") -> Message:
    return Message(message_name="Weighed", topic=topic, payload={"parcel_id": key}, key=key)


def _run(capsys: pytest.CaptureFixture[str], database_url: str, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--database-url", database_url, "--actor", "carol"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _json(capsys: pytest.CaptureFixture[str], database_url: str, *argv: str) -> typing.Any:
    code, out, err = _run(capsys, database_url, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


# -- the outbox ----------------------------------------------------------------------


def test_dead_rows_are_listed_as_a_table_and_as_json(
    capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    ids = asyncio.run(_dead_rows(database_url, _message("parcels"), _message("labels", "l-1")))

    code, table, _ = _run(capsys, database_url, "outbox", "dead")
    page = _json(capsys, database_url, "outbox", "dead", "--topic", "labels")

    assert code == 0
    header, *lines = table.splitlines()
    assert header.split() == ["ID", "TOPIC", "KEY", "EVENT", "ATTEMPTS", "LAST", "ERROR", "CREATED"]
    assert [line.split()[:3] for line in lines] == [
        [str(ids[0]), "parcels", "p-1"],
        [str(ids[1]), "labels", "l-1"],
    ]
    assert [(row["id"], row["topic"], row["attempts"]) for row in page["items"]] == [
        (ids[1], "labels", 1)
    ]
    assert page["next_cursor"] is None


def test_a_page_ends_with_the_cursor_of_the_next(
    capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    ids = asyncio.run(_dead_rows(database_url, _message(key="p-1"), _message(key="p-2")))

    code, out, _ = _run(capsys, database_url, "outbox", "dead", "--limit", "1")
    rest = _json(capsys, database_url, "outbox", "dead", "--cursor", str(ids[0]))

    assert (code, out.splitlines()[-1]) == (0, f"more: --cursor {ids[0]}")
    assert [row["id"] for row in rest["items"]] == [ids[1]]


def test_replay_of_one_row_and_of_a_topic_with_a_progress_bar(
    capsys: pytest.CaptureFixture[str], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, *parcels = asyncio.run(
        _dead_rows(database_url, *(_message("parcels", f"p-{n}") for n in range(4)))
    )
    asyncio.run(_dead_rows(database_url, _message("labels", "l-1")))

    one = _run(capsys, database_url, "outbox", "replay", str(first), "--reason", "fixed")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = _run(capsys, database_url, "outbox", "replay", "--topic", "parcels")
    stats = _json(capsys, database_url, "outbox", "stats")
    audit = _json(capsys, database_url, "outbox", "audit")

    assert one[:2] == (0, "replayed 1 dead outbox row(s)\n")
    assert (code, out) == (0, "replayed 3 dead outbox row(s)\n")
    assert err.endswith("] 3/3\n")
    assert [(s["topic"], s["pending"], s["dead"]) for s in stats] == [
        ("labels", 0, 1),
        ("parcels", 4, 0),
    ]
    assert [(e["actor"], e["action"], e["target"]) for e in audit] == [
        ("carol", "outbox.replay_all", "outbox/topic=parcels"),
        ("carol", "outbox.replay", f"outbox/{first}"),
    ]
    assert audit[0]["details"] == {"rows": parcels}


def test_discard_needs_a_reason_and_a_dead_row(
    capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    [row_id] = asyncio.run(_dead_rows(database_url, _message()))

    with pytest.raises(SystemExit) as usage:
        main(["outbox", "discard", str(row_id), "--database-url", database_url])
    done = _run(capsys, database_url, "outbox", "discard", str(row_id), "--reason", "dup")
    again = _run(capsys, database_url, "outbox", "discard", str(row_id), "--reason", "dup")

    assert usage.value.code == 2
    assert done[:2] == (0, f"discarded outbox row {row_id}\n")
    assert again[0] == 3
    assert "no dead outbox row has id" in again[2]


# -- sagas -------------------------------------------------------------------------


def test_a_saga_left_compensation_failed_is_found_retried_and_shown(
    capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    saga_id = asyncio.run(_compensation_failed(database_url))
    sagas = f"{__name__}:recovery"

    listed = _json(capsys, database_url, "sagas", "list", "--status", "compensation_failed")
    without = _run(capsys, database_url, "sagas", "retry", str(saga_id))
    retried = _json(capsys, database_url, "sagas", "retry", str(saga_id), "--sagas", sagas)
    code, shown, _ = _run(capsys, database_url, "sagas", "show", str(saga_id))

    assert [saga["saga_id"] for saga in listed["items"]] == [str(saga_id)]
    assert without[0] == 2
    assert "--sagas" in without[2]
    assert retried["status"] == "failed"
    assert [(e["actor"], e["details"]) for e in retried["audit"]] == [
        ("carol", {"from": "compensation_failed", "to": "failed"})
    ]
    assert code == 0
    assert shown.splitlines()[0] == f"saga {saga_id} (ParcelSaga): failed, version 5"
    assert "saga.retry" in shown


def test_a_saga_is_resolved_with_a_reason_once(
    capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    saga_id = asyncio.run(_compensation_failed(database_url))

    resolved = _json(capsys, database_url, "sagas", "resolve", str(saga_id), "--reason", "refunded")
    again = _run(capsys, database_url, "sagas", "resolve", str(saga_id), "--reason", "again")
    unknown = _run(capsys, database_url, "sagas", "show", str(uuid.uuid4()))

    assert resolved["status"] == "resolved"
    assert resolved["log"][-1]["details"] == "carol: refunded"
    assert again[0] == 4
    assert "resolved already" in again[2]
    assert unknown[0] == 3


# -- configuration and exit codes ------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "code", "says"),
    [
        (["outbox", "stats"], 2, "--database-url"),
        (["dead-letters", "list"], 2, "--bootstrap-servers"),
        (["outbox", "dead", "--database-url", "sqlite+aiosqlite:////nowhere/x.db"], 2, "/nowhere"),
        (["sagas", "list", "--database-url", "postgresql+asyncpg://postgres@127.0.0.1:9/x"], 5, ""),
        (
            ["outbox", "stats", "--database-url", "postgresql+psycopg://app@127.0.0.1:9/x"],
            2,
            "asyncpg",
        ),
        (
            ["outbox", "dead", "--limit", "0", "--database-url", "sqlite+aiosqlite:///:memory:"],
            2,
            "limit",
        ),
    ],
)
def test_configuration_mistakes_and_unreachable_stores_have_their_exit_codes(
    argv: list[str], code: int, says: str
) -> None:
    # A process of its own, as an operator runs it: the exit code is the process's.
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("CQRS_ADMIN_DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    result = subprocess.run(
        [sys.executable, "-m", "cqrs_admin.cli", *argv],
        capture_output=True,
        text=True,
        check=False,
        env=environment,
    )

    assert result.returncode == code, result.stderr
    assert result.stderr.startswith("cqrs-admin: ")
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_the_console_script_is_installed_and_answers_help() -> None:
    [script] = [
        point
        for point in metadata.entry_points(group="console_scripts")
        if point.name == "cqrs-admin"
    ]
    result = subprocess.run(
        [sys.executable, "-m", "cqrs_admin.cli", "outbox", "replay", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert script.value == "cqrs_admin.cli:main"
    assert result.returncode == 0
    assert "--topic" in result.stdout
    assert "exit codes: 0 done" in result.stdout
