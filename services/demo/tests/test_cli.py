"""`cqrs-demo` run as a process, on fake services (see fake_service.py)."""

from __future__ import annotations

import io
import os
import pathlib
import re
import signal
import socket
import sys
import time

import pytest

from cqrs_demo.processes import ChildProcess
from cqrs_kafka.local import broker_answers, free_ports
from servicekit.auth import MIN_TOKEN_LENGTH

CQRS_DEMO = str(pathlib.Path(sys.executable).with_name("cqrs-demo"))
WAIT = 60.0
CONFIGURED_BY_ENVIRONMENT = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "ORDERS_DATABASE_URL",
    "INVENTORY_DATABASE_URL",
)


class Demo:
    """One `cqrs-demo` run, its output kept whole."""

    def __init__(
        self,
        tmp_path: pathlib.Path,
        fake_services_path: str,
        startup_timeout: float = 20.0,
        **environment: str,
    ) -> None:
        self.data_dir = tmp_path / "data"
        self.orders_port, inventory_port, self.broker_port = free_ports(3)
        self.output = io.StringIO()
        env = {**os.environ, "PYTHONPATH": fake_services_path, **environment}
        # What the test does not set must not leak in from the developer's shell.
        for variable in CONFIGURED_BY_ENVIRONMENT:
            if variable not in environment:
                env.pop(variable, None)
        argv = [
            CQRS_DEMO,
            f"--data-dir={self.data_dir}",
            f"--orders-port={self.orders_port}",
            f"--inventory-port={inventory_port}",
            f"--broker-port={self.broker_port}",
            f"--startup-timeout={startup_timeout}",
        ]
        self.process = ChildProcess("demo", argv, env=env, output=self.output)

    def lines(self) -> list[str]:
        return [line.split("| ", 1)[1] for line in self.output.getvalue().splitlines()]

    def start_and_wait_until_up(self) -> None:
        """Start, and wait until the banner is out and both relays run (a relay stopped
        before its SIGTERM handler is installed would die silently)."""
        self.process.start()
        for text in (
            "Ctrl-C stops everything",
            "orders relay publishing",
            "inventory relay publishing",
        ):
            assert self.process.wait_for_output(text, WAIT), self.process.tail()

    def wait(self) -> int | None:
        assert self.process.exited.wait(WAIT), self.process.tail()
        return self.process.returncode


@pytest.fixture
def demo(tmp_path: pathlib.Path, fake_services_path: str) -> Demo:
    return Demo(tmp_path, fake_services_path)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_stops_everything_and_exits_0(demo: Demo, signum: int) -> None:
    demo.start_and_wait_until_up()
    assert broker_answers("127.0.0.1", demo.broker_port)

    demo.process.send_signal(signum)

    assert demo.wait() == 0
    lines = demo.lines()
    assert lines[-1] == "cqrs-demo: stopped."
    for goodbye in ("orders relay", "inventory relay", "orders serve", "inventory serve"):
        assert any(line.endswith(f"| {goodbye} got SIGTERM") for line in lines), goodbye
    assert not broker_answers("127.0.0.1", demo.broker_port)
    stopping = [line.split("|")[0].strip() for line in lines if "got SIGTERM" in line]
    assert stopping == ["orders-relay", "inventory-relay", "orders", "inventory"]


def test_the_banner_names_the_orders_page_and_the_first_run_restocks(demo: Demo) -> None:
    demo.start_and_wait_until_up()
    demo.process.send_signal(signal.SIGINT)
    assert demo.wait() == 0
    lines = demo.lines()
    assert "cqrs-demo: restocked tea 100, cup 20, kettle 5" in lines
    assert f"The reference system is up. Orders page: http://127.0.0.1:{demo.orders_port}/" in lines
    assert any(line.startswith("Try: curl") and "/orders" in line for line in lines)
    # The fake inventory restocked with the launcher's token (it refuses any other):
    # the banner prints that token, for the restock command and the admin consoles.
    [token] = [line.rpartition(": ")[2] for line in lines if line.startswith("Operator token")]
    assert len(token) >= MIN_TOKEN_LENGTH
    assert any(line.startswith("Restock: curl") and f"Bearer {token}" in line for line in lines)


def test_databases_default_to_sqlite_files_in_the_data_dir(demo: Demo) -> None:
    demo.start_and_wait_until_up()
    demo.process.send_signal(signal.SIGINT)
    assert demo.wait() == 0
    data_dir = demo.data_dir.resolve()
    lines = demo.lines()
    for variable, file in (("ORDERS", "orders.db"), ("INVENTORY", "inventory.db")):
        url = f"sqlite+aiosqlite:///{data_dir}/{file}"
        assert f"orders         | env {variable}_DATABASE_URL={url}" in lines


def test_database_urls_and_an_external_broker_come_from_the_environment(
    tmp_path: pathlib.Path, fake_services_path: str
) -> None:
    demo = Demo(
        tmp_path,
        fake_services_path,
        ORDERS_DATABASE_URL="postgresql+asyncpg://db/orders",
        KAFKA_BOOTSTRAP_SERVERS="kafka.example:9092",
    )
    demo.start_and_wait_until_up()
    demo.process.send_signal(signal.SIGINT)
    assert demo.wait() == 0
    lines = demo.lines()
    assert "orders         | env ORDERS_DATABASE_URL=postgresql+asyncpg://db/orders" in lines
    assert "orders         | env KAFKA_BOOTSTRAP_SERVERS=kafka.example:9092" in lines
    assert not any(line.startswith("kafka ") for line in lines)


def test_a_child_killed_once_the_system_is_up_is_started_again(demo: Demo) -> None:
    demo.start_and_wait_until_up()
    (first,) = re.findall(r"orders relay publishing to .* as pid (\d+)", demo.output.getvalue())

    os.kill(int(first), signal.SIGKILL)

    restarted = "cqrs-demo: orders-relay was killed by SIGKILL; restarting it in 0.5s"
    assert demo.process.wait_for_output(restarted, WAIT), demo.process.tail()
    deadline = time.monotonic() + WAIT
    while len(re.findall(r"orders relay publishing to .* as pid", demo.output.getvalue())) < 2:
        assert time.monotonic() < deadline, demo.process.tail()
        time.sleep(0.05)  # a poll with a deadline: the relay's second start line
    (_, second) = re.findall(r"orders relay publishing to .* as pid (\d+)", demo.output.getvalue())
    assert second != first
    demo.process.send_signal(signal.SIGINT)
    assert demo.wait() == 0


def test_a_child_crashing_before_the_system_is_up_stops_the_demo_with_exit_1(
    tmp_path: pathlib.Path, fake_services_path: str
) -> None:
    demo = Demo(tmp_path, fake_services_path, FAKE_CRASH="orders-relay")
    demo.process.start()
    assert demo.wait() == 1
    output = "\n".join(demo.lines())
    assert "cqrs-demo: orders-relay exited with code 3. Its last output:" in output
    assert "orders serve got SIGTERM" in output
    assert "inventory serve got SIGTERM" in output


def test_a_service_that_never_gets_healthy_fails_the_start_naming_it(
    tmp_path: pathlib.Path, fake_services_path: str
) -> None:
    # An external broker address (the fakes never use it): only the health wait is timed.
    demo = Demo(
        tmp_path,
        fake_services_path,
        startup_timeout=3,
        FAKE_HEALTH_STATUS="503",
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9",
    )
    demo.process.start()
    assert demo.wait() == 1
    output = "\n".join(demo.lines())
    assert "cqrs-demo: inventory did not answer GET" in output
    assert "last answer: HTTP 503" in output
    assert "inventory serve got SIGTERM" in output


def test_a_broker_port_in_use_fails_the_start_naming_the_broker(demo: Demo) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", demo.broker_port))
        taken.listen()
        demo.process.start()
        assert demo.wait() == 1
    output = "\n".join(demo.lines())
    assert f"cqrs-demo: the local broker did not start on port {demo.broker_port}" in output
    assert not any(line.startswith(("orders ", "inventory ")) for line in demo.lines())
