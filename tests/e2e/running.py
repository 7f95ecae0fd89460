"""The reference system started for a test module, through the demo launcher's code.

Each started system has its own broker (a fresh `LocalKafkaBroker`), its own
databases and free ports, so two systems never share a topic or a consumer
group. The processes' output goes to `system.log` in the given folder.
"""

from __future__ import annotations

import collections.abc
import contextlib
import pathlib

from cqrs.message_brokers.protocol import Message
from cqrs.signing import Keyring
from cqrs_demo import ReferenceSystem, Supervisor, SystemConfig
from cqrs_kafka.broker import record_headers, record_value
from cqrs_kafka.local import LocalKafkaBroker, free_ports

from .databases import service_databases

#: Seconds a service gets to answer GET /health after a (re)start.
STARTUP_TIMEOUT = 90.0


@contextlib.contextmanager
def started_system(
    database: str,
    folder: pathlib.Path,
    environment: collections.abc.Mapping[str, str] | None = None,
    *,
    relay_metrics: bool = False,
) -> collections.abc.Generator[ReferenceSystem, None, None]:
    """Start a broker and the four processes on `database` ("sqlite" or "postgresql");
    stop and drop everything on exit. With `relay_metrics`, each relay serves its
    metrics on a free port (`system.config.relay_metrics_ports`)."""
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(LocalKafkaBroker(log_path=folder / "broker.log"))
        urls = stack.enter_context(service_databases(database, folder))
        log = stack.enter_context((folder / "system.log").open("a", buffering=1))
        supervisor = stack.enter_context(Supervisor(output=log))
        orders_port, inventory_port, *metrics_ports = free_ports(4 if relay_metrics else 2)
        relays = ("orders-relay", "inventory-relay") if relay_metrics else ()
        config = SystemConfig(
            bootstrap_servers=broker.bootstrap_servers,
            orders_database_url=urls["orders"],
            inventory_database_url=urls["inventory"],
            orders_port=orders_port,
            inventory_port=inventory_port,
            environment=dict(environment or {}),
            startup_timeout=STARTUP_TIMEOUT,
            relay_metrics_ports=dict(zip(relays, metrics_ports, strict=True)),
        )
        yield ReferenceSystem(config, supervisor).start()


def signed_record_headers(system: ReferenceSystem, message: Message) -> list[tuple[str, bytes]]:
    """`message`'s Kafka headers, signed with `system`'s keyring as its relays sign them, for
    a test that produces a command straight onto a topic the services verify."""
    headers = record_headers(message)
    keyring = Keyring.from_env(system.config.signing)
    if keyring is not None:
        key = None if message.key is None else message.key.encode()
        text = {name: value.decode() for name, value in headers}
        signature = keyring.sign(record_value(message), key, text)
        headers += [(name, value.encode()) for name, value in signature.items()]
    return headers
