"""The reference system as processes: inventory and orders, each a server and a relay.

`ReferenceSystem` starts them the way the shared contract says
(`python -m S serve` and `python -m S relay`, configured by environment
variables) under a `Supervisor`: the two servers first, until both answer
`GET /health`, then the two outbox relays, which then find the schema made,
until each says it publishes (`RELAY_READY`).
The launcher, the end-to-end tests and the benchmark all start the system
through it.

```
config = SystemConfig(
    bootstrap_servers="127.0.0.1:9092",
    orders_database_url="sqlite+aiosqlite:///./orders.db",
    inventory_database_url="sqlite+aiosqlite:///./inventory.db",
)
with Supervisor() as supervisor:
    system = ReferenceSystem(config, supervisor).start()
    print(system.url("orders"))              # http://127.0.0.1:8000
```
"""

from __future__ import annotations

import collections.abc
import dataclasses
import os
import sys
import typing

from cqrs.signing import KEY_ID_VARIABLE, KEYS_VARIABLE, new_secret
from cqrs_demo.errors import StartupError
from cqrs_demo.health import wait_until_healthy
from cqrs_demo.processes import ChildProcess, Supervisor
from servicekit.auth import new_token
from servicekit.settings import OPERATOR_TOKENS_VARIABLE

__all__ = (
    "SERVICES",
    "PROCESSES",
    "RELAY_READY",
    "Service",
    "SystemConfig",
    "ReferenceSystem",
    "OPERATOR",
    "OPERATOR_SCOPES",
    "generated_signing",
    "operator_tokens",
    "relay_name",
)

Service = typing.Literal["inventory", "orders"]
#: The services, in start order.
SERVICES: tuple[Service, ...] = ("inventory", "orders")


def relay_name(service: Service) -> str:
    """The process name of `service`'s outbox relay.

    >>> relay_name("orders")
    'orders-relay'
    """
    return f"{service}-relay"


#: What a relay prints once it runs (`NAME relay publishing to SERVERS`).
RELAY_READY = "relay publishing to"

#: Every process of the system by name: each service's server, then its relay.
PROCESSES: tuple[str, ...] = (*SERVICES, *(relay_name(service) for service in SERVICES))


def generated_signing(environ: collections.abc.Mapping[str, str]) -> dict[str, str]:
    """A fresh signing key for every process of one system, unless `environ` configures
    signing itself (`CQRS_SIGNING_KEYS`, or `CQRS_SIGNING=off`).

    >>> sorted(generated_signing({}))
    ['CQRS_SIGNING_KEYS', 'CQRS_SIGNING_KEY_ID']
    >>> generated_signing({"CQRS_SIGNING": "off"})
    {}
    """
    if environ.get(KEYS_VARIABLE) or environ.get("CQRS_SIGNING"):
        return {}
    return {KEYS_VARIABLE: f"{_KEY_ID}:{new_secret()}", KEY_ID_VARIABLE: _KEY_ID}


_KEY_ID: typing.Final = "system"

#: The name of the operator whose token the launcher makes (`SystemConfig.operator_token`).
OPERATOR: typing.Final = "demo"
#: What that token may do: restock (inventory) and use the admin consoles (both).
OPERATOR_SCOPES: typing.Final = ("stock.restock", "admin")


def operator_tokens(token: str, given: str | None) -> str:
    """`OPERATOR_TOKENS` for the system: the tokens `given` (the environment's), and
    `token` as `OPERATOR`'s with `OPERATOR_SCOPES`.

    >>> operator_tokens("t" * 43, None) == f"demo:{'t' * 43}:stock.restock+admin"
    True
    """
    own = f"{OPERATOR}:{token}:{'+'.join(OPERATOR_SCOPES)}"
    return ",".join(filter(None, (given, own)))


@dataclasses.dataclass(frozen=True)
class SystemConfig:
    """Where the system's processes listen and what they connect to.

    `environment` is added to every process's environment (on top of the
    launcher's own), for settings such as `ORDERS_REPLY_TIMEOUT_SECONDS`.
    `signing` is the keyring every process signs and verifies with: one fresh key
    unless the launcher's environment gives `CQRS_SIGNING_KEYS` or `CQRS_SIGNING`.
    `operator_token` is a fresh operator token (scopes `OPERATOR_SCOPES`) added to
    the `OPERATOR_TOKENS` of the environment: what the launcher restocks with,
    what it prints for the admin consoles, and what the tests send.

    >>> config = SystemConfig("127.0.0.1:9092", "sqlite+aiosqlite:///o.db", "sqlite:///i.db")
    >>> config.url("inventory")
    'http://127.0.0.1:8001'
    """

    bootstrap_servers: str
    orders_database_url: str
    inventory_database_url: str
    orders_port: int = 8000
    inventory_port: int = 8001
    host: str = "127.0.0.1"
    environment: collections.abc.Mapping[str, str] = dataclasses.field(
        default_factory=dict[str, str]
    )
    startup_timeout: float = 60.0
    #: The port each relay named here serves its metrics on (`OTEL_EXPORTER_PROMETHEUS_PORT`).
    relay_metrics_ports: collections.abc.Mapping[str, int] = dataclasses.field(
        default_factory=dict[str, int]
    )
    signing: collections.abc.Mapping[str, str] = dataclasses.field(
        default_factory=lambda: generated_signing(os.environ), repr=False
    )
    operator_token: str = dataclasses.field(default_factory=new_token, repr=False)

    def port(self, service: Service) -> int:
        """The HTTP port of `service`."""
        return self.orders_port if service == "orders" else self.inventory_port

    def url(self, service: Service) -> str:
        """The base URL of `service`'s HTTP API."""
        return f"http://{self.host}:{self.port(service)}"

    @property
    def operator_headers(self) -> dict[str, str]:
        """The `Authorization` header of `operator_token`, for an operator route."""
        return {"Authorization": f"Bearer {self.operator_token}"}

    def process_environment(self) -> dict[str, str]:
        """The environment every process of the system gets."""
        return {
            **self.signing,
            **os.environ,
            **self.environment,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            OPERATOR_TOKENS_VARIABLE: operator_tokens(
                self.operator_token,
                self.environment.get(OPERATOR_TOKENS_VARIABLE)
                or os.environ.get(OPERATOR_TOKENS_VARIABLE),
            ),
            "ORDERS_DATABASE_URL": self.orders_database_url,
            "INVENTORY_DATABASE_URL": self.inventory_database_url,
            "ORDERS_HOST": self.host,
            "ORDERS_PORT": str(self.orders_port),
            "INVENTORY_HOST": self.host,
            "INVENTORY_PORT": str(self.inventory_port),
            # For the orders page's links and stock table (the services talk over Kafka).
            "ORDERS_INVENTORY_URL": self.url("inventory"),
            # The relays run as their own processes (so a test can kill one).
            "ORDERS_RELAY_IN_PROCESS": "false",
            "INVENTORY_RELAY_IN_PROCESS": "false",
            # Children's lines reach the launcher as they are written.
            "PYTHONUNBUFFERED": "1",
        }

    def environment_of(self, process: str) -> dict[str, str]:
        """The environment of the process called `process` (one of `PROCESSES`): the
        system's, with its own `OTEL_SERVICE_NAME` and relay metrics port.

        >>> config = SystemConfig("b:9092", "o", "i", relay_metrics_ports={"orders-relay": 9464})
        >>> environment = config.environment_of("orders-relay")
        >>> environment["OTEL_SERVICE_NAME"], environment["OTEL_EXPORTER_PROMETHEUS_PORT"]
        ('orders-relay', '9464')
        """
        environment = {**self.process_environment(), "OTEL_SERVICE_NAME": process}
        if process in self.relay_metrics_ports:
            environment["OTEL_EXPORTER_PROMETHEUS_HOST"] = self.host
            environment["OTEL_EXPORTER_PROMETHEUS_PORT"] = str(self.relay_metrics_ports[process])
        return environment


class ReferenceSystem:
    """The four processes of the reference system under one `Supervisor`."""

    def __init__(self, config: SystemConfig, supervisor: Supervisor) -> None:
        self.config = config
        self.supervisor = supervisor

    def url(self, service: Service) -> str:
        """The base URL of `service`'s HTTP API, for example `http://127.0.0.1:8000`."""
        return self.config.url(service)

    def start(self) -> ReferenceSystem:
        """Start the servers, wait until both answer `GET /health`, then start the relays.

        Raises `StartupError` naming the process that did not come up.
        """
        for service in SERVICES:
            environment = self.config.environment_of(service)
            self.supervisor.start(service, _command(service, "serve"), environment)
        for service in SERVICES:
            self._wait_until_healthy(service)
        for service in SERVICES:
            relay = relay_name(service)
            environment = self.config.environment_of(relay)
            self.supervisor.start(relay, _command(service, "relay"), environment)
        for service in SERVICES:
            self._wait_until_relaying(service)
        return self

    def _wait_until_relaying(self, service: Service) -> None:
        relay = self.supervisor[relay_name(service)]
        timeout = self.config.startup_timeout
        if relay.wait_for_output(RELAY_READY, timeout):
            return
        how = (
            f"exited with code {relay.returncode}"
            if relay.exited.is_set()
            else f"did not start within {timeout:g}s"
        )
        raise StartupError(f"{relay.name} {how}. Its last output:\n{relay.tail()}")

    def _wait_until_healthy(self, service: Service) -> None:
        wait_until_healthy(
            self.supervisor[service],
            f"{self.url(service)}/health",
            timeout=self.config.startup_timeout,
        )

    def process(self, name: str) -> ChildProcess:
        """The process called `name` (one of `PROCESSES`)."""
        return self.supervisor[name]

    def kill(self, name: str) -> None:
        """SIGKILL the process `name`, as a crash would end it."""
        self.supervisor.kill(name)

    def restart(self, name: str) -> None:
        """Start the process `name` again; a server is waited for until it is healthy."""
        self.supervisor.restart(name)
        if name in SERVICES:
            self._wait_until_healthy(name)

    def stop(self) -> None:
        """Stop every process (relays first, then the servers)."""
        self.supervisor.stop_all()


def _command(service: Service, verb: str) -> list[str]:
    return [sys.executable, "-m", service, verb]
