"""cqrs-admin: an operator console for cqrs-core, over the `cqrs.admin` ports.

- `admin_router`: a FastAPI router (JSON API + console page) any application
  mounts, guarded by a bearer token (`BearerTokens`, from `CQRS_ADMIN_TOKENS`
  by default); errors are RFC 9457 problems.
- `cqrs-admin`, the command line (`cqrs_admin.cli`): the same operations
  against a database URL and Kafka bootstrap servers; needs the `sqla` and
  `kafka` extras.

>>> from cqrs.outbox import MemoryOutbox
>>> router = admin_router(
...     outbox=MemoryOutbox(),
...     authenticate=BearerTokens({"9f2c5e71d04b88aa71d0": "alice"}),
... )
>>> "/outbox/dead" in {route.path for route in router.routes}
True
"""

from cqrs_admin.auth import Authenticate, BearerTokens
from cqrs_admin.errors import AdminConsoleError, NoCredentialError, NotAuthenticatedError
from cqrs_admin.router import admin_router

__version__ = "0.1.0"

__all__ = (
    "admin_router",
    "Authenticate",
    "BearerTokens",
    "AdminConsoleError",
    "NoCredentialError",
    "NotAuthenticatedError",
    "__version__",
)
