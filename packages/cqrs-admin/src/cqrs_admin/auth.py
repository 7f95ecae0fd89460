"""Who may use the admin router, and under which name the audit log records them.

The router takes an `authenticate` dependency: any FastAPI dependency that
returns the operator's name (the audit log's actor) and raises for a request
it refuses. `BearerTokens` is a ready one: it checks `Authorization: Bearer
<token>` against tokens read from an environment variable, `CQRS_ADMIN_TOKENS`
by default, written as comma-separated `name:token` pairs (a bare `token` is
the operator `admin`; a token cannot hold `,` or `:`):

```
CQRS_ADMIN_TOKENS="alice:9f2c...e1,bob:77aa...03"
```

>>> tokens = BearerTokens.parse("alice:9f2c5e71d04b88aa, bob:77aa0c3e51f2b6d9")
>>> sorted(tokens.actors)
['alice', 'bob']
>>> BearerTokens.parse(" ")
Traceback (most recent call last):
  ...
cqrs_admin.errors.NoCredentialError: no admin token is configured (an empty list): ...
"""

from __future__ import annotations

import hmac
import os
import typing

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cqrs.admin.audit import MAX_ACTOR_LENGTH
from cqrs_admin.errors import NoCredentialError, NotAuthenticatedError

__all__ = ("Authenticate", "BearerTokens", "TOKENS_ENV", "MIN_TOKEN_LENGTH")

#: The environment variable `BearerTokens.from_env` reads by default.
TOKENS_ENV: typing.Final = "CQRS_ADMIN_TOKENS"
#: Tokens shorter than this are refused: they could be guessed.
MIN_TOKEN_LENGTH: typing.Final = 16
_DEFAULT_ACTOR = "admin"

#: A FastAPI dependency that returns the operator's name, or raises to refuse.
Authenticate = typing.Callable[..., typing.Awaitable[str] | str]

# `auto_error=False`: a missing header is answered by `BearerTokens` itself, as a
# problem with `WWW-Authenticate`, not by FastAPI's 403.
_BEARER = HTTPBearer(auto_error=False, description="An operator's admin token.")


class BearerTokens:
    """`authenticate` for the admin router: checks the bearer token against known ones.

    `tokens` maps each token to the operator it names. Refuses (raises
    `NoCredentialError`) to be built without a token, or with one shorter
    than `MIN_TOKEN_LENGTH` characters.
    """

    def __init__(self, tokens: typing.Mapping[str, str]) -> None:
        if not tokens:
            raise NoCredentialError(
                "no admin token is configured (an empty list): there is no open admin. "
                f"Set {TOKENS_ENV} to name:token pairs, or pass authenticate=."
            )
        for token, actor in tokens.items():
            if len(token) < MIN_TOKEN_LENGTH:
                raise NoCredentialError(
                    f"the admin token of {actor!r} is {len(token)} characters long; give "
                    f"tokens of at least {MIN_TOKEN_LENGTH} (e.g. `openssl rand -hex 24`)"
                )
        self._tokens = [(token.encode(), actor) for token, actor in tokens.items()]

    @property
    def actors(self) -> list[str]:
        """The operators these tokens name."""
        return [actor for _, actor in self._tokens]

    @classmethod
    def parse(cls, text: str) -> BearerTokens:
        """Tokens written as comma-separated `name:token` pairs (or bare tokens, which
        name the operator `admin`)."""
        tokens: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            actor, _, token = item.rpartition(":")
            actor = actor.strip() or _DEFAULT_ACTOR
            if len(actor) > MAX_ACTOR_LENGTH:
                raise NoCredentialError(f"operator name {actor[:20]!r}... is too long")
            tokens[token.strip()] = actor
        return cls(tokens)

    @classmethod
    def from_env(cls, variable: str = TOKENS_ENV) -> BearerTokens:
        """Tokens from environment variable `variable` (see the module docstring).

        Raises `NoCredentialError` when it is unset or holds no token.
        """
        return cls.parse(os.environ.get(variable, ""))

    async def __call__(
        self, credentials: typing.Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]
    ) -> str:
        """The name of the operator whose token the request carries; raises
        `NotAuthenticatedError` for none or an unknown one."""
        if credentials is None:
            raise NotAuthenticatedError(
                "this route needs an operator's token: send `Authorization: Bearer <token>`"
            )
        given = credentials.credentials.encode()
        actor = None
        for token, name in self._tokens:
            # Every token is compared, in constant time: no timing tells which matched.
            if hmac.compare_digest(given, token):
                actor = name
        if actor is None:
            raise NotAuthenticatedError("the bearer token is not valid", error="invalid_token")
        return actor
