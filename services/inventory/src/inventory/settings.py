"""The inventory service's settings, read from environment variables.

| variable                     | default                              | meaning                    |
|------------------------------|--------------------------------------|----------------------------|
| `INVENTORY_DATABASE_URL`     | `sqlite+aiosqlite:///./inventory.db` | SQLAlchemy async URL       |
| `INVENTORY_HOST`             | `127.0.0.1`                          | the HTTP API's address     |
| `INVENTORY_PORT`             | `8001`                               | its port (0: a free one)   |
| `KAFKA_BOOTSTRAP_SERVERS`    | `localhost:9092`                     | `host:port`, comma between |
| `INVENTORY_RELAY_IN_PROCESS` | `false`                              | `serve` runs the relay too |

The database is SQLite (`sqlite+aiosqlite:///path.db`) or PostgreSQL
(`postgresql+asyncpg://user@host/db`). An unset or empty variable takes the default.

>>> settings = Settings.from_environment({"INVENTORY_PORT": "9001"})
>>> settings.port, settings.database_url
(9001, 'sqlite+aiosqlite:///./inventory.db')
>>> Settings.from_environment({"INVENTORY_RELAY_IN_PROCESS": "maybe"})
Traceback (most recent call last):
  ...
inventory.settings.SettingsError: INVENTORY_RELAY_IN_PROCESS='maybe' is not valid: ...
"""

from __future__ import annotations

import os
import typing

import pydantic
import pydantic_core
import sqlalchemy as sa
import sqlalchemy.exc

__all__ = ("ENVIRONMENT", "Settings", "SettingsError")

ENVIRONMENT: typing.Final = {
    "database_url": "INVENTORY_DATABASE_URL",
    "host": "INVENTORY_HOST",
    "port": "INVENTORY_PORT",
    "kafka_bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS",
    "relay_in_process": "INVENTORY_RELAY_IN_PROCESS",
}
"""Setting -> the environment variable it is read from."""


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use; the message names it."""


class Settings(pydantic.BaseModel):
    """What the service connects to and where it listens (see the module's table)."""

    model_config = pydantic.ConfigDict(frozen=True)

    database_url: str = "sqlite+aiosqlite:///./inventory.db"
    host: str = "127.0.0.1"
    port: int = pydantic.Field(default=8001, ge=0, le=65535)
    kafka_bootstrap_servers: str = "localhost:9092"
    relay_in_process: bool = False

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
    def from_environment(cls, environ: typing.Mapping[str, str] | None = None) -> Settings:
        """The settings `environ` (default `os.environ`) gives; `SettingsError` for a bad value."""
        environ = os.environ if environ is None else environ
        given = {field: environ[name] for field, name in ENVIRONMENT.items() if environ.get(name)}
        try:
            return cls.model_validate(given)
        except pydantic.ValidationError as exc:
            raise SettingsError(
                "; ".join(_explain(error, given) for error in exc.errors())
            ) from None


def _explain(error: pydantic_core.ErrorDetails, given: typing.Mapping[str, str]) -> str:
    field = str(error["loc"][0])
    return f"{ENVIRONMENT[field]}={given[field]!r} is not valid: {error['msg']}"
