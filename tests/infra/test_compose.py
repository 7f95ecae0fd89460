"""infra/docker-compose.yml, checked without Docker: what `docker compose up` relies on."""

from __future__ import annotations

import importlib
import json
import pathlib
import re
import subprocess
import sys
import typing

import pytest
import yaml

import cqrs.telemetry
from servicekit.settings import ServiceSettings
from servicekit.telemetry import telemetry_from_env

ROOT = pathlib.Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
COMPOSE_FILE = INFRA / "docker-compose.yml"

Service = dict[str, typing.Any]

# The services of the `observability` profile, and the one that cannot have a Docker
# health check: the collector's image is built FROM scratch (no shell, no HTTP client).
OBSERVABILITY = {"otel-collector", "jaeger", "prometheus", "grafana"}
WITHOUT_HEALTHCHECK = {"otel-collector"}


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
    without_profile = {name for name, service in services.items() if "profiles" not in service}
    assert without_profile == {
        "kafka",
        "postgres",
        "orders",
        "orders-relay",
        "inventory",
        "inventory-relay",
    }
    assert set(services) - without_profile == OBSERVABILITY


def test_the_observability_services_start_only_with_their_profile(
    services: dict[str, Service],
) -> None:
    for name in OBSERVABILITY:
        assert services[name]["profiles"] == ["observability"], name
        assert "build" not in services[name], f"{name} runs a released image"
    for name, service in services.items():
        if name not in OBSERVABILITY:
            # `docker compose up` without the profile refuses a dependency it does not start.
            assert not set(section(service, "depends_on")) & OBSERVABILITY, name


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
        settings: type[ServiceSettings] = importlib.import_module(f"{package}.settings").Settings
        read = {settings.variable(field) for field in settings.model_fields}
        # The standard OTEL_* variables are read by the telemetry set-up (tests below).
        for variable in (v for v in environment(service) if not v.startswith("OTEL_")):
            assert variable in read, f"{name} sets {variable}, which {package}.settings never reads"


def test_every_process_signs_and_verifies_with_the_same_placeholder_keyring(
    services: dict[str, Service],
) -> None:
    keyrings: set[tuple[str, str]] = set()
    for name, service in built(services).items():
        given = environment(service)
        # `${VARIABLE:-default}`: the operator's value, else the placeholder.
        keys = re.sub(r"^\$\{CQRS_SIGNING_KEYS:-(.*)\}$", r"\1", given["CQRS_SIGNING_KEYS"])
        key_id = re.sub(r"^\$\{CQRS_SIGNING_KEY_ID:-(.*)\}$", r"\1", given["CQRS_SIGNING_KEY_ID"])
        settings = ServiceSettings.load({"CQRS_SIGNING_KEYS": keys, "CQRS_SIGNING_KEY_ID": key_id})
        assert settings.keyring() is not None, name
        keyrings.add((keys, key_id))
    assert len(keyrings) == 1


def test_every_service_has_a_healthcheck(services: dict[str, Service]) -> None:
    for name, service in services.items():
        if name in WITHOUT_HEALTHCHECK:
            assert "healthcheck" not in service, f"{name} cannot run a healthcheck"
            assert not any(name in section(other, "depends_on") for other in services.values())
            continue
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


# ---- The `observability` profile: its configuration files, checked against each other,
# against the services they watch and against the metrics the library really exports.

COLLECTOR_URL = "http://otel-collector:4318"
RELAY_METRICS_PORT = "OTEL_EXPORTER_PROMETHEUS_PORT"


def read_yaml(path: pathlib.Path) -> dict[str, typing.Any]:
    loaded: dict[str, typing.Any] = yaml.safe_load(path.read_text())
    return loaded


def mounts(service: Service) -> dict[str, pathlib.Path]:
    """Each bind mount of `service` from this folder: container path -> host path."""
    found: dict[str, pathlib.Path] = {}
    entries: list[str] = service.get("volumes") or []
    for entry in entries:
        source, target, *_ = entry.split(":")
        if source.startswith("."):
            found[target] = (INFRA / source).resolve()
    return found


def container_ports(service: Service) -> set[int]:
    """The ports `service` publishes or exposes to the other containers."""
    exposed: list[object] = service.get("expose") or []
    return {container for _, container in published_ports(service)} | {
        int(str(port)) for port in exposed
    }


def host_and_port(address: str) -> tuple[str, int]:
    """("jaeger", 4317) from "jaeger:4317" or "http://jaeger:4317"."""
    host, port = address.split("://")[-1].rstrip("/").rsplit(":", 1)
    return host, int(port)


def test_every_configuration_file_the_compose_mounts_exists(
    services: dict[str, Service],
) -> None:
    for name, service in services.items():
        for target, source in mounts(service).items():
            assert source.exists(), f"{name} mounts {source} at {target}: it does not exist"
            assert source.is_relative_to(INFRA), f"{name} mounts {source}, outside infra/"
    assert mounts(services["otel-collector"]), "the collector gets its configuration"
    config_flag = "--config=/etc/otelcol-contrib/config.yaml"
    assert services["otel-collector"]["command"] == [config_flag]


@pytest.fixture(scope="module")
def collector(services: dict[str, Service]) -> dict[str, typing.Any]:
    return read_yaml(mounts(services["otel-collector"])["/etc/otelcol-contrib/config.yaml"])


def test_the_collector_pipelines_use_only_components_it_defines(
    collector: dict[str, typing.Any],
) -> None:
    pipelines: dict[str, dict[str, list[str]]] = collector["service"]["pipelines"]
    assert set(pipelines) == {"traces", "metrics"}
    for name, pipeline in pipelines.items():
        for kind in ("receivers", "processors", "exporters"):
            used = set(pipeline.get(kind, []))
            assert used <= set(collector.get(kind) or {}), f"{name} {kind}: {used}"
        assert pipeline["receivers"], name
        assert pipeline["exporters"], name
    assert set(collector["service"]["extensions"]) <= set(collector["extensions"])
    defined = {kind: set(collector.get(kind) or {}) for kind in ("receivers", "exporters")}
    used = {
        kind: {component for pipeline in pipelines.values() for component in pipeline[kind]}
        for kind in ("receivers", "exporters")
    }
    assert defined == used, "every receiver and exporter defined is used"


def test_the_services_send_spans_to_the_collector_which_sends_them_to_jaeger(
    services: dict[str, Service], collector: dict[str, typing.Any]
) -> None:
    protocols = collector["receivers"]["otlp"]["protocols"]
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert {4317, 4318} <= container_ports(services["otel-collector"])
    for name, service in built(services).items():
        assert environment(service)["OTEL_EXPORTER_OTLP_ENDPOINT"] == COLLECTOR_URL, name
    (traces_exporter,) = collector["service"]["pipelines"]["traces"]["exporters"]
    host, port = host_and_port(collector["exporters"][traces_exporter]["endpoint"])
    assert host == "jaeger"
    assert port in container_ports(services[host])
    assert services["otel-collector"]["depends_on"] == {"jaeger": {"condition": "service_healthy"}}


def test_each_process_names_itself_and_exports_spans_only_when_asked(
    services: dict[str, Service],
) -> None:
    for name, service in built(services).items():
        env = environment(service)
        assert env["OTEL_SERVICE_NAME"] == name
        # Off unless the variable is set: without a collector, the exporter would
        # retry each batch for seconds and log it as an error.
        assert env["OTEL_TRACES_EXPORTER"] == "${OTEL_TRACES_EXPORTER:-none}", name
        for traces in ("none", "otlp"):
            telemetry = telemetry_from_env({**env, "OTEL_TRACES_EXPORTER": traces})
            assert telemetry.service_name == name
            assert (telemetry.tracer_provider is not None) == (traces == "otlp")
            assert telemetry.registry is not None, f"{name} serves its metrics"
    telemetry_source = (ROOT / "services/servicekit/src/servicekit/telemetry.py").read_text()
    for variable in ("OTEL_SERVICE_NAME", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        assert f'"{variable}"' in telemetry_source, variable


@pytest.fixture(scope="module")
def scrape_targets(services: dict[str, Service]) -> dict[str, list[str]]:
    """Prometheus's targets, by job."""
    config = read_yaml(mounts(services["prometheus"])["/etc/prometheus/prometheus.yml"])
    targets: dict[str, list[str]] = {}
    for job in config["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics", job["job_name"]
        targets[job["job_name"]] = [t for c in job["static_configs"] for t in c["targets"]]
    return targets


def test_prometheus_scrapes_services_on_ports_they_expose(
    services: dict[str, Service], scrape_targets: dict[str, list[str]]
) -> None:
    for job, targets in scrape_targets.items():
        for target in targets:
            host, port = host_and_port(target)
            assert host in services, f"job {job} scrapes {target}: no such service"
            assert port in container_ports(services[host]), f"{job}: {host} has no port {port}"


def test_prometheus_scrapes_every_server_and_relay_where_it_serves_metrics(
    services: dict[str, Service], scrape_targets: dict[str, list[str]]
) -> None:
    for name, service in built(services).items():
        env = environment(service)
        if name.endswith("-relay"):
            port = env[RELAY_METRICS_PORT]
            assert env["OTEL_EXPORTER_PROMETHEUS_HOST"] == "0.0.0.0", name
        else:
            port = env[f"{package_of(service).upper()}_PORT"]
        assert scrape_targets[name] == [f"{name}:{port}"]


def test_the_processes_serve_the_metrics_prometheus_scrapes(
    services: dict[str, Service],
) -> None:
    def source_of(package: str, but: str = "") -> str:
        files = (ROOT / "services" / package / "src").rglob("*.py")
        return "\n".join(path.read_text() for path in files if path.name != but)

    # Calls to servicekit.telemetry's functions, outside the module defining them.
    shared = source_of("servicekit", but="telemetry.py")
    reads_variables = source_of("servicekit")
    for name, service in built(services).items():
        own = source_of(package_of(service))
        assert "telemetry_from_env" in own + shared, f"{name} never reads OTEL_*"
        wiring = "serve_metrics" if name.endswith("-relay") else "install_metrics_route"
        assert wiring in own + shared, f"{name} never calls {wiring}"
        if name.endswith("-relay"):
            assert RELAY_METRICS_PORT in own + reads_variables, f"{name}: {RELAY_METRICS_PORT}"


@pytest.fixture(scope="module")
def grafana(services: dict[str, Service]) -> dict[str, pathlib.Path]:
    return mounts(services["grafana"])


@pytest.fixture(scope="module")
def datasource(grafana: dict[str, pathlib.Path]) -> dict[str, str]:
    """The Prometheus datasource Grafana provisions."""
    provisioned = grafana["/etc/grafana/provisioning"] / "datasources/datasources.yaml"
    (found,) = [
        source for source in read_yaml(provisioned)["datasources"] if source["type"] == "prometheus"
    ]
    return found


def test_grafana_provisions_the_prometheus_datasource_and_the_dashboards_folder(
    services: dict[str, Service], grafana: dict[str, pathlib.Path], datasource: dict[str, str]
) -> None:
    host, port = host_and_port(datasource["url"])
    assert host == "prometheus"
    assert port in container_ports(services[host])
    assert datasource["uid"]
    provisioning = grafana["/etc/grafana/provisioning"]
    (provider,) = read_yaml(provisioning / "dashboards/dashboards.yaml")["providers"]
    assert grafana[provider["options"]["path"]] == INFRA / "grafana/dashboards"
    home = environment(services["grafana"])["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (INFRA / "grafana/dashboards" / pathlib.PurePosixPath(home).name).is_file()


@pytest.fixture(scope="module")
def exported() -> dict[str, set[str]]:
    """The series cqrs exports, each with its label names, read from a real `GET /metrics`
    text (tests/infra/exported_metrics.py, in a process of its own)."""
    script = pathlib.Path(__file__).with_name("exported_metrics.py")
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True
    )
    series: dict[str, set[str]] = {}
    for line in result.stdout.splitlines():
        if line and not line.startswith("#"):
            name, _, rest = line.partition("{")
            labels = re.findall(r'(\w+)="', rest.rpartition("}")[0])
            series.setdefault(name.split(" ")[0], set()).update(labels)
    return series


def test_the_export_holds_every_metric_the_library_declares(
    exported: dict[str, set[str]],
) -> None:
    declared = [
        getattr(cqrs.telemetry, name)
        for name in cqrs.telemetry.__all__
        if str(getattr(cqrs.telemetry, name)).startswith("cqrs.")
    ]
    assert len(declared) >= 13  # the metrics packages/cqrs-core/README.md lists
    for metric in declared:
        base = metric.replace(".", "_")
        assert any(name == base or name.startswith(f"{base}_") for name in exported), metric


# What PromQL writes that is not a metric name: functions are followed by "(".
PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
}
# Labels Prometheus adds to every scraped series.
SCRAPE_LABELS = {"job", "instance"}


def promql_names(expr: str) -> tuple[set[str], set[str]]:
    """The metric names and the label names `expr` uses."""
    grouped = r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)"
    labels = {label.strip() for group in re.findall(grouped, expr) for label in group.split(",")}
    labels |= set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", " ".join(re.findall(r"\{([^}]*)\}", expr))))
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|" + grouped, " ", expr)
    names = set(re.findall(r"\b([a-zA-Z_:][\w:]*)\b(?!\s*\()", bare)) - PROMQL_WORDS
    return names, labels - {""}


def test_promql_names_finds_metrics_and_labels() -> None:
    names, labels = promql_names(
        'sum by (job, le) (rate(cqrs_x_total{topic="a"}[$__rate_interval])) / on (job) up'
    )
    assert (names, labels) == ({"cqrs_x_total", "up"}, {"job", "le", "topic"})


@pytest.fixture(scope="module")
def dashboard(grafana: dict[str, pathlib.Path]) -> dict[str, typing.Any]:
    loaded: dict[str, typing.Any] = json.loads(
        (grafana["/etc/grafana/dashboards"] / "cqrs.json").read_text()
    )
    return loaded


def queries(dashboard: dict[str, typing.Any]) -> list[tuple[str, dict[str, typing.Any]]]:
    """(panel title, target) of every query of the dashboard."""
    return [
        (panel["title"], target)
        for panel in dashboard["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
    ]


def test_every_dashboard_panel_queries_the_provisioned_prometheus(
    dashboard: dict[str, typing.Any], datasource: dict[str, str]
) -> None:
    provisioned = {"type": "prometheus", "uid": datasource["uid"]}
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel["datasource"] == provisioned, panel["title"]
        assert panel["targets"], panel["title"]
    for title, target in queries(dashboard):
        assert target["datasource"] == provisioned, title
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_every_dashboard_query_names_series_and_labels_the_library_exports(
    dashboard: dict[str, typing.Any], exported: dict[str, set[str]]
) -> None:
    for title, target in queries(dashboard):
        names, labels = promql_names(target["expr"])
        assert names, f"{title}: {target['expr']} queries no metric"
        for name in names:
            assert name in exported, f"{title}: cqrs exports no series {name}"
            unknown = labels - exported[name] - SCRAPE_LABELS
            assert not unknown, f"{title}: {name} has no label {unknown}"


def test_the_dashboard_shows_every_metric_the_library_exports(
    dashboard: dict[str, typing.Any], exported: dict[str, set[str]]
) -> None:
    shown = {name for _, target in queries(dashboard) for name in promql_names(target["expr"])[0]}
    families = {re.sub(r"_(bucket|sum|count)$", "", name) for name in exported}
    shown_families = {re.sub(r"_(bucket|sum|count)$", "", name) for name in shown}
    assert {family for family in families if family.startswith("cqrs_")} <= shown_families
