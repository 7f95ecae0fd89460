from __future__ import annotations

import io
import os
import pathlib
import sys

from cqrs_demo.health import wait_until_healthy
from cqrs_demo.processes import Supervisor
from cqrs_demo.seed import restock_new_skus
from cqrs_demo.webapi import call_json
from cqrs_kafka.local import free_port
from servicekit.auth import new_token

FAKE_SERVICE = str(pathlib.Path(__file__).with_name("fake_service.py"))


def test_only_unknown_skus_are_restocked() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    token = new_token()
    env = {
        **os.environ,
        "INVENTORY_PORT": str(port),
        "OPERATOR_TOKENS": f"ops:{token}:stock.restock",
    }
    with Supervisor(output=io.StringIO()) as supervisor:
        argv = [sys.executable, FAKE_SERVICE, "inventory", "serve"]
        child = supervisor.start("inventory", argv, env)
        wait_until_healthy(child, f"{url}/health", timeout=30)
        operator = {"Authorization": f"Bearer {token}"}
        call_json("POST", f"{url}/stock/cup/restock", {"quantity": 3}, headers=operator)

        assert restock_new_skus(url, {"tea": 100, "cup": 20}, token) == {"tea": 100}
        assert restock_new_skus(url, {"tea": 100, "cup": 20}, token) == {}

        assert call_json("GET", f"{url}/stock/tea")[1]["available"] == 100
        assert call_json("GET", f"{url}/stock/cup")[1]["available"] == 3
