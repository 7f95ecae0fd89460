"""The service's settings, read from environment variables (listed in the README).

>>> settings = Settings.from_env({"ORDERS_PORT": "8100", "PAYMENT_CREDIT_LIMIT": "250.00"})
>>> settings.port, settings.payment_credit_limit, settings.reply_timeout.total_seconds()
(8100, Decimal('250.00'), 30.0)
>>> try:
...     Settings.from_env({"ORDERS_PORT": "eighty"})
... except SettingsError as error:
...     print(error)
ORDERS_PORT='eighty' is not a port number; set it to an integer from 0 to 65535
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import os
import typing

__all__ = ("Settings", "SettingsError")

_TRUE: typing.Final = frozenset({"1", "true", "yes", "on"})
_FALSE: typing.Final = frozenset({"0", "false", "no", "off", ""})


class SettingsError(ValueError):
    """An environment variable has a value the service cannot use; the message says which."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """Where the service listens, what it connects to, and its business limits."""

    database_url: str = "sqlite+aiosqlite:///./orders.db"
    host: str = "127.0.0.1"
    port: int = 8000
    kafka_bootstrap_servers: str = "localhost:9092"
    payment_credit_limit: decimal.Decimal = decimal.Decimal("1000.00")
    reply_timeout: datetime.timedelta = datetime.timedelta(seconds=30)
    relay_in_process: bool = False

    @classmethod
    def from_env(cls, environ: typing.Mapping[str, str] | None = None) -> Settings:
        """Settings from `environ` (default `os.environ`); unset variables keep the defaults.

        Raises `SettingsError` for a value that does not parse.
        """
        env = os.environ if environ is None else environ
        default = cls()
        return cls(
            database_url=env.get("ORDERS_DATABASE_URL", default.database_url),
            host=env.get("ORDERS_HOST", default.host),
            port=_port(env, "ORDERS_PORT", default.port),
            kafka_bootstrap_servers=env.get(
                "KAFKA_BOOTSTRAP_SERVERS", default.kafka_bootstrap_servers
            ),
            payment_credit_limit=_amount(env, "PAYMENT_CREDIT_LIMIT", default.payment_credit_limit),
            reply_timeout=_seconds(env, "ORDERS_REPLY_TIMEOUT_SECONDS", default.reply_timeout),
            relay_in_process=_flag(env, "ORDERS_RELAY_IN_PROCESS", default.relay_in_process),
        )


def _port(env: typing.Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise SettingsError(
            f"{name}={raw!r} is not a port number; set it to an integer from 0 to 65535"
        )
    return port


def _amount(env: typing.Mapping[str, str], name: str, default: decimal.Decimal) -> decimal.Decimal:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        amount = decimal.Decimal(raw)
    except decimal.InvalidOperation:
        amount = decimal.Decimal("NaN")
    if not amount.is_finite() or amount < 0:
        raise SettingsError(f"{name}={raw!r} is not an amount; set it to a decimal such as 1000.00")
    return amount


def _seconds(
    env: typing.Mapping[str, str], name: str, default: datetime.timedelta
) -> datetime.timedelta:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise SettingsError(f"{name}={raw!r} is not a duration; set it to seconds above 0, e.g. 30")
    return datetime.timedelta(seconds=seconds)


def _flag(env: typing.Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise SettingsError(f"{name}={raw!r} is not a yes/no value; set it to true or false")
