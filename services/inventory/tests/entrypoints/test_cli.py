"""`python -m inventory serve|relay|migrate` as real processes, the way the demo launcher
and the end-to-end tests start them."""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import os
import signal
import sys

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker

from cqrs.signing import new_secret
from cqrs_kafka.testing import read_records
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from cqrs_sqla.schema import Schema
from inventory.adapters.database import create_engine, create_schema
from inventory.adapters.unit_of_work import SqlUnitOfWorkFactory

DEADLINE = 60.0  # seconds for a process to say it is ready or to exit: generous, not a pace


@pytest.fixture
def environment(sqlite_url: str, kafka_bootstrap_servers: str) -> dict[str, str]:
    return {
        **os.environ,
        "INVENTORY_DATABASE_URL": sqlite_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
        "INVENTORY_HOST": "127.0.0.1",
        "INVENTORY_PORT": "0",
        "PYTHONUNBUFFERED": "1",
        # Signing is on, as in production: the processes refuse to start without keys.
        "CQRS_SIGNING_KEYS": f"k1:{new_secret()}",
        "CQRS_SIGNING_KEY_ID": "k1",
    }


@contextlib.asynccontextmanager
async def inventory_process(
    command: str, environment: dict[str, str]
) -> collections.abc.AsyncGenerator[asyncio.subprocess.Process, None]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "inventory",
        command,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def line_starting(process: asyncio.subprocess.Process, prefix: str) -> str:
    """The first line of the process's output that starts with `prefix`."""
    output = process.stdout
    assert output is not None

    async def first_match() -> str:
        while line := (await output.readline()).decode():
            if line.startswith(prefix):
                return line.strip()
        raise AssertionError(f"the process ended without printing {prefix!r}")

    return await asyncio.wait_for(first_match(), DEADLINE)


async def stopped(process: asyncio.subprocess.Process, signum: int) -> int:
    process.send_signal(signum)
    return await asyncio.wait_for(process.wait(), DEADLINE)


async def test_migrate_creates_the_tables(sqlite_url: str, environment: dict[str, str]) -> None:
    async with inventory_process("migrate", environment) as process:
        line = await line_starting(process, "inventory schema: ")
        assert line.startswith(
            "inventory schema: applied inventory_0001, inventory_0002, inventory_0003, "
            "inventory_0004, "
        )
        assert await asyncio.wait_for(process.wait(), DEADLINE) == 0
    async with inventory_process("migrate", environment) as process:
        line = await line_starting(process, "inventory schema: ")
        assert line == "inventory schema: already at head cqrs_sqla_0004, inventory_0004"
        assert await asyncio.wait_for(process.wait(), DEADLINE) == 0
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    assert {"stock", "reservations", "outbox", "inbox"} <= set(names)


@pytest.mark.parametrize("command", ["serve", "relay"])
async def test_a_database_behind_stops_the_command_unless_it_may_migrate(
    sqlite_url: str, environment: dict[str, str], command: str
) -> None:
    told_not_to = {**environment, "INVENTORY_MIGRATE_ON_START": "false"}
    async with inventory_process(command, told_not_to) as process:
        _, stderr = await asyncio.wait_for(process.communicate(), DEADLINE)
    assert process.returncode == 1
    (line,) = stderr.decode().strip().splitlines()  # one line, no traceback
    assert line.startswith(f"inventory {command}: the inventory database is behind this release")
    assert line.endswith("run `inventory migrate`, or set INVENTORY_MIGRATE_ON_START=true")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_serve_says_where_it_listens_and_stops_cleanly_on_a_signal(
    environment: dict[str, str], signum: int
) -> None:
    async with inventory_process("serve", environment) as process:
        line = await line_starting(process, "inventory listening on ")
        url = line.removeprefix("inventory listening on ").split(" ")[0]
        async with httpx.AsyncClient(base_url=url) as client:
            health = await client.get("/health")
        assert (health.status_code, health.json()["status"]) == (200, "ok")
        assert await stopped(process, signum) == 0


async def test_relay_publishes_the_replies_and_stops_cleanly(
    sqlite_url: str, environment: dict[str, str], kafka_bootstrap_servers: str, kafka_topic: str
) -> None:
    engine = create_engine(sqlite_url)
    try:
        schema = Schema()
        await create_schema(engine, schema)
        outbox = SqlAlchemyOutboxedEventRepository(async_sessionmaker(engine), schema=schema)
        async with SqlUnitOfWorkFactory(outbox, kafka_topic)() as work:
            work.replies.stock_reserved("o-1")
    finally:
        await engine.dispose()
    async with inventory_process("relay", environment) as process:
        await line_starting(process, "inventory relay publishing to ")
        (record,) = await read_records(kafka_bootstrap_servers, kafka_topic, 1)
        assert record.key == b"o-1"
        assert await stopped(process, signal.SIGTERM) == 0


@pytest.mark.parametrize("command", ["serve", "relay", "migrate"])
async def test_a_bad_setting_ends_the_command_with_a_line_saying_what_to_fix(
    environment: dict[str, str], command: str
) -> None:
    environment["INVENTORY_PORT"] = "eighty"
    async with inventory_process(command, environment) as process:
        _, stderr = await asyncio.wait_for(process.communicate(), DEADLINE)
    assert process.returncode == 1
    assert (
        stderr.decode()
        .strip()
        .endswith(
            f"inventory {command}: INVENTORY_PORT='eighty' is not valid: "
            "Input should be a valid integer, unable to parse string as an integer"
        )
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1", "no Kafka broker answered at 127.0.0.1:1"),
        ("KAFKA_SECURITY_PROTOCOL", "SASL_SSL", "SASL_SSL needs KAFKA_SASL_MECHANISM"),
    ],
    ids=["no-broker", "security"],
)
async def test_relay_without_a_usable_broker_ends_with_a_line_saying_so(
    environment: dict[str, str], variable: str, value: str, message: str
) -> None:
    environment[variable] = value
    async with inventory_process("relay", environment) as process:
        _, stderr = await asyncio.wait_for(process.communicate(), DEADLINE)
    assert process.returncode == 1
    assert f"inventory relay: {message}" in stderr.decode()
    assert "Traceback" not in stderr.decode()
