"""The inventory service's settings, read from environment variables (and `.env`).

The rules are every service's (`servicekit.settings`): the prefix is
`INVENTORY_`, an unset or empty variable keeps the default, and a value that
does not parse is a `SettingsError` naming the variable.

- `INVENTORY_DATABASE_URL` (`sqlite+aiosqlite:///./inventory.db`): SQLAlchemy async URL
- `INVENTORY_HOST` (`127.0.0.1`), `INVENTORY_PORT` (`8001`; 0: a free one): the HTTP API
- `INVENTORY_RELAY_IN_PROCESS` (`false`): `serve` runs the outbox relay too
- `INVENTORY_MIGRATE_ON_START` (`true`): `serve` and `relay` upgrade the schema first;
  `false`: they refuse a database that is behind (run `inventory migrate`)
- `KAFKA_BOOTSTRAP_SERVERS` (`localhost:9092`): `host:port`, comma between several
- `KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*`, `KAFKA_SSL_*` (`PLAINTEXT`): TLS and SASL of
  every Kafka client, read by cqrs-kafka from the process environment (not `.env`;
  `cqrs_kafka.security`), so not fields of these settings
- `INVENTORY_DOCS_ENABLED` (`true`): serve `/docs`, `/redoc` and `/openapi.json`
  (`false`: all three answer 404)
- `OPERATOR_TOKENS` (unset: no operator gets in): the operators' bearer tokens,
  `name:token:scope+scope` comma-separated (`servicekit.auth`); restocking needs
  scope `stock.restock`, the admin console at `/admin` scope `admin` (mounted
  only when someone holds it)
- `LOG_LEVEL` (`INFO`), `LOG_FORMAT` (`text` or `json`): see `servicekit.logs`

>>> settings = Settings.load({"INVENTORY_PORT": "9001"})
>>> settings.port, settings.database_url
(9001, 'sqlite+aiosqlite:///./inventory.db')
>>> Settings.load({"INVENTORY_RELAY_IN_PROCESS": "maybe"})
Traceback (most recent call last):
  ...
servicekit.settings.SettingsError: INVENTORY_RELAY_IN_PROCESS='maybe' is not valid: ...
"""

from __future__ import annotations

import pydantic
import pydantic_settings

from servicekit.settings import ServiceSettings, SettingsError

__all__ = ("Settings", "SettingsError")


class Settings(ServiceSettings):
    """What the service connects to and where it listens (see the module's table)."""

    model_config = pydantic_settings.SettingsConfigDict(env_prefix="INVENTORY_")

    database_url: str = "sqlite+aiosqlite:///./inventory.db"
    port: int = pydantic.Field(default=8001, ge=0, le=65535)
