"""The Kafka import paths name the `cqrs-kafka` distribution when it is absent."""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import sys

import pytest

import cqrs

KAFKA_MODULES = ["cqrs.message_brokers.kafka", "cqrs.adapters.kafka"]


@pytest.fixture(autouse=True)
def without_cqrs_kafka(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `cqrs_kafka` unimportable, and forget the re-export modules if loaded."""
    monkeypatch.setitem(sys.modules, "cqrs_kafka", None)
    for module in KAFKA_MODULES:
        monkeypatch.delitem(sys.modules, module, raising=False)


@pytest.mark.parametrize("module", KAFKA_MODULES)
def test_import_without_cqrs_kafka_names_the_distribution(module: str) -> None:
    with pytest.raises(ImportError, match="cqrs-kafka"):
        importlib.import_module(module)


@pytest.mark.parametrize("module", KAFKA_MODULES)
def test_import_error_is_a_missing_dependency_error(module: str) -> None:
    with pytest.raises(cqrs.MissingDependencyError) as caught:
        importlib.import_module(module)

    assert isinstance(caught.value, cqrs.CQRSError)
    assert isinstance(caught.value.__cause__, ImportError)
    assert "pip install" in str(caught.value)


@pytest.mark.parametrize("module", KAFKA_MODULES)
def test_failed_import_leaves_no_half_imported_module(module: str) -> None:
    with pytest.raises(ImportError):
        importlib.import_module(module)

    assert module not in sys.modules


BROKEN_CQRS_KAFKA = """
import sys
sys.modules["cqrs_kafka.broker"] = None  # installed, but one of its modules fails
try:
    import {module}
except ImportError as error:
    print(type(error).__name__, error.name)
"""


@pytest.mark.parametrize("module", KAFKA_MODULES)
def test_an_installed_but_broken_cqrs_kafka_raises_its_own_error(module: str) -> None:
    try:
        importlib.metadata.distribution("cqrs-kafka")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("cqrs-kafka is not installed here (an isolated cqrs-core run)")
    script = BROKEN_CQRS_KAFKA.format(module=module)

    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )

    assert result.stdout.split() == ["ModuleNotFoundError", "cqrs_kafka.broker"]
