"""`error_tree_problems`: each way a drawn tree can differ from the classes, and what it
tells the author to change, on cqrs-core's own tree."""

from __future__ import annotations

import types

import pytest

from cqrs import exceptions
from cqrs.testing.error_tree import error_tree_problems

TREE = exceptions.__doc__ or ""


def drawn(docstring: str) -> types.ModuleType:
    """A stand-in for cqrs.exceptions whose docstring is `docstring`."""
    module = types.ModuleType("cqrs.exceptions")
    module.__doc__ = docstring
    return module


def line_of(name: str) -> str:
    [line] = [line for line in TREE.splitlines() if f"── {name}" in line]
    return line


def test_the_real_tree_has_no_problems() -> None:
    assert error_tree_problems(exceptions, "cqrs") == []


def test_a_missing_class_is_named_with_the_line_to_add_and_where() -> None:
    tree = TREE.replace(line_of("SagaNotFoundError") + "\n", "")

    assert error_tree_problems(drawn(tree), "cqrs") == [
        "SagaNotFoundError (cqrs.saga.errors) is not in the tree: under SagaError, add the "
        "line `SagaNotFoundError(LookupError)  cqrs.saga.errors: <what it means>`."
    ]


def test_a_class_under_the_wrong_parent_or_without_a_base_is_redrawn() -> None:
    tree = TREE.replace("SagaStepTimeoutError(TimeoutError)", "SagaStepTimeoutError")
    tree = tree.replace(line_of("InboxDeadlockError"), "│   " + line_of("InboxDeadlockError"))

    assert error_tree_problems(drawn(tree), "cqrs") == [
        "InboxDeadlockError derives from CQRSError, not InvalidInboxKeyError: "
        "draw it as `InboxDeadlockError` under CQRSError.",
        "SagaStepTimeoutError derives from SagaError, TimeoutError, not SagaError: "
        "draw it as `SagaStepTimeoutError(TimeoutError)` under SagaError.",
    ]


def test_a_class_whose_base_is_not_drawn_goes_at_the_top_with_all_its_bases() -> None:
    lines = TREE.splitlines(keepends=True)
    tree = "".join(line for line in lines if not line.startswith("InjectedFailure"))
    tree = tree.replace("CQRSError(Exception) ", "CQRSError ")

    assert error_tree_problems(drawn(tree), "cqrs") == [
        "CQRSError derives from Exception, not -: draw it as `CQRSError(Exception)` "
        "at the top, unindented.",
        "InjectedFailure (cqrs.testing.saga) is not in the tree: at the top, unindented, add "
        "the line `InjectedFailure(Exception)  cqrs.testing.saga: <what it means>`.",
    ]


def test_a_class_said_to_be_importable_from_a_module_that_lacks_it() -> None:
    tree = TREE.replace("cqrs.inbox: transactions", "cqrs.saga: transactions")

    assert error_tree_problems(drawn(tree), "cqrs") == [
        "InboxDeadlockError is not importable from cqrs.saga: start its description "
        "with `cqrs.inbox.memory:`."
    ]


def test_a_drawn_class_the_package_lacks_and_a_class_drawn_twice() -> None:
    tree = TREE.replace(
        line_of("EventHandlingError"),
        f"{line_of('EventHandlingError')}\n├── GhostError\n{line_of('EventHandlingError')}",
    )

    assert error_tree_problems(drawn(tree), "cqrs") == [
        "EventHandlingError is drawn twice: keep one line.",
        "GhostError is drawn, but cqrs defines no such exception class: remove it.",
    ]


@pytest.mark.parametrize(
    ("docstring", "problem"),
    [
        ("No tree here.", "cqrs.exceptions's docstring has no ``` block with the error tree."),
        (
            TREE.replace("├── EventHandlingError", "├── Event-Handling"),
            "cannot read this line of the tree: ",
        ),
    ],
    ids=["no-block", "unreadable-line"],
)
def test_a_tree_that_cannot_be_read_says_so(docstring: str, problem: str) -> None:
    assert any(found.startswith(problem) for found in error_tree_problems(drawn(docstring), "cqrs"))
