"""cqrs-admin's errors: the tree drawn in cqrs_admin/errors.py."""

from __future__ import annotations

from cqrs.testing.error_tree import error_tree_problems
from cqrs_admin import errors


def test_the_tree_in_the_docstring_draws_every_error_as_it_is() -> None:
    assert error_tree_problems(errors, "cqrs_admin") == []
