"""Load the modules in examples/ by path, once per test session.

Examples are plain scripts, not a package, so each is imported from its file
under the name `examples_<name>` (registered in `sys.modules`, which pydantic
and dataclasses need to resolve annotations). Loading each one only once also
keeps process-wide registrations, such as `OutboxedEventMap.register`, from
seeing a second copy of the same classes.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys
import types
import typing

import pytest

EXAMPLES_DIR = pathlib.Path(__file__).resolve().parents[2] / "examples"


def load_example_module(name: str) -> types.ModuleType:
    """Import `examples/<name>.py` (or return it if already imported)."""
    module_name = f"examples_{name}"
    loaded = sys.modules.get(module_name)
    if loaded is not None:
        return loaded
    path = EXAMPLES_DIR / f"{name}.py"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load example {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


@pytest.fixture(scope="session")
def load_example() -> typing.Callable[[str], types.ModuleType]:
    """The loader, as a fixture: `load_example("quick_start").main()`."""
    return load_example_module
