"""`KafkaSecurity`: TLS and SASL for every Kafka client of cqrs-kafka, from the environment.

The producer (`KafkaProducerAdapter`, so `KafkaMessageBroker` and the relay),
`ensure_topics` and the dead-letter admin read these variables when they are
not given a `KafkaSecurity`; a FastStream `KafkaBroker` (the consumers of
`subscribe_events` and their dead-letter producer) takes
`KafkaSecurity.from_env().faststream()` as its `security`.

- `KAFKA_SECURITY_PROTOCOL`: `PLAINTEXT` (the default), `SSL`,
  `SASL_PLAINTEXT` or `SASL_SSL`;
- `KAFKA_SASL_MECHANISM`: `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512` (SASL);
- `KAFKA_SASL_USERNAME`, `KAFKA_SASL_PASSWORD`: the SASL user and password;
- `KAFKA_SSL_CAFILE`: PEM file of the CAs that signed the brokers'
  certificates (default: the system's CAs);
- `KAFKA_SSL_CERTFILE`, `KAFKA_SSL_KEYFILE`: a client certificate and its
  key, for brokers that require one (mutual TLS);
- `KAFKA_SSL_KEY_PASSWORD`: the key's password, if it has one.

`SSL` and `SASL_SSL` check the brokers' certificates and host names. A
setting that cannot work (SASL without a mechanism or user, a mechanism
without SASL, certificate files without TLS) raises `ConfigurationError`
when read, naming the variable.

>>> security = KafkaSecurity.from_env({
...     "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
...     "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
...     "KAFKA_SASL_USERNAME": "orders",
...     "KAFKA_SASL_PASSWORD": "s3cret",
... })
>>> sorted(security.client_options().items())  # doctest: +NORMALIZE_WHITESPACE
[('sasl_mechanism', 'SCRAM-SHA-512'), ('sasl_plain_password', 's3cret'),
 ('sasl_plain_username', 'orders'), ('security_protocol', 'SASL_PLAINTEXT')]
>>> "s3cret" in repr(security)
False
"""

from __future__ import annotations

import collections.abc
import dataclasses
import os
import ssl
import typing

from aiokafka.helpers import create_ssl_context
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from cqrs.exceptions import ConfigurationError

__all__ = ("KafkaSecurity", "Mechanism", "Protocol")

Protocol = typing.Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = typing.Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
_PROTOCOLS: tuple[str, ...] = typing.get_args(Protocol)
_MECHANISMS: tuple[str, ...] = typing.get_args(Mechanism)
_FASTSTREAM_SASL: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
    "PLAIN": SASLPlaintext,
    "SCRAM-SHA-256": SASLScram256,
    "SCRAM-SHA-512": SASLScram512,
}


@dataclasses.dataclass(frozen=True)
class KafkaSecurity:
    """How Kafka clients authenticate and encrypt; see the module docstring.

    The default is `PLAINTEXT`: no TLS, no SASL. The password and the key's
    password never appear in the repr.
    """

    protocol: Protocol = "PLAINTEXT"
    sasl_mechanism: Mechanism | None = None
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    key_password: str | None = dataclasses.field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.protocol not in _PROTOCOLS:
            raise ConfigurationError(
                f"KAFKA_SECURITY_PROTOCOL={self.protocol!r} is not one of {', '.join(_PROTOCOLS)}."
            )
        if self.sasl:
            if self.sasl_mechanism not in _MECHANISMS:
                raise ConfigurationError(
                    f"{self.protocol} needs KAFKA_SASL_MECHANISM, one of {', '.join(_MECHANISMS)}"
                    f" (not {self.sasl_mechanism!r})."
                )
            if not self.username or self.password is None:
                raise ConfigurationError(
                    f"{self.protocol} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD."
                )
        elif self.sasl_mechanism is not None or self.username is not None:
            raise ConfigurationError(
                "KAFKA_SASL_MECHANISM and KAFKA_SASL_USERNAME need KAFKA_SECURITY_PROTOCOL "
                f"SASL_PLAINTEXT or SASL_SSL, not {self.protocol}."
            )
        files = (self.cafile, self.certfile, self.keyfile)
        if not self.tls and any(files):
            raise ConfigurationError(
                "KAFKA_SSL_CAFILE, KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE need "
                f"KAFKA_SECURITY_PROTOCOL SSL or SASL_SSL, not {self.protocol}."
            )
        if (self.certfile is None) != (self.keyfile is None):
            raise ConfigurationError("KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together.")

    @property
    def tls(self) -> bool:
        """Whether connections are encrypted (`SSL`, `SASL_SSL`)."""
        return self.protocol.endswith("SSL")

    @property
    def sasl(self) -> bool:
        """Whether clients authenticate with SASL (`SASL_PLAINTEXT`, `SASL_SSL`)."""
        return self.protocol.startswith("SASL")

    @classmethod
    def from_env(cls, environ: collections.abc.Mapping[str, str] | None = None) -> KafkaSecurity:
        """The settings of the `KAFKA_*` variables of the module docstring."""
        environ = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            return environ.get(name, "").strip() or None

        return cls(
            protocol=typing.cast(Protocol, (get("KAFKA_SECURITY_PROTOCOL") or "PLAINTEXT").upper()),
            sasl_mechanism=typing.cast("Mechanism | None", get("KAFKA_SASL_MECHANISM")),
            username=get("KAFKA_SASL_USERNAME"),
            password=environ.get("KAFKA_SASL_PASSWORD"),
            cafile=get("KAFKA_SSL_CAFILE"),
            certfile=get("KAFKA_SSL_CERTFILE"),
            keyfile=get("KAFKA_SSL_KEYFILE"),
            key_password=environ.get("KAFKA_SSL_KEY_PASSWORD"),
        )

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context (the CA file's, or the system's CAs), or `None` without TLS.

        Raises `ConfigurationError` for a file that cannot be read or used.
        """
        if not self.tls:
            return None
        try:
            return create_ssl_context(
                cafile=self.cafile,
                certfile=self.certfile,
                keyfile=self.keyfile,
                password=self.key_password,
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"the TLS files (KAFKA_SSL_CAFILE, KAFKA_SSL_CERTFILE, KAFKA_SSL_KEYFILE) "
                f"cannot be used: {exc}"
            ) from exc

    def client_options(self) -> dict[str, typing.Any]:
        """The arguments of aiokafka's producer, consumer and admin client."""
        options: dict[str, typing.Any] = {"security_protocol": self.protocol}
        if self.sasl:
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password,
            }
        if self.tls:
            options["ssl_context"] = self.ssl_context()
        return options

    def faststream(self) -> BaseSecurity | None:
        """The `security` of a FastStream `KafkaBroker`, or `None` for `PLAINTEXT`."""
        if self.sasl:
            sasl = _FASTSTREAM_SASL[typing.cast(str, self.sasl_mechanism)]
            return sasl(
                typing.cast(str, self.username),
                typing.cast(str, self.password),
                ssl_context=self.ssl_context(),
                use_ssl=self.tls,
            )
        if self.tls:
            return BaseSecurity(ssl_context=self.ssl_context(), use_ssl=True)
        return None
