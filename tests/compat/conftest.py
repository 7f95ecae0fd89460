"""Tests written from python-cqrs 4.x's documentation: its README and the example files
it links to, one module per example, each using python-cqrs's import paths and idioms.

They prove that 4.x application code runs unchanged on our packages (or, where ours is
deliberately stricter, that it fails with a message saying what to write instead; the
migration guide lists every such case).

`saga_shop.py`, the order saga the saga examples share, is loaded here once under its
own name: the tests run with `--import-mode=importlib`, so a test module cannot import
a sibling file by name.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys

_HELPER = "saga_shop"

# Imported below for the tests; not collected a second time for doctests.
collect_ignore = [f"{_HELPER}.py"]

if _HELPER not in sys.modules:
    _path = pathlib.Path(__file__).with_name(f"{_HELPER}.py")
    _spec = importlib.util.spec_from_file_location(_HELPER, _path)
    assert _spec is not None
    assert _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_HELPER] = _module  # dataclasses resolve annotations through sys.modules
    _spec.loader.exec_module(_module)
