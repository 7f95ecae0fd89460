"""Kafka for the cqrs-kafka tests: every test that asks for `kafka_bootstrap_servers`
runs twice, on the local Tansu broker and on Apache Kafka.

- "tansu": `$CQRS_TEST_KAFKA_BOOTSTRAP_SERVERS` when set, else the session's
  `LocalKafkaBroker` (`cqrs_kafka.testing.local_kafka`).
- "apache-kafka": the `kafka` service of infra/docker-compose.yml, started
  once per session with pytest-docker. Without a Docker engine these runs
  are skipped, with the reason shown.

Tests that pause the broker start their own `LocalKafkaBroker`.
"""

from __future__ import annotations

import os
import pathlib
import subprocess

import pytest

from cqrs_kafka.local import LocalKafkaBroker, broker_answers

pytest_plugins = ["cqrs_kafka.testing"]

COMPOSE_FILE = pathlib.Path(__file__).resolve().parents[3] / "infra" / "docker-compose.yml"
KAFKA_SERVICE = "kafka"
KAFKA_PORT = 9092
KAFKA_STARTUP_TIMEOUT = 120.0  # seconds: a cold image start, not a test's pace


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(COMPOSE_FILE)


@pytest.fixture(scope="session")
def docker_setup() -> list[str]:
    """Start only the Kafka service (and wait until it runs)."""
    return [f"up --wait {KAFKA_SERVICE}"]


def _docker_engine_problem() -> str | None:
    """Why no Docker engine can be used, or None when one answers."""
    try:
        probe = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{type(exc).__name__}: {exc}"
    if probe.returncode != 0:
        lines = (probe.stderr or probe.stdout).strip().splitlines()
        return lines[-1] if lines else f"exit code {probe.returncode}"
    return None


def _apache_kafka(request: pytest.FixtureRequest) -> str:
    problem = _docker_engine_problem()
    if problem is not None:
        pytest.skip(f"Apache Kafka run needs a Docker engine (docker info failed): {problem}")
    services = request.getfixturevalue("docker_services")
    host: str = request.getfixturevalue("docker_ip")
    port = services.port_for(KAFKA_SERVICE, KAFKA_PORT)
    services.wait_until_responsive(
        check=lambda: broker_answers(host, port), timeout=KAFKA_STARTUP_TIMEOUT, pause=0.5
    )
    return f"{host}:{port}"


@pytest.fixture(scope="session", params=["tansu", "apache-kafka"])
def kafka_bootstrap_servers(request: pytest.FixtureRequest) -> str:
    """Where this run's Kafka is (see the module docstring)."""
    if request.param == "apache-kafka":
        return _apache_kafka(request)
    # Imported here: pytest must load the plugin module first, to rewrite its asserts.
    from cqrs_kafka.testing import BOOTSTRAP_ENV

    external = os.environ.get(BOOTSTRAP_ENV)
    if external:
        return external
    local: LocalKafkaBroker = request.getfixturevalue("local_kafka")
    return local.bootstrap_servers
