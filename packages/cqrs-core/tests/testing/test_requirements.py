"""Without pytest, a contract suite fails to import with the extra to install."""

from __future__ import annotations

import subprocess
import sys

import pytest

SUITES = (
    "cqrs.testing.inbox",
    "cqrs.testing.outbox_repository",
    "cqrs.testing.outbox_store",
    "cqrs.testing.message_broker",
    "cqrs.testing.saga_storage",
)

# `sys.modules[name] = None` makes `import name` fail as if it were not installed.
IMPORT_WITHOUT = """
import sys
sys.modules[{missing!r}] = None
try:
    import {suite}
except ImportError as error:
    print(type(error).__name__, error, sep=": ")
"""


@pytest.mark.parametrize("missing", ["pytest", "pytest_asyncio"])
@pytest.mark.parametrize("suite", SUITES)
def test_a_suite_without_its_test_runner_names_the_testing_extra(suite: str, missing: str) -> None:
    script = IMPORT_WITHOUT.format(missing=missing, suite=suite)

    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )

    assert result.stdout.startswith("MissingDependencyError: ")
    assert "pip install 'cqrs-core[testing]'" in result.stdout


def test_the_doubles_and_the_harness_need_no_test_runner() -> None:
    script = IMPORT_WITHOUT.format(missing="pytest", suite="cqrs.testing")

    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )

    assert result.stdout == ""
