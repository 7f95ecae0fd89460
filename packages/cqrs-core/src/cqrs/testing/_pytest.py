"""pytest for the contract suites, or an error that names the extra installing it.

The suites (`cqrs.testing.inbox`, `.outbox_repository`, `.outbox_store`,
`.message_broker`, `.saga_storage`) import pytest from here, so that without
it they fail with `MissingDependencyError` instead of a bare
`No module named 'pytest'`. Their tests are coroutines, which pytest runs
through pytest-asyncio.
"""

from cqrs.exceptions import MissingDependencyError

try:
    import pytest
    import pytest_asyncio
except ImportError as _missing:
    raise MissingDependencyError(
        "the contract suites of cqrs.testing (pytest, pytest-asyncio)", "cqrs-core[testing]"
    ) from _missing

__all__ = ("pytest", "pytest_asyncio")
