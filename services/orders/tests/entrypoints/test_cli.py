"""`python -m orders serve|relay|migrate` as real processes, stopped by signals."""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import os
import pathlib
import re
import signal
import sqlite3
import subprocess
import sys

import httpx
import pytest

from cqrs.signing import new_secret
from cqrs_kafka.local import free_ports
from cqrs_sqla.testing import throwaway_postgres_database

STARTUP = 90.0  # seconds: joining the consumer group can take a while on the local broker
SHUTDOWN = 30.0
ORDER = {"customer_id": "c-1", "items": [{"sku": "tea", "quantity": 1, "unit_price": "1.00"}]}


class Child:
    """A child process whose merged output is read line by line, and kept."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._new_line = asyncio.Condition()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, command: str, env: dict[str, str]) -> Child:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "orders",
            command,
            env={**os.environ, **env},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            async with self._new_line:
                self.lines.append(raw.decode(errors="replace").rstrip())
                self._new_line.notify_all()
        async with self._new_line:
            self._new_line.notify_all()

    async def wait_for_line(self, pattern: str, timeout: float = STARTUP) -> re.Match[str]:
        """The first output line matching `pattern`; fails after `timeout` seconds."""

        def found() -> re.Match[str] | None:
            return next(filter(None, (re.search(pattern, line) for line in self.lines)), None)

        async with self._new_line:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(
                    self._new_line.wait_for(lambda: found() or self._reader.done()), timeout
                )
        match = found()
        assert match, f"no line matching {pattern!r}; output:\n" + "\n".join(self.lines[-40:])
        return match

    async def stop(self, signum: int) -> int:
        """Send `signum`; return the exit status."""
        self.process.send_signal(signum)
        status = await asyncio.wait_for(self.process.wait(), SHUTDOWN)
        await self._reader
        return status

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        await self._reader


@pytest.fixture
def env(tmp_path: pathlib.Path, kafka_bootstrap_servers: str) -> dict[str, str]:
    return {
        "ORDERS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}",
        "ORDERS_HOST": "127.0.0.1",
        "ORDERS_PORT": "0",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
        # Signing is on, as in production: the processes refuse to start without keys.
        "CQRS_SIGNING_KEYS": f"k1:{new_secret()}",
        "CQRS_SIGNING_KEY_ID": "k1",
    }


@contextlib.asynccontextmanager
async def running(command: str, env: dict[str, str]) -> collections.abc.AsyncGenerator[Child, None]:
    child = await Child.start(command, env)
    try:
        yield child
    finally:
        await child.kill()


async def read_until(lines: collections.abc.AsyncIterator[str], wanted: str | None) -> None:
    """Read `lines` up to the line `wanted`, or to their end when it is `None`."""
    async for line in lines:
        if line == wanted:
            return


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_serve_announces_itself_serves_and_stops_cleanly(
    env: dict[str, str], signum: int
) -> None:
    async with running("serve", env) as child:
        match = await child.wait_for_line(
            r"^orders listening on (http://127\.0\.0\.1:\d+) \(pid \d+\)$"
        )
        # Operators see which loop and parser the process runs on: uvloop and httptools.
        await child.wait_for_line(
            r"orders: event loop uvloop [\d.]+, HTTP parser httptools [\d.]+$"
        )
        async with httpx.AsyncClient(base_url=match[1], timeout=10) as client:
            health = await client.get("/health")
            assert (health.status_code, health.json()) == (
                200,
                {"status": "ok", "database": "ok", "broker": "ok", "consumer": "ok"},
            )
            placed = await client.post("/orders", json=ORDER)
            assert placed.status_code == 202
            # Nobody answers the reserve command: the stream stays open until the stop.
            async with client.stream("GET", placed.headers["location"] + "/events") as events:
                lines = events.aiter_lines()
                await asyncio.wait_for(read_until(lines, "id: 2"), 10)

                assert await child.stop(signum) == 0
                # The stream ends with the server instead of holding its shutdown.
                await asyncio.wait_for(read_until(lines, None), SHUTDOWN)

    assert "Traceback" not in "\n".join(child.lines)


async def test_serve_runs_on_the_standard_loop_and_h11_when_told(env: dict[str, str]) -> None:
    told = {**env, "EVENT_LOOP": "asyncio", "HTTP_PARSER": "h11"}
    async with running("serve", told) as child:
        match = await child.wait_for_line(r"^orders listening on (http://127\.0\.0\.1:\d+) ")
        await child.wait_for_line(
            r"orders: event loop asyncio \(standard library\), HTTP parser h11 [\d.]+$"
        )
        async with httpx.AsyncClient(base_url=match[1], timeout=10) as client:
            assert (await client.post("/orders", json=ORDER)).status_code == 202

        assert await child.stop(signal.SIGTERM) == 0
    assert not [line for line in child.lines if "uvloop" in line or "httptools" in line]


@pytest.mark.parametrize(
    ("event_loop", "said"),
    [(None, r"uvloop [\d.]+"), ("asyncio", r"asyncio \(standard library\)")],
    ids=["default", "EVENT_LOOP=asyncio"],
)
async def test_relay_runs_until_stopped(
    env: dict[str, str], event_loop: str | None, said: str
) -> None:
    told = env if event_loop is None else {**env, "EVENT_LOOP": event_loop}
    async with running("relay", told) as child:
        await child.wait_for_line(r"^orders relay publishing to ")
        await child.wait_for_line(rf"orders relay publishing to \S+: event loop {said}$")

        assert await child.stop(signal.SIGTERM) == 0


async def test_relay_serves_its_metrics_on_the_prometheus_port(env: dict[str, str]) -> None:
    (port,) = free_ports(1)
    metrics_env = {**env, "OTEL_EXPORTER_PROMETHEUS_PORT": str(port)}
    async with running(
        "relay", {**metrics_env, "OTEL_EXPORTER_PROMETHEUS_HOST": "127.0.0.1"}
    ) as child:
        await child.wait_for_line(r"^orders relay publishing to ")
        async with httpx.AsyncClient(timeout=10) as client:
            scraped = await client.get(f"http://127.0.0.1:{port}/metrics")

        # Prometheus's text format (empty until the relay has published something).
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert await child.stop(signal.SIGTERM) == 0


async def test_a_bad_otel_variable_stops_serve_with_one_line(env: dict[str, str]) -> None:
    async with running("serve", {**env, "OTEL_TRACES_EXPORTER": "jaeger"}) as child:
        assert await asyncio.wait_for(child.process.wait(), STARTUP) == 1
        await child.wait_for_line(r"^orders serve: OTEL_TRACES_EXPORTER='jaeger' is not supported")


async def test_migrate_creates_the_tables_and_exits(env: dict[str, str]) -> None:
    async with running("migrate", env) as child:
        assert await asyncio.wait_for(child.process.wait(), STARTUP) == 0
        await child.wait_for_line(r"^orders schema: applied orders_0001, orders_0002, .*; now at ")
    async with running("migrate", env) as child:
        assert await asyncio.wait_for(child.process.wait(), STARTUP) == 0
        await child.wait_for_line(r"^orders schema: already at head cqrs_sqla_0004, orders_0002$")

    database = env["ORDERS_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///")
    with contextlib.closing(sqlite3.connect(database)) as connection:
        names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"orders", "order_items", "outbox", "inbox", "saga", "saga_log"} <= names


@pytest.fixture
def postgres_url() -> collections.abc.Iterator[str]:
    """An empty PostgreSQL database of the test's own."""
    with throwaway_postgres_database("orders_migrate") as url:
        yield url


async def test_two_migrate_processes_at_once_upgrade_the_database_once(
    env: dict[str, str], postgres_url: str
) -> None:
    both = {**env, "ORDERS_DATABASE_URL": postgres_url}
    async with running("migrate", both) as first, running("migrate", both) as second:
        codes = await asyncio.gather(
            *(asyncio.wait_for(child.process.wait(), STARTUP) for child in (first, second))
        )
        reports = [
            (await child.wait_for_line(r"^orders schema: (applied|already) ")).group(1)
            for child in (first, second)
        ]

    # One took the schema lock and upgraded; the other waited and found it done.
    assert codes == [0, 0]
    assert sorted(reports) == ["already", "applied"]


@pytest.mark.parametrize("command", ["serve", "relay"])
async def test_a_database_behind_stops_the_command_unless_it_may_migrate(
    env: dict[str, str], command: str
) -> None:
    async with running(command, {**env, "ORDERS_MIGRATE_ON_START": "false"}) as child:
        assert await asyncio.wait_for(child.process.wait(), STARTUP) == 1
        await child.wait_for_line(
            rf"^orders {command}: the orders database is behind this release .*"
            r"run `orders migrate`, or set ORDERS_MIGRATE_ON_START=true$"
        )
    assert "Traceback" not in "\n".join(child.lines), child.lines


async def test_a_bad_setting_stops_the_command_with_a_message(env: dict[str, str]) -> None:
    async with running("migrate", {**env, "ORDERS_PORT": "eighty"}) as child:
        assert await asyncio.wait_for(child.process.wait(), STARTUP) == 1
        await child.wait_for_line(r"^orders migrate: ORDERS_PORT='eighty' is not valid: ")


async def test_an_unknown_event_loop_stops_the_command_with_a_message(env: dict[str, str]) -> None:
    async with running("migrate", {**env, "EVENT_LOOP": "trio"}) as child:
        assert await asyncio.wait_for(child.process.wait(), STARTUP) == 1
        await child.wait_for_line(r"^orders migrate: EVENT_LOOP='trio' is not valid: ")


async def test_kafka_security_that_cannot_work_stops_serve_with_one_line(
    env: dict[str, str],
) -> None:
    async with running("serve", {**env, "KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}) as child:
        assert await asyncio.wait_for(child.process.wait(), STARTUP) == 1
        await child.wait_for_line(r"^orders serve: SASL_SSL needs KAFKA_SASL_MECHANISM")

    assert "Traceback" not in "\n".join(child.lines), child.lines


async def test_a_broker_that_is_down_stops_serve_with_one_line(env: dict[str, str]) -> None:
    # Port 1 on the loopback: nothing listens, so every connection is refused at once.
    async with running("serve", {**env, "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}) as child:
        assert await asyncio.wait_for(child.process.wait(), STARTUP) == 1
        await child.wait_for_line(r"^orders serve: .*127\.0\.0\.1:1")

    assert "Traceback" not in "\n".join(child.lines), child.lines


@pytest.mark.parametrize("command", ["serve", "relay", "migrate"])
def test_each_command_has_help_and_the_script_has_a_version(command: str) -> None:
    script = pathlib.Path(sys.executable).with_name("orders")
    helped = subprocess.run(
        [str(script), command, "--help"], capture_output=True, text=True, check=False
    )
    version = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, check=False
    )

    assert (helped.returncode, helped.stdout.startswith(f"usage: orders {command}")) == (0, True)
    assert (version.returncode, version.stdout.strip()) == (0, "orders 0.1.0")
