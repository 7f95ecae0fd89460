"""Fixtures for the launcher's tests: stand-ins for the services' `__main__` modules."""

from __future__ import annotations

import pathlib

import pytest

FAKE_SERVICE = pathlib.Path(__file__).with_name("fake_service.py")

MAIN_MODULE = """\
import runpy
import sys

sys.argv = [{script!r}, {service!r}, *sys.argv[1:]]
runpy.run_path({script!r}, run_name="__main__")
"""


@pytest.fixture
def fake_services_path(tmp_path: pathlib.Path) -> str:
    """A folder with `orders` and `inventory` packages whose `__main__` runs the fake
    service; put it first on PYTHONPATH and `python -m orders serve` runs the fake."""
    root = tmp_path / "fake_services"
    for service in ("orders", "inventory"):
        package = root / service
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "__main__.py").write_text(
            MAIN_MODULE.format(script=str(FAKE_SERVICE), service=service)
        )
    return str(root)
