from __future__ import annotations

import io
import os
import pathlib
import sys

import pytest

from cqrs_demo.errors import StartupError
from cqrs_demo.health import wait_until_healthy
from cqrs_demo.processes import Supervisor
from cqrs_kafka.local import free_port

FAKE_SERVICE = str(pathlib.Path(__file__).with_name("fake_service.py"))


def start_fake_inventory(
    supervisor: Supervisor, port: int, **environment: str
) -> tuple[str, Supervisor]:
    env = {**os.environ, "INVENTORY_PORT": str(port), **environment}
    supervisor.start("inventory", [sys.executable, FAKE_SERVICE, "inventory", "serve"], env)
    return f"http://127.0.0.1:{port}/health", supervisor


def test_returns_once_the_service_answers_200() -> None:
    with Supervisor(output=io.StringIO()) as supervisor:
        url, _ = start_fake_inventory(supervisor, free_port())
        wait_until_healthy(supervisor["inventory"], url, timeout=30)
        assert supervisor["inventory"].wait_for_output('GET /health HTTP/1.1" 200', 5)


def test_a_child_that_exits_is_named_with_its_output() -> None:
    with Supervisor(output=io.StringIO()) as supervisor:
        url, _ = start_fake_inventory(supervisor, free_port(), FAKE_CRASH="inventory")
        with pytest.raises(StartupError) as raised:
            wait_until_healthy(supervisor["inventory"], url, timeout=30)
    message = str(raised.value)
    assert message.startswith("inventory exited with code 3 before answering GET")
    assert "inventory crashing on purpose" in message


def test_an_unhealthy_answer_until_the_deadline_is_quoted() -> None:
    with Supervisor(output=io.StringIO()) as supervisor:
        url, _ = start_fake_inventory(supervisor, free_port(), FAKE_HEALTH_STATUS="503")
        # Listening first, so the one second is spent on 503 answers, not on start-up.
        assert supervisor["inventory"].wait_for_output("inventory listening on", 30)
        with pytest.raises(StartupError, match="within 1s") as raised:
            wait_until_healthy(supervisor["inventory"], url, timeout=1)
    assert "(last answer: HTTP 503" in str(raised.value)
    assert "inventory listening on" in str(raised.value)
