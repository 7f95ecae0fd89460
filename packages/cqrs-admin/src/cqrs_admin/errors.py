"""Every error cqrs-admin raises, in one tree.

```
AdminConsoleError(CQRSError)             base of the errors of the router
├── NoCredentialError(ConfigurationError)  the router was built with no way to check a token
└── NotAuthenticatedError                a request without a valid bearer token (answered 401)
UsageError(Exception)                    cqrs_admin.cli: a command line it cannot run (exit 2)
```

The operators' own mistakes and refusals (unknown ids, bad reasons, a second
replay) are cqrs-core's `AdminError`s; the router answers them as problems, and
the command line with its exit codes. A test (`cqrs.testing.error_tree`) holds
this tree to the classes.
"""

from __future__ import annotations

from cqrs.exceptions import ConfigurationError, CQRSError

__all__ = ("AdminConsoleError", "NoCredentialError", "NotAuthenticatedError")


class AdminConsoleError(CQRSError):
    """Base class of the errors of cqrs-admin."""


class NoCredentialError(AdminConsoleError, ConfigurationError):
    """The admin router would be open to anyone: give it `authenticate=`, or set the
    tokens variable (`CQRS_ADMIN_TOKENS` by default). There is no open admin."""


class NotAuthenticatedError(AdminConsoleError):
    """The request carries no bearer token, or one no operator holds (HTTP 401)."""

    def __init__(self, detail: str, *, error: str | None = None) -> None:
        super().__init__(detail)
        #: The RFC 6750 `error` code for the `WWW-Authenticate` header, if any.
        self.error = error
