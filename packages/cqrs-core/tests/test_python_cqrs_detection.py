"""`import cqrs` refuses to run next to a python-cqrs installation, with the fix."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys


def import_cqrs(extra_path: pathlib.Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", "import cqrs"], capture_output=True, text=True, env=env, check=False
    )


def install_fake_python_cqrs(site: pathlib.Path, version: str = "4.10.0") -> None:
    """What pip leaves behind for python-cqrs: its distribution metadata."""
    metadata = site / f"python_cqrs-{version}.dist-info"
    metadata.mkdir(parents=True)
    (metadata / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: python-cqrs\nVersion: {version}\n"
    )


def test_import_fails_with_the_fix_when_python_cqrs_is_installed(tmp_path: pathlib.Path) -> None:
    install_fake_python_cqrs(tmp_path)

    result = import_cqrs(tmp_path)

    assert result.returncode != 0
    assert "PythonCqrsInstalledError" in result.stderr
    assert "python-cqrs 4.10.0 is installed" in result.stderr
    assert "pip uninstall -y python-cqrs" in result.stderr
    assert "--force-reinstall" in result.stderr


def test_import_works_without_python_cqrs() -> None:
    result = import_cqrs()

    assert result.returncode == 0, result.stderr
