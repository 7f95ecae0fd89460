"""`cqrs-demo` itself: the real services, SQLite files, a local broker, one order, Ctrl-C."""

from __future__ import annotations

import io
import os
import pathlib
import re
import signal
import sys
import time

import httpx

from cqrs_demo import ChildProcess
from cqrs_kafka.local import broker_answers, free_ports

CQRS_DEMO = str(pathlib.Path(sys.executable).with_name("cqrs-demo"))
STARTUP = 120.0
# The developer's shell must not point the demo elsewhere.
IGNORED_ENVIRONMENT = {"KAFKA_BOOTSTRAP_SERVERS", "ORDERS_DATABASE_URL", "INVENTORY_DATABASE_URL"}


class DemoRun:
    """One `cqrs-demo` process on free ports; its whole output is kept."""

    def __init__(self, data_dir: pathlib.Path) -> None:
        self.broker_port, orders_port, inventory_port = free_ports(3)
        self.orders = f"http://127.0.0.1:{orders_port}"
        self.inventory = f"http://127.0.0.1:{inventory_port}"
        self.output = io.StringIO()
        argv = [
            CQRS_DEMO,
            f"--data-dir={data_dir}",
            f"--orders-port={self.orders.rsplit(':', 1)[1]}",
            f"--inventory-port={self.inventory.rsplit(':', 1)[1]}",
            f"--broker-port={self.broker_port}",
        ]
        env = {key: value for key, value in os.environ.items() if key not in IGNORED_ENVIRONMENT}
        self.process = ChildProcess("cqrs-demo", argv, env=env, output=self.output)

    def lines(self) -> list[str]:
        """The demo's own lines (its children's come prefixed with their names)."""
        return [line.split("| ", 1)[1] for line in self.output.getvalue().splitlines()]

    def __enter__(self) -> DemoRun:
        self.process.start()
        assert self.process.wait_for_output("Ctrl-C stops everything", STARTUP), self.process.tail()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.process.send_signal(signal.SIGINT)
        assert self.process.exited.wait(60), self.process.tail()
        assert self.process.returncode == 0, self.process.tail()
        assert self.lines()[-1] == "cqrs-demo: stopped."


def test_the_demo_serves_orders_and_stops_on_ctrl_c(tmp_path: pathlib.Path) -> None:
    with DemoRun(tmp_path / "data") as demo:
        assert f"The reference system is up. Orders page: {demo.orders}/" in demo.lines()
        assert httpx.get(f"{demo.inventory}/stock/tea").json()["available"] == 100
        page = httpx.get(f"{demo.orders}/")
        assert page.status_code == 200
        assert 'id="order-form"' in page.text

        # The banner's "try this" line, as a user would paste it.
        curl_line = next(line for line in demo.lines() if line.startswith("Try: curl"))
        body = re.search(r"-d '(.*)'$", curl_line)
        assert body
        placed = httpx.post(
            f"{demo.orders}/orders", content=body[1], headers={"content-type": "application/json"}
        )
        assert placed.status_code == 202
        order_url = f"{demo.orders}{placed.headers['location']}"
        events = httpx.get(f"{order_url}/events", timeout=60).text  # ends with the saga
        assert "event: status" in events
        assert httpx.get(order_url).json()["status"] == "confirmed"

    assert not broker_answers("127.0.0.1", demo.broker_port)
    for url in (demo.orders, demo.inventory):
        try:
            httpx.get(f"{url}/health", timeout=2)
        except httpx.ConnectError:
            continue
        raise AssertionError(f"{url} still answers after the demo stopped")

    # A second run on the same data keeps the stock the first run left.
    with DemoRun(tmp_path / "data") as demo:
        assert not any(line.startswith("cqrs-demo: restocked") for line in demo.lines())
        tea = httpx.get(f"{demo.inventory}/stock/tea").json()
        # The first run's order holds its 2 units, or sold them once confirmed.
        assert (tea["available"], tea["reserved"] + tea["sold"]) == (98, 2)


def test_start_up_prints_one_line_per_process_and_where_to_look(tmp_path: pathlib.Path) -> None:
    with DemoRun(tmp_path / "data") as demo:
        lines = demo.lines()
        before_banner = lines[
            : lines.index(f"The reference system is up. Orders page: {demo.orders}/")
        ]
        process_lines = [line for line in before_banner if "| " in line]
        names = sorted(line.split("|")[0].strip() for line in process_lines)
        expected = ["inventory", "inventory-relay", "kafka", "orders", "orders-relay"]
        assert names == expected, before_banner
        for unwanted in ("Traceback", "Warning", "aiokafka", "\x1b["):
            assert unwanted not in demo.output.getvalue()

        consoles = next(line for line in demo.lines() if line.startswith("Admin consoles:"))
        printed = next(line for line in demo.lines() if line.startswith("Operator token"))
        token = re.fullmatch(r"Operator token \(restock, admin consoles\): (\S+)", printed)
        assert token
        authorized = {"Authorization": f"Bearer {token[1]}"}
        for base in (demo.orders, demo.inventory):
            assert f"{base}/admin/" in consoles
            assert httpx.get(f"{base}/admin/outbox/stats").status_code == 401
            assert httpx.get(f"{base}/admin/outbox/stats", headers=authorized).status_code == 200
        # Restocking answers the printed token only.
        restock = f"{demo.inventory}/stock/tea/restock"
        assert httpx.post(restock, json={"quantity": 1}).status_code == 401
        assert httpx.post(restock, json={"quantity": 1}, headers=authorized).status_code == 200


def test_a_process_killed_with_sigkill_is_started_again_and_the_system_heals(
    tmp_path: pathlib.Path,
) -> None:
    with DemoRun(tmp_path / "data") as demo:
        for name in ("orders", "inventory-relay"):
            pid = process_id(demo, name)
            os.kill(pid, signal.SIGKILL)
            restarted = f"cqrs-demo: {name} was killed by SIGKILL; restarting it in 0.5s"
            assert demo.process.wait_for_output(restarted, STARTUP), demo.process.tail()
            deadline = time.monotonic() + STARTUP
            while process_id(demo, name) == pid:
                assert time.monotonic() < deadline, demo.process.tail()
                time.sleep(0.1)  # a poll with a deadline: the restarted process's ready line

        # Both services answer again, and an order placed now still ends.
        order = {"customer_id": "bob", "items": [{"sku": "cup", "quantity": 1, "unit_price": "3"}]}
        placed = httpx.post(f"{demo.orders}/orders", json=order, timeout=30)
        assert placed.status_code == 202
        order_url = f"{demo.orders}{placed.headers['location']}"
        httpx.get(f"{order_url}/events", timeout=120)  # ends with the saga
        assert httpx.get(order_url).json()["status"] == "confirmed"
        cup = httpx.get(f"{demo.inventory}/stock/cup").json()
        assert cup["available"] == 19


def process_id(demo: DemoRun, name: str) -> int:
    """The pid the child `name` printed in its last ready line."""
    output = "\n".join(demo.lines())
    pids = re.findall(rf"^{re.escape(name)} *\|.*\(pid (\d+)\)$", output, re.M)
    assert pids, demo.process.tail()
    return int(pids[-1])
