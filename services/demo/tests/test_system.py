from __future__ import annotations

import io
import urllib.error

import pytest

from cqrs_demo.processes import Supervisor
from cqrs_demo.system import PROCESSES, ReferenceSystem, SystemConfig
from cqrs_demo.webapi import call_json
from cqrs_kafka.local import free_ports


@pytest.fixture
def config(fake_services_path: str) -> SystemConfig:
    orders_port, inventory_port = free_ports(2)
    return SystemConfig(
        bootstrap_servers="127.0.0.1:19092",
        orders_database_url="sqlite+aiosqlite:///orders.db",
        inventory_database_url="postgresql+asyncpg://postgres@127.0.0.1/inventory",
        orders_port=orders_port,
        inventory_port=inventory_port,
        environment={"PYTHONPATH": fake_services_path, "ORDERS_REPLY_TIMEOUT_SECONDS": "7"},
        startup_timeout=30,
    )


def output_of(output: io.StringIO, name: str) -> list[str]:
    prefix = f"{name:<15}| "
    lines = output.getvalue().splitlines()
    return [line.removeprefix(prefix) for line in lines if line.startswith(prefix)]


def test_servers_are_healthy_before_the_relays_start(config: SystemConfig) -> None:
    output = io.StringIO()
    with Supervisor(output=output) as supervisor:
        system = ReferenceSystem(config, supervisor).start()
        assert [child.name for child in supervisor.children] == list(PROCESSES)
        for relay in ("inventory-relay", "orders-relay"):
            assert system.process(relay).wait_for_output("relay publishing to", 30)
        lines = output.getvalue().splitlines()
    relays = ("inventory-relay", "orders-relay")
    first_relay_line = min(index for index, line in enumerate(lines) if line.startswith(relays))
    health_checks = [index for index, line in enumerate(lines) if "GET /health" in line]
    checked = {lines[index].split("|")[0].strip() for index in health_checks}
    assert checked == {"inventory", "orders"}
    assert max(health_checks) < first_relay_line


def test_every_process_gets_the_contract_environment(config: SystemConfig) -> None:
    output = io.StringIO()
    with Supervisor(output=output) as supervisor:
        system = ReferenceSystem(config, supervisor).start()
        for name in PROCESSES:  # each prints the environment first, then starts
            assert system.process(name).wait_for_output("env INVENTORY_PORT=", 30), name
    expected = [
        "env KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092",
        "env ORDERS_DATABASE_URL=sqlite+aiosqlite:///orders.db",
        "env INVENTORY_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1/inventory",
        f"env ORDERS_PORT={config.orders_port}",
        f"env INVENTORY_PORT={config.inventory_port}",
    ]
    for name in PROCESSES:
        assert output_of(output, name)[: len(expected)] == expected


def test_a_restarted_server_answers_again(config: SystemConfig) -> None:
    with Supervisor(output=io.StringIO()) as supervisor:
        system = ReferenceSystem(config, supervisor).start()
        system.kill("orders")
        with pytest.raises(urllib.error.URLError, match="Connection refused"):
            call_json("GET", f"{system.url('orders')}/health", timeout=1)
        system.restart("orders")
        assert call_json("GET", f"{system.url('orders')}/health") == (200, {"status": "ok"})
        assert supervisor.crashed() == []
