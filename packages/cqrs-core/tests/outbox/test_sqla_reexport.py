"""`cqrs.SqlAlchemyOutboxedEventRepository`: taken from cqrs-sqla on use, named when absent."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest

import cqrs


def test_without_cqrs_sqla_the_name_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cqrs_sqla", None)
    monkeypatch.setitem(sys.modules, "cqrs_sqla.outbox", None)

    with pytest.raises(cqrs.MissingDependencyError, match="pip install 'cqrs-sqla'") as caught:
        _ = cqrs.SqlAlchemyOutboxedEventRepository

    assert isinstance(caught.value, ImportError)
    assert isinstance(caught.value.__cause__, ImportError)


def test_an_installed_but_broken_cqrs_sqla_raises_its_own_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # cqrs_sqla is installed; one of its modules failing to import is not a missing
    # distribution (as `import fcntl` failing on Windows once was).
    try:
        importlib.metadata.distribution("cqrs-sqla")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("cqrs-sqla is not installed here (an isolated cqrs-core run)")
    monkeypatch.delitem(sys.modules, "cqrs_sqla.outbox", raising=False)
    monkeypatch.setitem(sys.modules, "cqrs_sqla.relay", None)

    with pytest.raises(ImportError) as caught:
        _ = cqrs.SqlAlchemyOutboxedEventRepository

    assert not isinstance(caught.value, cqrs.MissingDependencyError)
    assert "cqrs_sqla.relay" in str(caught.value)


def test_other_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        _ = cqrs.NoSuchThing  # pyright: ignore[reportAttributeAccessIssue]


def test_the_optional_name_is_not_in_all_so_star_imports_never_need_it() -> None:
    assert "SqlAlchemyOutboxedEventRepository" not in cqrs.__all__
    assert "EventProducer" in cqrs.__all__


def test_importing_cqrs_does_not_import_cqrs_sqla() -> None:
    code = "import sys, cqrs; from cqrs import *; print('cqrs_sqla' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )

    assert (result.returncode, result.stdout.strip()) == (0, "False"), result.stderr


def test_rebind_outbox_model_comes_from_cqrs_sqla_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cqrs_sqla", None)
    monkeypatch.setitem(sys.modules, "cqrs_sqla.orm", None)

    with pytest.raises(cqrs.MissingDependencyError, match="pip install 'cqrs-sqla'"):
        _ = cqrs.rebind_outbox_model


@pytest.mark.parametrize("path", ["cqrs.saga.storage.sqlalchemy", "cqrs.outbox.sqlalchemy"])
def test_python_cqrs_sqlalchemy_paths_name_the_distribution_when_absent(path: str) -> None:
    code = (
        "import sys; sys.modules['cqrs_sqla'] = None\n"
        "import importlib, cqrs\n"
        f"try:\n    importlib.import_module({path!r})\n"
        "except cqrs.MissingDependencyError as error:\n    print(error)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )

    assert "pip install 'cqrs-sqla'" in result.stdout, result.stderr
