"""The orders service's settings, read from environment variables (and `.env`).

The rules are every service's (`servicekit.settings`): the prefix is
`ORDERS_`, an unset or empty variable keeps the default, and a value that
does not parse is a `SettingsError` naming the variable.

- `ORDERS_DATABASE_URL` (`sqlite+aiosqlite:///./orders.db`): SQLAlchemy async URL
- `ORDERS_DATABASE_POOL_SIZE` (`20`): database connections the service keeps open
  once its load has needed them (10 more are opened for a burst, closed after it);
  size it to the requests, event streams and replies it handles at once
- `ORDERS_REPLIES_IN_FLIGHT` (`8`): inventory replies to different orders the reply
  consumer handles at once per partition (the replies of one order stay in order);
  `1`: one at a time
- `ORDERS_HOST` (`127.0.0.1`), `ORDERS_PORT` (`8000`; 0: a free one): the HTTP API
- `ORDERS_RELAY_IN_PROCESS` (`false`): `serve` runs the outbox relay too
- `ORDERS_MIGRATE_ON_START` (`true`): `serve` and `relay` upgrade the schema first;
  `false`: they refuse a database that is behind (run `orders migrate`)
- `ORDERS_REPLY_TIMEOUT_SECONDS` (`30`): how long the saga awaits the inventory's reply
- `ORDERS_INVENTORY_URL` (`http://127.0.0.1:8001`): where the page finds the inventory's
  stock view and API (links only: the services talk over Kafka)
- `ORDERS_TRACE_URL_TEMPLATE` (unset): a tracing UI's page of one trace, with
  `{trace_id}` where the id goes (Jaeger's `http://localhost:16686/trace/{trace_id}`):
  the page links each order to its trace
- `ORDERS_STREAM_POLL_SECONDS` (`5`): how often an event stream reads the step log
  when no change was pushed (a notification lost)
- `ORDERS_IDEMPOTENCY_TTL_SECONDS` (`86400`, a day): how long the `Idempotency-Key` of a
  `POST /orders` is kept: a retry under the key within that time gets the first answer,
  a later one places a new order. Expired keys are purged every
  `ORDERS_IDEMPOTENCY_PURGE_SECONDS` (`600`)
- `PAYMENT_CREDIT_LIMIT` (`1000.00`): charges above it are declined
- `PAYMENT_PRIMARY_FAILS` (`false`): the primary payment provider fails every call, so
  the payment step falls back on the backup and the primary's circuit breaker opens
- `KAFKA_BOOTSTRAP_SERVERS` (`localhost:9092`): `host:port`, comma between several
- `KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*`, `KAFKA_SSL_*` (`PLAINTEXT`): TLS and SASL of
  every Kafka client, read by cqrs-kafka from the process environment (not `.env`;
  `cqrs_kafka.security`), so not fields of these settings
- `ORDERS_DOCS_ENABLED` (`true`): serve `/docs`, `/redoc` and `/openapi.json`
  (`false`: all three answer 404)
- `ORDERS_CUSTOMER_AUTH` (`open`): who the customer is. `open`: whoever the request
  names (`customer_id`), as without authentication. `jwt`: the subject (`sub`) of a
  bearer JWT the service verifies; a `customer_id` the request names is ignored,
  and another customer's order answers 404. `jwt` needs:
  - `ORDERS_CUSTOMER_JWT_KEY` (or `ORDERS_CUSTOMER_JWT_KEY_FILE`, a file holding it):
    the shared secret (`HS256`, 32 bytes or more) or the PEM public key (`RS256`)
    tokens are signed for (checked at start)
  - `ORDERS_CUSTOMER_JWT_ALGORITHM` (`RS256`)
  - `ORDERS_CUSTOMER_JWT_ISSUER`, `ORDERS_CUSTOMER_JWT_AUDIENCE`: the `iss` and `aud` a
    token must carry (`exp` and `sub` are required too)
- `ORDERS_RATE_LIMIT` (`off`): how many `POST /orders` one client may send,
  `<count>/<second|minute|hour>` (`20/second`: a burst of 20, refilled at 20 a
  second); past it 429 with `Retry-After`. The client is the customer in `jwt`
  mode, else the peer address. The demo launcher sets `20/second`.
- `OPERATOR_TOKENS` (unset: no operator gets in): the operators' bearer tokens,
  `name:token:scope+scope` comma-separated (`servicekit.auth`); the admin console at
  `/admin` needs scope `admin` (it is mounted only when someone holds it)
- `LOG_LEVEL` (`INFO`), `LOG_FORMAT` (`text` or `json`): see `servicekit.logs`

>>> settings = Settings.load({"ORDERS_PORT": "8100", "PAYMENT_CREDIT_LIMIT": "250.00"})
>>> settings.port, settings.payment_credit_limit, settings.reply_timeout.total_seconds()
(8100, Decimal('250.00'), 30.0)
>>> settings.idempotency_ttl
datetime.timedelta(days=1)
>>> Settings.load({"ORDERS_PORT": "eighty"})
Traceback (most recent call last):
  ...
servicekit.settings.SettingsError: ORDERS_PORT='eighty' is not valid: ...
"""

from __future__ import annotations

import datetime
import decimal
import pathlib
import typing

import pydantic
import pydantic_settings

from cqrs.exceptions import ConfigurationError
from cqrs.idempotency import DEFAULT_TTL
from servicekit.auth import CustomerAuth
from servicekit.rate_limit import RateLimit
from servicekit.settings import ServiceSettings, SettingsError

__all__ = ("Settings", "SettingsError")


def _comma_separated(value: object) -> object:
    # A variable is text: "kettle, urn" is two skus, "" none.
    if isinstance(value, str):
        return frozenset(part.strip() for part in value.split(",") if part.strip())
    return value


class Settings(ServiceSettings):
    """Where the service listens, what it connects to, and its business limits."""

    model_config = pydantic_settings.SettingsConfigDict(env_prefix="ORDERS_")

    database_url: str = "sqlite+aiosqlite:///./orders.db"
    database_pool_size: int = pydantic.Field(default=20, ge=1, le=1000)
    replies_in_flight: int = pydantic.Field(default=8, ge=1, le=1000)
    port: int = pydantic.Field(default=8000, ge=0, le=65535)
    payment_credit_limit: decimal.Decimal = pydantic.Field(
        default=decimal.Decimal("1000.00"),
        ge=0,
        allow_inf_nan=False,
        validation_alias="PAYMENT_CREDIT_LIMIT",
    )
    payment_primary_fails: bool = pydantic.Field(
        default=False, validation_alias="PAYMENT_PRIMARY_FAILS"
    )
    reply_timeout_seconds: float = pydantic.Field(default=30.0, gt=0, allow_inf_nan=False)
    inventory_url: str = "http://127.0.0.1:8001"
    stream_poll_seconds: float = pydantic.Field(default=5.0, gt=0, allow_inf_nan=False)
    idempotency_ttl_seconds: float = pydantic.Field(
        default=DEFAULT_TTL.total_seconds(), gt=0, allow_inf_nan=False
    )
    idempotency_purge_seconds: float = pydantic.Field(default=600.0, gt=0, allow_inf_nan=False)
    trace_url_template: str | None = pydantic.Field(default=None, pattern=r"^.*\{trace_id\}.*$")
    #: Skus the screening refuses, separated by commas (`ORDERS_BLOCKED_SKUS=kettle,urn`).
    blocked_skus: typing.Annotated[
        frozenset[str], pydantic_settings.NoDecode, pydantic.BeforeValidator(_comma_separated)
    ] = frozenset()
    #: The largest total the screening accepts; unset: no limit.
    max_order_total: decimal.Decimal | None = pydantic.Field(
        default=None, gt=0, allow_inf_nan=False
    )

    #: `open` or `jwt` (see the module's list for the `customer_jwt_*` fields).
    customer_auth: typing.Literal["open", "jwt"] = "open"
    customer_jwt_key: pydantic.SecretStr | None = None
    customer_jwt_key_file: pathlib.Path | None = None
    customer_jwt_algorithm: str = "RS256"
    customer_jwt_issuer: str | None = None
    customer_jwt_audience: str | None = None
    #: `POST /orders` per client: `<count>/<second|minute|hour>`, or `off`.
    rate_limit: str = "off"

    @pydantic.field_validator("customer_auth", mode="before")
    @classmethod
    def _lower_case_mode(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @pydantic.field_validator("rate_limit")
    @classmethod
    def _limit_parses(cls, value: str) -> str:
        try:
            RateLimit.parse(value)
        except ConfigurationError as exc:
            raise ValueError(str(exc)) from None
        return value

    def customers(self) -> CustomerAuth:
        """How customers are identified (`ORDERS_CUSTOMER_*`).

        Raises `SettingsError` for `jwt` without a usable key, issuer or audience.

        >>> Settings.load({}).customers().mode
        'open'
        >>> Settings.load({"ORDERS_CUSTOMER_AUTH": "jwt"}).customers()
        Traceback (most recent call last):
          ...
        servicekit.settings.SettingsError: ORDERS_CUSTOMER_AUTH=jwt needs ORDERS_CUSTOMER_JWT_KEY...
        """
        key = self.customer_jwt_key
        given = {
            "CUSTOMER_AUTH": self.customer_auth,
            "CUSTOMER_JWT_KEY": "" if key is None else key.get_secret_value(),
            "CUSTOMER_JWT_KEY_FILE": str(self.customer_jwt_key_file or ""),
            "CUSTOMER_JWT_ALGORITHM": self.customer_jwt_algorithm,
            "CUSTOMER_JWT_ISSUER": self.customer_jwt_issuer or "",
            "CUSTOMER_JWT_AUDIENCE": self.customer_jwt_audience or "",
        }
        prefix = self.model_config.get("env_prefix", "")
        try:
            return CustomerAuth.from_env(
                {f"{prefix}{name}": value for name, value in given.items()}, prefix=prefix
            )
        except ConfigurationError as exc:
            raise SettingsError(str(exc)) from None

    def rate(self) -> RateLimit | None:
        """The `POST /orders` limit of `ORDERS_RATE_LIMIT` (`None`: off).

        >>> Settings.load({"ORDERS_RATE_LIMIT": "20/second"}).rate().burst
        20
        """
        return RateLimit.parse(self.rate_limit)

    @property
    def reply_timeout(self) -> datetime.timedelta:
        """How long the saga waits for the inventory's reply before it gives up."""
        return datetime.timedelta(seconds=self.reply_timeout_seconds)

    @property
    def idempotency_ttl(self) -> datetime.timedelta:
        """How long a `POST /orders` idempotency key is kept."""
        return datetime.timedelta(seconds=self.idempotency_ttl_seconds)
