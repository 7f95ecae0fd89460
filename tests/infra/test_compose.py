"""infra/docker-compose.yml, checked without Docker: what `docker compose up` relies on."""

from __future__ import annotations

import pathlib
import re
import typing

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
COMPOSE_FILE = INFRA / "docker-compose.yml"

Service = dict[str, typing.Any]


@pytest.fixture(scope="module")
def services() -> dict[str, Service]:
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    return compose["services"]


def built(services: dict[str, Service]) -> dict[str, Service]:
    """The services built from this repository (the Python ones)."""
    return {name: service for name, service in services.items() if "build" in service}


def package_of(service: Service) -> str:
    """The Python package a built service runs: services/<package>/Dockerfile."""
    return pathlib.PurePosixPath(service["build"]["dockerfile"]).parent.name


def section(service: Service, name: str) -> dict[str, typing.Any]:
    """A mapping section of a service (`environment`, `depends_on`...), empty if absent."""
    found: dict[str, typing.Any] = service.get(name) or {}
    return found


def environment(service: Service) -> dict[str, str]:
    return {name: str(value) for name, value in section(service, "environment").items()}


def test_the_expected_services_are_there(services: dict[str, Service]) -> None:
    assert set(services) == {
        "kafka",
        "postgres",
        "orders",
        "orders-relay",
        "inventory",
        "inventory-relay",
    }


def test_every_build_context_and_dockerfile_exists(services: dict[str, Service]) -> None:
    assert set(built(services)) == {"orders", "orders-relay", "inventory", "inventory-relay"}
    for name, service in built(services).items():
        context = (INFRA / service["build"]["context"]).resolve()
        assert context == ROOT, f"{name}: the build context must be the repository root"
        dockerfile = context / service["build"]["dockerfile"]
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"


def test_servers_and_relays_run_the_contract_commands(services: dict[str, Service]) -> None:
    for name, service in built(services).items():
        verb = "relay" if name.endswith("-relay") else "serve"
        assert service["command"] == ["python", "-m", package_of(service), verb], name


def test_every_variable_a_service_sets_is_read_by_its_settings(
    services: dict[str, Service],
) -> None:
    for name, service in built(services).items():
        package = package_of(service)
        settings = ROOT / "services" / package / "src" / package / "settings.py"
        assert settings.is_file(), f"{name}: {settings} does not exist"
        source = settings.read_text()
        for variable in environment(service):
            assert re.search(rf"[\"']{variable}[\"']", source), (
                f"{name} sets {variable}, which {settings.relative_to(ROOT)} never reads"
            )


def test_every_service_has_a_healthcheck(services: dict[str, Service]) -> None:
    for name, service in services.items():
        healthcheck = section(service, "healthcheck")
        assert healthcheck.get("test"), f"{name} has no healthcheck"
        assert not healthcheck.get("disable"), f"{name} disables its healthcheck"
        assert healthcheck["test"][0] in {"CMD", "CMD-SHELL"}, name


def test_dependencies_exist_and_are_waited_for_until_healthy(
    services: dict[str, Service],
) -> None:
    for name, service in services.items():
        for dependency, condition in section(service, "depends_on").items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert condition == {"condition": "service_healthy"}, f"{name} -> {dependency}"
    for name in ("orders", "inventory"):
        assert set(services[name]["depends_on"]) == {"kafka", "postgres"}
        assert set(services[f"{name}-relay"]["depends_on"]) == {name}


def published_ports(service: Service) -> list[tuple[int, int]]:
    """(host port, container port) of each `ports` entry, for "[ip:]host:container"."""
    ports: list[tuple[int, int]] = []
    entries: list[object] = service.get("ports") or []
    for entry in entries:
        *_, host, container = str(entry).split(":")
        ports.append((int(host), int(container)))
    return ports


def test_published_host_ports_do_not_collide(services: dict[str, Service]) -> None:
    host_ports = [host for service in services.values() for host, _ in published_ports(service)]
    assert len(host_ports) == len(set(host_ports)), sorted(host_ports)


def test_servers_listen_on_all_interfaces_on_their_published_port(
    services: dict[str, Service],
) -> None:
    for name, default_port in (("orders", 8000), ("inventory", 8001)):
        service = services[name]
        env = environment(service)
        prefix = name.upper()
        assert env[f"{prefix}_HOST"] == "0.0.0.0"
        assert env[f"{prefix}_PORT"] == str(default_port)
        assert published_ports(service) == [(default_port, default_port)]
        assert f"http://127.0.0.1:{default_port}/health" in " ".join(service["healthcheck"]["test"])


def test_kafka_runs_alone_on_localhost_9092(services: dict[str, Service]) -> None:
    kafka = services["kafka"]
    env = environment(kafka)
    assert "depends_on" not in kafka
    assert kafka["image"].startswith("apache/kafka:3.9.")
    assert published_ports(kafka) == [(9092, 9092)]
    listeners = dict(item.split("://") for item in env["KAFKA_LISTENERS"].split(","))
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert listeners["EXTERNAL"] == ":9092"
    assert advertised["EXTERNAL"] == "localhost:9092"
    assert listeners["INTERNAL"] == ":19092"
    assert advertised["INTERNAL"] == "kafka:19092"
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "kafka-broker-api-versions.sh" in " ".join(kafka["healthcheck"]["test"])


def test_services_reach_kafka_and_postgres_by_container_name(
    services: dict[str, Service],
) -> None:
    create_script = (INFRA / "postgres" / "create-databases.sql").read_text()
    postgres_volumes = services["postgres"]["volumes"]
    assert "./postgres:/docker-entrypoint-initdb.d:ro" in postgres_volumes
    for name, service in built(services).items():
        env = environment(service)
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:19092", name
        url = env[f"{package_of(service).upper()}_DATABASE_URL"]
        match = re.fullmatch(r"postgresql\+asyncpg://postgres:postgres@postgres:5432/(\w+)", url)
        assert match, f"{name}: {url}"
        assert f"CREATE DATABASE {match[1]};" in create_script, name
