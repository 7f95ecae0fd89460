"""Who is calling: operator tokens with scopes, and customers (open, or JWT).

Operators (restock, the admin console) always present a bearer token;
`OperatorTokens.require(scope)` is the route's dependency:

- `OPERATOR_TOKENS`: `name:token:scope+scope` entries, comma-separated
  (`alice:Qx8...:stock.restock+admin,bob:Zk2...:admin`). The name is who acted
  (the admin audit's actor); tokens are long random strings (`new_token()`).
- No token, or one nobody holds: 401 with `WWW-Authenticate: Bearer`. A
  token without the route's scope: 403 (`error="insufficient_scope"`).

Customers (`CustomerAuth.from_env()`), by `CUSTOMER_AUTH`:

- `open` (the default): no credential; the customer is whoever the request
  names, as without authentication (`Customer.id` is `None`).
- `jwt`: a bearer JWT verified with `CUSTOMER_JWT_KEY` (a shared secret for
  `HS*`, a PEM public key for `RS*`/`ES*`; `CUSTOMER_JWT_KEY_FILE` reads it
  from a file), `CUSTOMER_JWT_ALGORITHM` (default `RS256`),
  `CUSTOMER_JWT_ISSUER` and `CUSTOMER_JWT_AUDIENCE`, its expiry checked; the
  customer is the token's subject (`sub`). A missing or invalid token: 401.

Both put a bearer security scheme in the OpenAPI document; declare the
answers with `auth_responses()` (401, 403) on the routes.

>>> tokens = OperatorTokens.parse("alice:" + "t" * 32 + ":stock.restock+admin")
>>> operator = tokens.holder("t" * 32)
>>> operator.name, sorted(operator.scopes)
('alice', ['admin', 'stock.restock'])
"""

from __future__ import annotations

import collections.abc
import dataclasses
import hashlib
import os
import pathlib
import secrets
import typing

import fastapi
import jwt
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jwt.algorithms import get_default_algorithms

from cqrs.exceptions import ConfigurationError
from servicekit.openapi import Responses, problem_responses

__all__ = (
    "Customer",
    "CustomerAuth",
    "Operator",
    "OperatorTokens",
    "auth_responses",
    "new_token",
)

#: The shortest operator token taken: guessing one must be hopeless.
MIN_TOKEN_LENGTH: typing.Final = 24

#: The shortest shared secret each HMAC algorithm takes: its hash's size (RFC 7518, 3.2).
_HMAC_KEY_BYTES: typing.Final = {"HS256": 32, "HS384": 48, "HS512": 64}

_bearer = HTTPBearer(auto_error=False, description="an operator token or a customer JWT")
#: The bearer credentials of a request, if it sent any.
Credentials = typing.Annotated[HTTPAuthorizationCredentials | None, fastapi.Depends(_bearer)]


def auth_responses() -> Responses:
    """The `responses=` of a route behind a credential: 401 and 403 problems.

    >>> sorted(auth_responses())
    [401, 403]
    """
    return problem_responses(401, 403)


def new_token() -> str:
    """A new random operator token (43 URL-safe characters).

    >>> len(new_token())
    43
    """
    return secrets.token_urlsafe(32)


def _unauthorized(detail: str, error: str | None = None) -> fastapi.HTTPException:
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    return fastapi.HTTPException(401, detail, headers={"WWW-Authenticate": challenge})


@dataclasses.dataclass(frozen=True)
class Operator:
    """An operator who presented a valid token: their name and scopes."""

    name: str
    scopes: frozenset[str]


class OperatorTokens:
    """The operators' tokens (kept hashed) and what each may do."""

    def __init__(self, operators: collections.abc.Mapping[str, Operator]) -> None:
        self._by_digest = {_digest(token): operator for token, operator in operators.items()}

    @classmethod
    def parse(cls, spec: str) -> OperatorTokens:
        """Tokens from `name:token:scope+scope` entries, comma-separated (empty: none).

        Raises `ConfigurationError` for an entry without three parts, a token
        shorter than `MIN_TOKEN_LENGTH`, or no scope.
        """
        operators: dict[str, Operator] = {}
        for entry in filter(None, (part.strip() for part in spec.split(","))):
            name, token, scopes = [*entry.split(":", 2), "", ""][:3]
            granted = frozenset(filter(None, scopes.split("+")))
            if not name or len(token) < MIN_TOKEN_LENGTH or not granted:
                # An entry without a colon may be a bare token: never shown.
                shown = name if ":" in entry and name else "?"
                raise ConfigurationError(
                    f"OPERATOR_TOKENS entry for {shown!r} must be name:token:scope+scope, "
                    f"with a token of {MIN_TOKEN_LENGTH} characters or more "
                    "(servicekit.auth.new_token() makes one)."
                )
            operators[token] = Operator(name, granted)
        return cls(operators)

    @classmethod
    def from_env(cls, variable: str = "OPERATOR_TOKENS") -> OperatorTokens:
        """The tokens of `variable` (see `parse`); none when it is unset."""
        return cls.parse(os.environ.get(variable, ""))

    def holder(self, token: str) -> Operator | None:
        """Who holds `token`, or `None`."""
        return self._by_digest.get(_digest(token))

    def grants(self, scope: str) -> bool:
        """Whether some operator holds `scope` (a route nobody may use need not be mounted).

        >>> OperatorTokens.parse("").grants("admin")
        False
        """
        return any(scope in operator.scopes for operator in self._by_digest.values())

    def require(self, scope: str) -> typing.Callable[..., typing.Awaitable[Operator]]:
        """A dependency admitting only holders of a token with `scope`; it returns them."""

        async def operator(credentials: Credentials) -> Operator:
            return self._admit(credentials, scope)

        return operator

    def actor(self, scope: str) -> typing.Callable[..., typing.Awaitable[str]]:
        """As `require`, returning the operator's name: cqrs-admin's `authenticate`
        (`admin_router(authenticate=tokens.actor("admin"))`)."""

        async def name(credentials: Credentials) -> str:
            return self._admit(credentials, scope).name

        return name

    def _admit(self, credentials: HTTPAuthorizationCredentials | None, scope: str) -> Operator:
        if credentials is None:
            raise _unauthorized(f"this route needs an operator token with scope {scope!r}")
        holder = self.holder(credentials.credentials)
        if holder is None:
            raise _unauthorized("the operator token is not valid", "invalid_token")
        if scope not in holder.scopes:
            raise fastapi.HTTPException(
                403,
                f"the token of {holder.name!r} lacks scope {scope!r}",
                headers={"WWW-Authenticate": f'Bearer error="insufficient_scope" scope="{scope}"'},
            )
        return holder


def _digest(token: str) -> bytes:
    # Looked up by digest: a dict lookup on the token itself could leak its
    # prefix through timing.
    return hashlib.sha256(token.encode()).digest()


@dataclasses.dataclass(frozen=True)
class Customer:
    """The calling customer: `id` is the verified subject (`jwt`), or `None` (`open`:
    the request names the customer)."""

    id: str | None

    def chosen(self, claimed: str) -> str:
        """The customer a request acts for: the verified one, else the one it claims."""
        return claimed if self.id is None else self.id

    def may_see(self, owner: str) -> bool:
        """Whether this customer may read what `owner` has (always, in `open` mode)."""
        return self.id is None or self.id == owner


@dataclasses.dataclass(frozen=True)
class CustomerAuth:
    """How customers are identified: `mode` `open` or `jwt` (see the module docstring).

    Raises `ConfigurationError` for `jwt` without a key, issuer or audience.
    """

    mode: typing.Literal["open", "jwt"] = "open"
    key: str | None = dataclasses.field(default=None, repr=False)
    algorithm: str = "RS256"
    issuer: str | None = None
    audience: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("open", "jwt"):
            raise ConfigurationError(f"CUSTOMER_AUTH={self.mode!r} is not open or jwt.")
        if self.mode == "jwt" and not (self.key and self.issuer and self.audience):
            raise ConfigurationError(
                "CUSTOMER_AUTH=jwt needs CUSTOMER_JWT_KEY (or CUSTOMER_JWT_KEY_FILE), "
                "CUSTOMER_JWT_ISSUER and CUSTOMER_JWT_AUDIENCE."
            )
        if self.mode == "jwt":
            self._check_key()

    def _check_key(self) -> None:
        """Refuse `none` and unknown algorithms, and a key the algorithm cannot use."""
        if self.algorithm == "none" or self.algorithm not in get_default_algorithms():
            raise ConfigurationError(
                f"CUSTOMER_JWT_ALGORITHM={self.algorithm!r} is not a signing algorithm "
                "PyJWT knows: use HS256 (a shared secret) or RS256 (a PEM public key)."
            )
        key = typing.cast(str, self.key)
        shortest = _HMAC_KEY_BYTES.get(self.algorithm, 0)
        if len(key.encode()) < shortest:
            raise ConfigurationError(
                f"CUSTOMER_JWT_KEY is too short for {self.algorithm}: give a shared secret of "
                f"{shortest} bytes or more (RFC 7518, 3.2), e.g. `openssl rand -hex {shortest}`."
            )
        try:
            jwt.get_algorithm_by_name(self.algorithm).prepare_key(key)
        except jwt.PyJWTError as exc:
            raise ConfigurationError(
                f"CUSTOMER_JWT_KEY does not suit CUSTOMER_JWT_ALGORITHM={self.algorithm} "
                f"({exc}): give a shared secret for HS*, a PEM public key for RS*/ES*/PS*."
            ) from None

    @classmethod
    def from_env(
        cls, environ: collections.abc.Mapping[str, str] | None = None, *, prefix: str = ""
    ) -> CustomerAuth:
        """The settings of the `CUSTOMER_*` variables (see the module docstring), each
        name after `prefix` (`ORDERS_` reads `ORDERS_CUSTOMER_AUTH`...).

        Raises `ConfigurationError` naming the variables to set, or a key file that
        cannot be read.

        >>> CustomerAuth.from_env({}).mode
        'open'
        >>> CustomerAuth.from_env({"ORDERS_CUSTOMER_AUTH": "jwt"}, prefix="ORDERS_")
        Traceback (most recent call last):
          ...
        cqrs.exceptions.ConfigurationError: ORDERS_CUSTOMER_AUTH=jwt needs ORDERS_CUSTOMER_JWT...
        """
        environ = os.environ if environ is None else environ

        def setting(name: str) -> str | None:
            return environ.get(f"{prefix}CUSTOMER_{name}") or None

        key = setting("JWT_KEY")
        key_file = setting("JWT_KEY_FILE")
        try:
            if not key and key_file:
                key = _read_key(key_file, f"{prefix}CUSTOMER_JWT_KEY_FILE")
            return cls(
                mode=typing.cast(
                    typing.Literal["open", "jwt"], (setting("AUTH") or "open").strip().lower()
                ),
                key=key,
                algorithm=setting("JWT_ALGORITHM") or "RS256",
                issuer=setting("JWT_ISSUER"),
                audience=setting("JWT_AUDIENCE"),
            )
        except ConfigurationError as exc:
            if not prefix:
                raise
            raise ConfigurationError(str(exc).replace("CUSTOMER_", f"{prefix}CUSTOMER_")) from None

    def subject(self, token: str) -> str:
        """The subject of a valid `token`; raises `fastapi.HTTPException` 401 if invalid."""
        try:
            claims = jwt.decode(
                token,
                typing.cast(str, self.key),  # set in jwt mode, the only one calling
                algorithms=[self.algorithm],
                issuer=self.issuer,
                audience=self.audience,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise _unauthorized(f"the customer token is not valid: {exc}", "invalid_token") from exc
        return str(claims["sub"])

    def dependency(self) -> typing.Callable[..., typing.Awaitable[Customer]]:
        """The route dependency for this mode: `customer` in `jwt` mode (which puts the
        bearer scheme in the OpenAPI document); in `open` mode one that asks for no
        credential, so the document asks for none either."""
        return self.customer if self.mode == "jwt" else _anyone

    async def customer(
        self,
        credentials: typing.Annotated[
            HTTPAuthorizationCredentials | None, fastapi.Depends(_bearer)
        ],
    ) -> Customer:
        """The dependency: the calling `Customer` (401 in `jwt` mode without a valid token)."""
        if self.mode == "open":
            return Customer(None)
        if credentials is None:
            raise _unauthorized("this route needs a customer token (Authorization: Bearer ...)")
        return Customer(self.subject(credentials.credentials))


async def _anyone() -> Customer:
    return Customer(None)


def _read_key(path: str, variable: str) -> str:
    try:
        return pathlib.Path(path).read_text()
    except OSError as exc:
        raise ConfigurationError(
            f"{variable}={path!r} cannot be read ({exc.strerror}): give the path of the "
            "PEM public key (or the shared secret) that verifies customer tokens."
        ) from None
