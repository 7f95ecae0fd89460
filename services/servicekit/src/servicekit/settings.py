"""Settings every service reads the same way: pydantic-settings, one prefix per service.

A service subclasses `ServiceSettings`, sets `env_prefix` (`ORDERS_`,
`INVENTORY_`) and its own defaults, and adds its own fields. The rules are
the same for every service:

- a field `name` is read from `PREFIX_NAME`; the settings the whole system
  shares have no prefix (`KAFKA_BOOTSTRAP_SERVERS`, `OPERATOR_TOKENS`,
  `LOG_LEVEL`, `LOG_FORMAT`, `EVENT_LOOP`, `HTTP_PARSER` (`servicekit.runtime`),
  and the signing keys `CQRS_SIGNING_KEYS`, `CQRS_SIGNING_KEY_ID`,
  `CQRS_SIGNING_MAX_AGE`, `CQRS_SIGNING`);
- a `.env` file in the working directory is read too; the environment wins;
- a variable that is unset *or empty* keeps the default;
- `load()` turns a value that does not parse into one `SettingsError` naming
  each variable, what it held and what to set instead.

>>> class DemoSettings(ServiceSettings):
...     model_config = pydantic_settings.SettingsConfigDict(env_prefix="DEMO_", env_file=None)
...     database_url: str = "sqlite+aiosqlite:///./demo.db"
...     port: int = pydantic.Field(default=8005, ge=0, le=65535)
>>> settings = DemoSettings.load({"DEMO_PORT": "9005", "LOG_FORMAT": "json", "DEMO_HOST": ""})
>>> settings.port, settings.host, settings.log_format
(9005, '127.0.0.1', 'json')
>>> DemoSettings.load({"DEMO_PORT": "eighty"})
Traceback (most recent call last):
  ...
servicekit.settings.SettingsError: DEMO_PORT='eighty' is not valid: Input should be ...
"""

from __future__ import annotations

import typing

import pydantic
import pydantic_core
import pydantic_settings
import sqlalchemy as sa
import sqlalchemy.exc

from cqrs.exceptions import ConfigurationError
from cqrs.signing import KEY_ID_VARIABLE, KEYS_VARIABLE, MAX_AGE_VARIABLE, Keyring
from servicekit.auth import OperatorTokens
from servicekit.runtime import EventLoop, HttpParser

__all__ = (
    "OPERATOR_TOKENS_VARIABLE",
    "LogFormat",
    "LogLevel",
    "Signing",
    "ServiceSettings",
    "SettingsError",
)

LogLevel = typing.Literal["DEBUG", "INFO", "WARNING", "ERROR"]
"""What `LOG_LEVEL` may be (upper or lower case)."""
LogFormat = typing.Literal["text", "json"]
"""What `LOG_FORMAT` may be: a line of text, or one JSON object per line."""
Signing = typing.Literal["on", "off"]
"""What `CQRS_SIGNING` may be: `on` (the default: no keys, no start) or `off` (unsigned
records sent and accepted; only where nobody else can write to the topics)."""


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use; the message names it."""


OPERATOR_TOKENS_VARIABLE: typing.Final = "OPERATOR_TOKENS"
"""The variable of the operators' tokens and scopes (`servicekit.auth.OperatorTokens`)."""

_Settings = typing.TypeVar("_Settings", bound="ServiceSettings")


class ServiceSettings(pydantic_settings.BaseSettings):
    """The settings every service has; a subclass sets `env_prefix` and the defaults."""

    model_config = pydantic_settings.SettingsConfigDict(
        env_file=".env",
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    #: SQLAlchemy async URL: `sqlite+aiosqlite:///path.db` or `postgresql+asyncpg://user@host/db`.
    database_url: str = "sqlite+aiosqlite://"
    #: The HTTP API's address.
    host: str = "127.0.0.1"
    #: The HTTP API's port (0: a free one).
    port: int = pydantic.Field(default=8000, ge=0, le=65535)
    #: `host:port` of the Kafka cluster, comma between several.
    kafka_bootstrap_servers: str = pydantic.Field(
        default="localhost:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    #: Whether `serve` runs the outbox relay too (else run `relay` beside it).
    relay_in_process: bool = False
    #: Whether `serve` and `relay` upgrade the schema to the newest revisions when they
    #: start (`servicekit.migrations`); when false, a database that is behind stops them
    #: with one line saying to run `NAME migrate` first.
    migrate_on_start: bool = True
    #: The operators' bearer tokens, `name:token:scope+scope` comma-separated
    #: (`servicekit.auth.OperatorTokens`); unset: no operator route admits anyone.
    operator_tokens: pydantic.SecretStr | None = pydantic.Field(
        default=None, validation_alias=OPERATOR_TOKENS_VARIABLE
    )
    #: Whether `/docs`, `/redoc` and `/openapi.json` are served.
    docs_enabled: bool = True
    log_level: LogLevel = pydantic.Field(default="INFO", validation_alias="LOG_LEVEL")
    log_format: LogFormat = pydantic.Field(default="text", validation_alias="LOG_FORMAT")
    #: The processes' event loop: `auto` (uvloop when installed), `uvloop`, `asyncio`
    #: (the standard one, for debugging what depends on the loop); `servicekit.runtime`.
    event_loop: EventLoop = pydantic.Field(default="auto", validation_alias="EVENT_LOOP")
    #: uvicorn's HTTP parser: `auto` (httptools when installed), `httptools`, `h11`.
    http_parser: HttpParser = pydantic.Field(default="auto", validation_alias="HTTP_PARSER")
    #: Whether records are signed and verified (`cqrs.signing`); `off` must be said outright.
    signing: Signing = pydantic.Field(default="on", validation_alias="CQRS_SIGNING")
    #: `key-id:base64-secret` pairs, comma between several: every one verifies.
    signing_keys: pydantic.SecretStr | None = pydantic.Field(
        default=None, validation_alias=KEYS_VARIABLE
    )
    #: The key id that signs what this service publishes.
    signing_key_id: str | None = pydantic.Field(default=None, validation_alias=KEY_ID_VARIABLE)
    #: Seconds after which a signed record is refused (unset: never).
    signing_max_age: str | None = pydantic.Field(default=None, validation_alias=MAX_AGE_VARIABLE)

    @pydantic.field_validator("log_level", mode="before")
    @classmethod
    def _upper_case_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @pydantic.field_validator("operator_tokens")
    @classmethod
    def _tokens_parse(cls, value: pydantic.SecretStr | None) -> pydantic.SecretStr | None:
        if value is not None:
            try:
                OperatorTokens.parse(value.get_secret_value())
            except ConfigurationError as exc:
                raise ValueError(str(exc)) from None
        return value

    def operators(self) -> OperatorTokens:
        """The operators' tokens of `OPERATOR_TOKENS` (none when it is unset).

        >>> token = "t" * 32
        >>> settings = ServiceSettings.load({"OPERATOR_TOKENS": f"ann:{token}:admin"})
        >>> settings.operators().holder(token).name
        'ann'
        """
        given = "" if self.operator_tokens is None else self.operator_tokens.get_secret_value()
        return OperatorTokens.parse(given)

    @pydantic.field_validator("database_url")
    @classmethod
    def _parses_as_url(cls, value: str) -> str:
        try:
            sa.make_url(value)
        except sqlalchemy.exc.ArgumentError as exc:
            raise ValueError(
                "not an SQLAlchemy URL; use sqlite+aiosqlite:///path.db or "
                "postgresql+asyncpg://user@host/db"
            ) from exc
        return value

    @classmethod
    def load(cls: type[_Settings], environ: typing.Mapping[str, str] | None = None) -> _Settings:
        """The settings from `environ` (default: the process's environment and `.env`).

        Raises `SettingsError` naming every variable whose value does not parse.
        """
        try:
            if environ is None:
                return cls()
            return cls.model_validate(_given(cls, environ))
        except pydantic.ValidationError as exc:
            reasons = (_explain(cls, error) for error in exc.errors())
            raise SettingsError("; ".join(reasons)) from None

    def keyring(self) -> Keyring | None:
        """The keyring the service signs and verifies with; `None` when `CQRS_SIGNING=off`.

        Raises `SettingsError` when signing is on and no key is given, or a key is unusable.

        >>> ServiceSettings.load({"CQRS_SIGNING": "off"}).keyring() is None
        True
        >>> ServiceSettings.load({}).keyring()
        Traceback (most recent call last):
          ...
        servicekit.settings.SettingsError: CQRS_SIGNING_KEYS is unset: give the system's ...
        """
        if self.signing == "off":
            return None
        if self.signing_keys is None:
            raise SettingsError(
                f"{KEYS_VARIABLE} is unset: give the system's signing keys "
                f"(key-id:base64-secret, with {KEY_ID_VARIABLE} naming the one that signs), "
                "or set CQRS_SIGNING=off to send and accept unsigned records."
            )
        given = {
            KEYS_VARIABLE: self.signing_keys.get_secret_value(),
            KEY_ID_VARIABLE: self.signing_key_id or "",
            MAX_AGE_VARIABLE: self.signing_max_age or "",
        }
        try:
            return Keyring.from_env(given)
        except ConfigurationError as exc:
            raise SettingsError(str(exc)) from None

    @classmethod
    def variable(cls, field: str) -> str:
        """The environment variable `field` is read from.

        >>> ServiceSettings.variable("log_level"), ServiceSettings.variable("host")
        ('LOG_LEVEL', 'HOST')
        """
        alias = cls.model_fields[field].validation_alias
        if isinstance(alias, str):
            return alias
        return f"{cls.model_config.get('env_prefix', '')}{field}".upper()


def _given(settings: type[ServiceSettings], environ: typing.Mapping[str, str]) -> dict[str, str]:
    """The fields `environ` sets (non-empty), by field name: what `load(environ)` validates."""
    named = {settings.variable(field): field for field in settings.model_fields}
    return {named[name]: value for name, value in environ.items() if name in named and value}


def _explain(settings: type[ServiceSettings], error: pydantic_core.ErrorDetails) -> str:
    location = str(error["loc"][0]) if error["loc"] else ""
    variable = location if location.isupper() else settings.variable(location)
    # A secret's value stays out of the message (it ends up in logs).
    secret = variable in _SECRETS
    given = "(hidden)" if secret else repr(error["input"])
    return f"{variable}={given} is not valid: {error['msg']}"


_SECRETS: typing.Final = frozenset({OPERATOR_TOKENS_VARIABLE, KEYS_VARIABLE})
