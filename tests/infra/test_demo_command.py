"""`make demo` and the `cqrs-demo` console script it runs."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_make_demo_runs_cqrs_demo() -> None:
    dry_run = subprocess.run(
        # Under `make test` this runs inside make: without --no-print-directory
        # the nested make would end its output with "Leaving directory".
        ["make", "--no-print-directory", "-n", "demo", "DEMO_ARGS=--orders-port 8123"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    last_command = dry_run.stdout.strip().splitlines()[-1]
    assert last_command.endswith("run cqrs-demo --orders-port 8123")


def test_cqrs_demo_help_lists_its_options() -> None:
    script = pathlib.Path(sys.executable).with_name("cqrs-demo")
    result = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, check=True, timeout=60
    )
    for option in ("--data-dir", "--orders-port", "--inventory-port", "--broker-port"):
        assert option in result.stdout
