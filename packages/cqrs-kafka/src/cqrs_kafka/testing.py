"""pytest fixtures for code that talks to Kafka, on a local broker started once per run.

Enable them in a `conftest.py`:

```
pytest_plugins = ["cqrs_kafka.testing"]

async def test_publish(kafka_bootstrap_servers: str) -> None:
    ...
```

`kafka_bootstrap_servers` is `$CQRS_TEST_KAFKA_BOOTSTRAP_SERVERS` when set (an
external Kafka), else the address of `local_kafka`, a `LocalKafkaBroker`
(needs `cqrs-kafka[local]`). `kafka_topic` makes a fresh topic name per test.
"""

from __future__ import annotations

import collections.abc
import os
import uuid

import pytest

from cqrs_kafka.local import LocalKafkaBroker

__all__ = ("BOOTSTRAP_ENV", "local_kafka", "kafka_bootstrap_servers", "kafka_topic")

#: Environment variable naming an external broker for the tests.
BOOTSTRAP_ENV = "CQRS_TEST_KAFKA_BOOTSTRAP_SERVERS"


@pytest.fixture(scope="session")
def local_kafka() -> collections.abc.Iterator[LocalKafkaBroker]:
    """A local broker on a free port, for the whole test session."""
    with LocalKafkaBroker() as broker:
        yield broker


@pytest.fixture(scope="session")
def kafka_bootstrap_servers(request: pytest.FixtureRequest) -> str:
    """Where the tests' Kafka is: the external one, else the local broker."""
    external = os.environ.get(BOOTSTRAP_ENV)
    if external:
        return external
    broker: LocalKafkaBroker = request.getfixturevalue("local_kafka")
    return broker.bootstrap_servers


@pytest.fixture
def kafka_topic(request: pytest.FixtureRequest) -> str:
    """A topic name no other test uses (the topic itself is not created)."""
    return f"test.{request.node.name[:40]}.{uuid.uuid4().hex[:8]}".replace("[", "-").replace(
        "]", ""
    )
