"""`cqrs-demo`: the reference system (orders, inventory, a Kafka-protocol broker) on one machine.

- `cqrs_demo.cli`: the `cqrs-demo` console script.
- `ReferenceSystem` starts the four processes of the system (each service's
  server and outbox relay) from a `SystemConfig`, under a `Supervisor` of
  `ChildProcess`es, which prefixes their output with their names, stops them
  cleanly and reports a crash. The end-to-end tests and `bench/e2e.py` start
  the system through it too.

```
from cqrs_demo import ReferenceSystem, Supervisor, SystemConfig

with Supervisor() as supervisor:
    system = ReferenceSystem(SystemConfig(bootstrap, orders_url, inventory_url), supervisor)
    system.start()                       # returns once both services are healthy
```
"""

from cqrs_demo.errors import ChildExitedError, DemoError, StartupError
from cqrs_demo.health import wait_until_healthy
from cqrs_demo.processes import ChildProcess, Supervisor
from cqrs_demo.seed import DEMO_STOCK, restock_new_skus
from cqrs_demo.system import PROCESSES, SERVICES, ReferenceSystem, SystemConfig, relay_name

__all__ = (
    "ReferenceSystem",
    "SystemConfig",
    "SERVICES",
    "PROCESSES",
    "relay_name",
    "Supervisor",
    "ChildProcess",
    "wait_until_healthy",
    "DEMO_STOCK",
    "restock_new_skus",
    "DemoError",
    "StartupError",
    "ChildExitedError",
)
