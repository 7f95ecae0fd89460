"""The Kafka import paths name the `cqrs-kafka` distribution when it is absent."""

from __future__ import annotations

import importlib
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
