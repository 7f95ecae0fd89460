"""Shared by the saga engine tests: the `saga_order_steps` module and two fixtures.

The tests run with `--import-mode=importlib`, so a test module cannot import a
sibling file by name. This conftest loads `saga_order_steps.py` once, under
that name, as tests/examples/conftest.py does for the examples; test modules
then `from saga_order_steps import ...`.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys
import types

import pytest

from cqrs.saga import execution

_HELPER = "saga_order_steps"

# It is imported above for the tests; not collected a second time for doctests.
collect_ignore = [f"{_HELPER}.py"]


def _load_helper() -> types.ModuleType:
    loaded = sys.modules.get(_HELPER)
    if loaded is not None:
        return loaded
    path = pathlib.Path(__file__).with_name(f"{_HELPER}.py")
    spec = importlib.util.spec_from_file_location(_HELPER, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_HELPER] = module  # dataclasses resolve annotations through sys.modules
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_HELPER]
        raise
    return module


_steps = _load_helper()


@pytest.fixture
def world() -> object:
    """`saga_order_steps.WORLD`, emptied: no calls recorded, no faults, no gates."""
    return _steps.reset_world()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the engine's backoff pauses instead of waiting them out."""
    recorded: list[float] = []

    async def sleep(delay: float) -> None:
        recorded.append(delay)

    monkeypatch.setattr(execution, "asyncio", types.SimpleNamespace(sleep=sleep))
    return recorded
