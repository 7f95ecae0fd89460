"""The public surface: `cqrs.__all__`, module `__all__`s with docstrings, import purity."""

from __future__ import annotations

import dataclasses
import importlib
import json
import pkgutil
import subprocess
import sys
import types

import pytest

import cqrs

# Seed paths that re-export an adapter distribution (tested where it is installed).
ADAPTER_REEXPORTS = {
    "cqrs.adapters.kafka",
    "cqrs.message_brokers.kafka",
    "cqrs.saga.storage.sqlalchemy",
    "cqrs.outbox.sqlalchemy",
}
FORBIDDEN = [
    "aiokafka",
    "faststream",
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "psycopg",
    "fastapi",
    "starlette",
    "httpx",
    "redis",
    "aio_pika",
]
# Optional-extra adapters, and how they import their third-party library.
EXTRA_ADAPTERS = {
    "cqrs.container.dependency_injector": "from dependency_injector import containers, providers",
    "cqrs.adapters.circuit_breaker": (
        "import aiobreaker; from aiobreaker.storage.base import CircuitBreakerStorage"
    ),
}


def all_module_names() -> list[str]:
    names = ["cqrs"]
    names += [info.name for info in pkgutil.walk_packages(cqrs.__path__, "cqrs.")]
    return sorted(name for name in names if name not in ADAPTER_REEXPORTS)


def public_module_names() -> list[str]:
    return [
        name
        for name in all_module_names()
        if not any(part.startswith("_") for part in name.split("."))
    ]


def forbidden_after(code: str) -> list[str]:
    """Run `code` in a fresh interpreter; return the forbidden modules it left imported."""
    report = f"import json, sys\nprint(json.dumps([m for m in {FORBIDDEN!r} if m in sys.modules]))"
    script = f"{code}\n{report}"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def import_lines(modules: list[str]) -> str:
    return "\n".join(f"importlib.import_module({name!r})" for name in modules)


def test_every_name_in_all_exists() -> None:
    missing = [name for name in cqrs.__all__ if not hasattr(cqrs, name)]

    assert missing == []
    assert len(set(cqrs.__all__)) == len(cqrs.__all__)


def test_version_is_exported() -> None:
    assert isinstance(cqrs.__version__, str)
    assert "__version__" in cqrs.__all__


def test_module_walk_finds_the_package_tree() -> None:
    names = public_module_names()

    assert "cqrs.events.dispatcher" in names
    assert "cqrs.container.di" in names
    assert "cqrs._message" not in names


@pytest.mark.parametrize("module_name", public_module_names())
def test_public_module_declares_all(module_name: str) -> None:
    module = importlib.import_module(module_name)

    assert isinstance(getattr(module, "__all__", None), (tuple, list)), module_name
    assert [name for name in module.__all__ if not hasattr(module, name)] == []


@pytest.mark.parametrize("module_name", public_module_names())
def test_public_module_has_a_docstring(module_name: str) -> None:
    assert (importlib.import_module(module_name).__doc__ or "").strip()


def has_written_docstring(obj: type | types.FunctionType) -> bool:
    doc = (obj.__doc__ or "").strip()
    # dataclasses invent "Name(field: type, ...)" for a class without a docstring
    generated = isinstance(obj, type) and doc.startswith(f"{obj.__name__}(")
    return bool(doc) and not generated


@pytest.mark.parametrize("module_name", public_module_names())
def test_public_classes_and_functions_have_docstrings(module_name: str) -> None:
    module = importlib.import_module(module_name)

    undocumented = [
        name
        for name in getattr(module, "__all__", ())
        if isinstance(obj := getattr(module, name), (type, types.FunctionType))
        and not has_written_docstring(obj)
    ]

    assert undocumented == []


def test_docstring_check_sees_through_generated_dataclass_docstrings() -> None:
    @dataclasses.dataclass
    class Undocumented:
        value: int

    assert not has_written_docstring(Undocumented)
    assert has_written_docstring(cqrs.Message)


def test_importing_core_modules_pulls_in_no_broker_driver_or_web_framework() -> None:
    core = [name for name in all_module_names() if name not in EXTRA_ADAPTERS]

    assert forbidden_after("import importlib\n" + import_lines(core)) == []


@pytest.mark.parametrize("module_name", sorted(EXTRA_ADAPTERS))
def test_extra_adapters_import_nothing_beyond_their_own_library(module_name: str) -> None:
    library_alone = forbidden_after(EXTRA_ADAPTERS[module_name])

    adapter = forbidden_after(f"import importlib\n{import_lines([module_name])}")

    assert adapter == library_alone


def test_importing_every_module_adds_nothing_beyond_the_extras_libraries() -> None:
    libraries = forbidden_after("\n".join(EXTRA_ADAPTERS.values()))

    everything = forbidden_after("import importlib\n" + import_lines(all_module_names()))

    assert everything == libraries
