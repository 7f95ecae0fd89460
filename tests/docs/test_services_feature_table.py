"""services/README.md's "Where each library feature shows" stays true.

Every name in the table's "names used" column must be a public name of a
library package (in a module's `__all__`) and be used somewhere under
`services/`: a feature the services stop using fails this test until its row
goes (or the use comes back).
"""

from __future__ import annotations

import functools
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).parents[2]
README = ROOT / "services" / "README.md"
HEADING = "## Where each library feature shows"
#: The features the issue asked the services to show; the table must keep a row for each.
REQUIRED_FEATURES = frozenset(
    {
        "streaming mediator",
        "event mediator and event handlers",
        "notification events",
        "sagas with a messaging step",
        "saga step fallback with a circuit breaker",
        "chain of responsibility",
        "Mermaid diagrams",
        "middlewares",
        "transactional outbox and its relay",
        "dependency injection",
        "telemetry",
        "signed messages",
        "idempotent requests",
        "synchronous event handlers",
        "event-carried state transfer",
    }
)

_NAME = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")


def feature_rows(readme: str) -> dict[str, list[str]]:
    """The table's rows under `HEADING`: feature -> the names of its second column.

    >>> table = "| feature | names used | where | demo |\\n|---|---|---|---|\\n"
    >>> feature_rows(f"{HEADING}\\n\\n{table}| sagas | `Saga`, `MessagingStep` | x | y |\\n")
    {'sagas': ['Saga', 'MessagingStep']}
    """
    section = readme.split(HEADING, 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 4 or set(cells[0]) <= {"-"}:
            continue
        if cells[0] == "feature":
            continue
        rows[cells[0]] = _NAME.findall(cells[1])
    return rows


@functools.cache
def services_code() -> str:
    return "\n".join(path.read_text("utf-8") for path in (ROOT / "services").rglob("*.py"))


@functools.cache
def library_exports() -> frozenset[str]:
    """Every name listed in an `__all__` of the library's packages."""
    names: set[str] = set()
    for path in (ROOT / "packages").glob("*/src/**/*.py"):
        text = path.read_text("utf-8")
        for block in re.findall(r"__all__\s*=\s*[\(\[](.*?)[\)\]]", text, re.S):
            names.update(re.findall(r"[\"'](\w+)[\"']", block))
    return frozenset(names)


ROWS = feature_rows(README.read_text("utf-8"))


def test_the_table_has_a_row_for_every_feature_the_services_show() -> None:
    assert ROWS.keys() >= REQUIRED_FEATURES, sorted(REQUIRED_FEATURES - ROWS.keys())
    assert all(ROWS.values()), [feature for feature, names in ROWS.items() if not names]


@pytest.mark.parametrize(("feature", "names"), sorted(ROWS.items()), ids=sorted(ROWS))
def test_each_name_of_a_feature_is_the_librarys_and_used_under_services(
    feature: str, names: list[str]
) -> None:
    not_exported = [name for name in names if name not in library_exports()]
    assert not not_exported, f"{feature}: {not_exported} are no library's public names"
    unused = [name for name in names if not re.search(rf"\b{name}\b", services_code())]
    assert not unused, (
        f"{feature}: services/ no longer uses {unused}; use it again or change the row "
        f"in services/README.md"
    )
