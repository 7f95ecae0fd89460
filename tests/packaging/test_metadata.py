"""What every workspace member tells the package index: where the project lives, and a
README whose links work off the repository (PyPI shows it as it is)."""

from __future__ import annotations

import importlib.metadata
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
HOME = "https://github.com/cqrs-toolkit/cqrs"
# A Markdown link or image target: `](target)`.
LINK = re.compile(r"\]\(([^)\s]+)\)")
MEMBERS = sorted([*ROOT.glob("packages/*/pyproject.toml"), *ROOT.glob("services/*/pyproject.toml")])


def field(pyproject: pathlib.Path, name: str) -> str | None:
    """A top-level string field of the `[project]` table (`name`, `readme`)."""
    found = re.search(rf'^{name} = "([^"]+)"', pyproject.read_text(), flags=re.MULTILINE)
    return found.group(1) if found else None


def project_urls(distribution: str) -> dict[str, str]:
    entries = importlib.metadata.metadata(distribution).get_all("Project-URL") or []
    return dict(entry.split(", ", 1) for entry in entries)


def test_the_members_are_found() -> None:
    names = {field(pyproject, "name") for pyproject in MEMBERS}

    assert {"cqrs-core", "cqrs-sqla", "cqrs-kafka", "cqrs-demo"} <= names


@pytest.mark.parametrize("pyproject", MEMBERS, ids=lambda path: path.parent.name)
def test_the_metadata_names_the_repository(pyproject: pathlib.Path) -> None:
    distribution = field(pyproject, "name")
    assert distribution is not None

    urls = project_urls(distribution)

    assert urls.get("Homepage") == HOME, urls
    assert urls.get("Repository") == HOME, urls
    assert urls.get("Documentation", "").startswith(f"{HOME}/tree/main/"), urls


def readme_of(pyproject: pathlib.Path) -> pathlib.Path | None:
    """The README the member publishes as its description, if it declares one."""
    readme = field(pyproject, "readme")
    return None if readme is None else pyproject.parent / readme


PUBLISHED = [pyproject for pyproject in MEMBERS if readme_of(pyproject) is not None]


def test_the_libraries_publish_a_readme() -> None:
    names = {pyproject.parent.name for pyproject in PUBLISHED}

    assert {"cqrs-core", "cqrs-sqla", "cqrs-kafka"} <= names


@pytest.mark.parametrize("pyproject", PUBLISHED, ids=lambda path: path.parent.name)
def test_a_published_readme_links_only_to_absolute_addresses(pyproject: pathlib.Path) -> None:
    readme = readme_of(pyproject)
    assert readme is not None

    text = readme.read_text()
    relative = [
        target
        for target in LINK.findall(text)
        if not target.startswith(("https://", "http://", "#", "mailto:"))
    ]

    assert relative == [], f"{readme} links relatively, which breaks on PyPI"
