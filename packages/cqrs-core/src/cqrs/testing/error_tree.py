"""`error_tree_problems`: checks a package's error tree, drawn in a docstring, against its
classes, so that the drawing cannot drift from the code.

The tree is the first fenced block of the module's docstring, one class a line:

```
CQRSError(Exception)                     every error
├── ConfigurationError                   a setup mistake
│   └── SagaDefinitionError              cqrs.saga: a saga class that cannot run
└── RequestHandlerNotFoundError(LookupError)
```

- A class's first base is its parent in the tree; its other bases follow its
  name in parentheses. A line without a parent (a root) names all its bases.
- A description may start with a module and a colon (`cqrs.saga:`): the class
  is imported from there. Without one it is imported from the module whose
  docstring draws the tree.
- The tree lists every public exception class the package defines (in any
  of its modules that can be imported here), once.

A test per package keeps it so:

>>> import cqrs.exceptions
>>> error_tree_problems(cqrs.exceptions, "cqrs")
[]
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
import types

__all__ = ("error_tree_problems",)

_LINE = re.compile(
    r"^(?P<indent>(?:│   |    )*)(?:[├└]── )?"
    r"(?P<name>\w+)(?:\((?P<bases>[\w, ]*)\))?"
    r"(?:\s{2,}(?:(?P<module>[\w.]+):\s)?.*)?$"
)


@dataclasses.dataclass(frozen=True)
class _Drawn:
    """One line of the tree."""

    name: str
    bases: tuple[str, ...]  # the parent in the tree first, then the named ones
    module: str


def error_tree_problems(documented_in: types.ModuleType, package: str) -> list[str]:
    """What to change in `documented_in`'s error tree so that it draws the exception
    classes of `package` as they are, one sentence each; empty when it does."""
    drawn, problems = _parse(documented_in)
    classes = _exception_classes(package)
    for name, error in sorted(classes.items()):
        bases = tuple(base.__name__ for base in error.__bases__)
        line = drawn.get(name)
        if line is None:
            problems.append(
                f"{name} ({error.__module__}) is not in the tree: {_where(bases, drawn)}, add "
                f"the line `{_drawing(name, bases, drawn)}  {_description(error, documented_in)}`."
            )
        elif line.bases != bases:
            problems.append(
                f"{name} derives from {', '.join(bases)}, not {', '.join(line.bases) or '-'}: "
                f"draw it as `{_drawing(name, bases, drawn)}` {_where(bases, drawn)}."
            )
        elif _imported(line.module, name) is not error:
            problems.append(
                f"{name} is not importable from {line.module}: start its description "
                f"with `{error.__module__}:`."
            )
    problems += [
        f"{name} is drawn, but {package} defines no such exception class: remove it."
        for name in sorted(drawn.keys() - classes.keys())
    ]
    return problems


def _parse(module: types.ModuleType) -> tuple[dict[str, _Drawn], list[str]]:
    """The lines of the tree in `module`'s docstring, and what is wrong with its form."""
    blocks = (module.__doc__ or "").split("```")
    if len(blocks) < 3:
        return {}, [f"{module.__name__}'s docstring has no ``` block with the error tree."]
    drawn: dict[str, _Drawn] = {}
    problems: list[str] = []
    parents: list[str] = []  # the names on the path to the current line, by depth
    for text in blocks[1].strip("\n").splitlines():
        line = _LINE.match(text)
        if line is None:
            problems.append(f"cannot read this line of the tree: {text!r}")
            continue
        depth = len(line["indent"]) // 4 + (0 if text[0].isalnum() else 1)
        del parents[depth:]
        named = tuple(base.strip() for base in (line["bases"] or "").split(",") if base.strip())
        name = line["name"]
        if name in drawn:
            problems.append(f"{name} is drawn twice: keep one line.")
        drawn[name] = _Drawn(name, (*parents[-1:], *named), line["module"] or module.__name__)
        parents.append(name)
    return drawn, problems


def _exception_classes(package: str) -> dict[str, type[BaseException]]:
    """The public exception classes defined in the modules of `package` that import."""
    root = importlib.import_module(package)
    names = [package]
    if hasattr(root, "__path__"):
        names += [info.name for info in pkgutil.walk_packages(root.__path__, f"{package}.")]
    classes: dict[str, type[BaseException]] = {}
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError:  # an optional dependency is missing: nothing to check there
            continue
        for attribute, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == name
                and not attribute.startswith("_")
            ):
                classes[attribute] = value
    return classes


def _imported(module: str, name: str) -> object:
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def _where(bases: tuple[str, ...], drawn: dict[str, _Drawn]) -> str:
    """Where a class with `bases` goes: under its first base, or at the top when the tree
    does not draw that base."""
    return f"under {bases[0]}" if bases[0] in drawn else "at the top, unindented"


def _drawing(name: str, bases: tuple[str, ...], drawn: dict[str, _Drawn]) -> str:
    """How the tree writes a class: under its first base, its other bases in parentheses;
    at the top (its first base not drawn), all of them."""
    named = bases[1:] if bases[0] in drawn else bases
    return f"{name}({', '.join(named)})" if named else name


def _description(error: type[BaseException], documented_in: types.ModuleType) -> str:
    """The start of a class's description: where it is imported from, unless from here."""
    if error.__module__ == documented_in.__name__:
        return "<what it means>"
    return f"{error.__module__}: <what it means>"
