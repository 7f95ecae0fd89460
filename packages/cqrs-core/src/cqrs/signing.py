"""Signed messages: an HMAC-SHA256 on each published record, checked before it is decoded.

Whoever can write to a topic could otherwise drive the consumers (a forged
`stock_reserved` confirms an order). With a `Keyring`, the publisher (for
example `cqrs_kafka.KafkaMessageBroker(keyring=...)`) adds three headers to
each record, and the consumer pipeline (`cqrs.consumer.EventPipeline(keyring=...)`)
refuses a record whose signature is missing or wrong: `SignatureError`, a
`PermanentError`, dead-lettered at once without running a handler.

- `x-signature-key-id`: the id of the key that signed;
- `x-signed-at`: when, in milliseconds since the epoch;
- `x-signature`: the HMAC-SHA256, base64, over the key id, that time, the
  value, the key, and the `event_name` and `message_id` headers.

Signing happens at publish time: the outbox stores nothing secret. A signed
record sent again (a replay) keeps its message id, which the inbox knows for
as long as it keeps its records; `max_age` refuses records signed longer ago
than that (set it above the longest a record may wait in its topic).

Rotation: a keyring holds several keys, all of which verify, and names the
one that signs. Give every consumer the new key first, then make it the
signing key of the publishers, then drop the old key once its records are
consumed. The environment (`Keyring.from_env`):

- `CQRS_SIGNING_KEYS`: `key-id:base64-secret` pairs, comma-separated
  (`k2:3q2+7w...,k1:q83v...`); unset or empty, nothing is signed or checked;
- `CQRS_SIGNING_KEY_ID`: the key that signs (`k2`); unset, the keyring
  verifies only;
- `CQRS_SIGNING_MAX_AGE`: seconds after which a signed record is refused
  (unset: no limit).

Secrets are at least 32 bytes (`new_secret()` makes one).

>>> import uuid
>>> old = Keyring({"k1": b"o" * 32}, signing_key_id="k1")
>>> rotated = Keyring({"k1": b"o" * 32, "k2": b"n" * 32}, signing_key_id="k2")
>>> headers = {"event_name": "stock_reserved", "message_id": str(uuid.UUID(int=1))}
>>> signed = {**headers, **old.sign(b'{"order": 1}', b"o-1", headers)}
>>> rotated.verify(b'{"order": 1}', b"o-1", signed)  # the old key still verifies
>>> rotated.verify(b'{"order": 2}', b"o-1", signed)
Traceback (most recent call last):
    ...
cqrs.signing.SignatureError: signature: the record does not match its signature (key k1); ...
"""

from __future__ import annotations

import base64
import binascii
import collections.abc
import dataclasses
import datetime
import hashlib
import hmac
import os
import secrets
import struct
import time
import typing

from cqrs.exceptions import ConfigurationError, PermanentError
from cqrs.message_brokers.protocol import EVENT_NAME_HEADER, MESSAGE_ID_HEADER

__all__ = (
    "KEYS_VARIABLE",
    "KEY_ID_VARIABLE",
    "MAX_AGE_VARIABLE",
    "MIN_SECRET_BYTES",
    "SIGNATURE_HEADER",
    "SIGNATURE_KEY_ID_HEADER",
    "SIGNED_AT_HEADER",
    "Keyring",
    "SignatureError",
    "new_secret",
)

SIGNATURE_HEADER: typing.Final = "x-signature"
SIGNATURE_KEY_ID_HEADER: typing.Final = "x-signature-key-id"
SIGNED_AT_HEADER: typing.Final = "x-signed-at"
KEYS_VARIABLE: typing.Final = "CQRS_SIGNING_KEYS"
KEY_ID_VARIABLE: typing.Final = "CQRS_SIGNING_KEY_ID"
MAX_AGE_VARIABLE: typing.Final = "CQRS_SIGNING_MAX_AGE"
#: The shortest secret a keyring takes: HMAC-SHA256's own output size.
MIN_SECRET_BYTES: typing.Final = 32

_VERSION: typing.Final = b"cqrs-signature-v1"


class SignatureError(PermanentError):
    """A consumed record's signature is missing, names a key the keyring lacks, or does
    not match the record: someone without the key produced or changed it. Dead-lettered
    at once; its message says which."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"signature: {problem}")


def new_secret() -> str:
    """A new random secret, base64, for `CQRS_SIGNING_KEYS`.

    >>> len(base64.b64decode(new_secret())) == MIN_SECRET_BYTES
    True
    """
    return base64.b64encode(secrets.token_bytes(MIN_SECRET_BYTES)).decode()


@dataclasses.dataclass(frozen=True)
class Keyring:
    """Secrets by key id: every one verifies, `signing_key_id`'s signs (none: verify only);
    with `max_age`, records signed longer ago (or later than a minute from now) are refused.

    Raises `ConfigurationError` for no keys, a key id that is empty or holds `:` or
    `,`, a secret shorter than `MIN_SECRET_BYTES`, or a signing key id it lacks.
    Its repr shows key ids, never secrets.
    """

    keys: collections.abc.Mapping[str, bytes] = dataclasses.field(repr=False)
    signing_key_id: str | None = None
    max_age: datetime.timedelta | None = None
    key_ids: tuple[str, ...] = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise ConfigurationError("a Keyring needs at least one key.")
        for key_id, secret in self.keys.items():
            if not key_id or ":" in key_id or "," in key_id or not key_id.isprintable():
                raise ConfigurationError(
                    f"the signing key id {key_id!r} must be non-empty and printable, "
                    "without ':' or ','."
                )
            if len(secret) < MIN_SECRET_BYTES:
                raise ConfigurationError(
                    f"the signing key {key_id!r} has {len(secret)} bytes; use at least "
                    f"{MIN_SECRET_BYTES} (cqrs.signing.new_secret() makes one)."
                )
        if self.signing_key_id is not None and self.signing_key_id not in self.keys:
            raise ConfigurationError(
                f"the signing key id {self.signing_key_id!r} is not among the keys "
                f"{sorted(self.keys)}; add its secret to {KEYS_VARIABLE}."
            )
        if self.max_age is not None and self.max_age <= datetime.timedelta(0):
            raise ConfigurationError(f"{MAX_AGE_VARIABLE} must be positive, not {self.max_age}.")
        object.__setattr__(self, "keys", dict(self.keys))
        object.__setattr__(self, "key_ids", tuple(sorted(self.keys)))

    @classmethod
    def from_env(cls, environ: collections.abc.Mapping[str, str] | None = None) -> Keyring | None:
        """The keyring of `CQRS_SIGNING_KEYS` and `CQRS_SIGNING_KEY_ID` (see the module
        docstring); `None` when `CQRS_SIGNING_KEYS` is unset or empty.

        >>> Keyring.from_env({"CQRS_SIGNING_KEYS": "k1:" + "a" * 44, "CQRS_SIGNING_KEY_ID": "k1"})
        Keyring(signing_key_id='k1', max_age=None, key_ids=('k1',))
        >>> Keyring.from_env({}) is None
        True
        """
        environ = os.environ if environ is None else environ
        raw = environ.get(KEYS_VARIABLE, "").strip()
        if not raw:
            return None
        keys: dict[str, bytes] = {}
        for pair in raw.split(","):
            key_id, colon, encoded = pair.strip().partition(":")
            if not colon:
                raise ConfigurationError(
                    f"{KEYS_VARIABLE} holds {key_id!r} without ':'; write key-id:base64-secret "
                    "pairs separated by commas."
                )
            try:
                keys[key_id] = base64.b64decode(encoded.strip(), validate=True)
            except binascii.Error:
                raise ConfigurationError(
                    f"the secret of key {key_id!r} in {KEYS_VARIABLE} is not base64."
                ) from None
        signing = environ.get(KEY_ID_VARIABLE, "").strip() or None
        return cls(keys, signing, _seconds(environ.get(MAX_AGE_VARIABLE, "").strip()))

    def sign(
        self,
        value: bytes | None,
        key: bytes | None,
        headers: collections.abc.Mapping[str, str],
        *,
        signed_at_ms: int | None = None,
    ) -> dict[str, str]:
        """The signature headers of a record of `value`, `key` and text `headers` (whose
        `event_name` and `message_id` are signed); `signed_at_ms` is now by default.

        Raises `ConfigurationError` for a verify-only keyring.
        """
        key_id = self.signing_key_id
        if key_id is None:
            raise ConfigurationError(
                f"this keyring verifies only: set {KEY_ID_VARIABLE} to the key that signs."
            )
        signed_at = str(_now_ms() if signed_at_ms is None else signed_at_ms)
        mac = self._mac(key_id, signed_at, value, key, headers)
        return {
            SIGNATURE_KEY_ID_HEADER: key_id,
            SIGNED_AT_HEADER: signed_at,
            SIGNATURE_HEADER: base64.b64encode(mac).decode(),
        }

    def verify(
        self,
        value: bytes | None,
        key: bytes | None,
        headers: collections.abc.Mapping[str, str],
        *,
        now_ms: int | None = None,
    ) -> None:
        """Check the signature headers among a record's text `headers`; `SignatureError`
        when they are missing, name an unknown key, do not match, or (with `max_age`)
        are too old by `now_ms` (now by default)."""
        key_id = headers.get(SIGNATURE_KEY_ID_HEADER)
        signed_at = headers.get(SIGNED_AT_HEADER)
        signature = headers.get(SIGNATURE_HEADER)
        if key_id is None or signed_at is None or signature is None:
            raise SignatureError(
                "the record is not signed (no x-signature, x-signature-key-id or x-signed-at "
                "header); its producer must sign with a key of this keyring."
            )
        if key_id not in self.keys:
            raise SignatureError(
                f"the record is signed with key {key_id!r}, which this keyring lacks "
                f"(it has {', '.join(self.key_ids)}); add it to {KEYS_VARIABLE} if it is yours."
            )
        expected = self._mac(key_id, signed_at, value, key, headers)
        try:
            given = base64.b64decode(signature, validate=True)
        except binascii.Error:
            given = b""
        if not hmac.compare_digest(expected, given):
            raise SignatureError(
                f"the record does not match its signature (key {key_id}); it was changed or forged."
            )
        if self.max_age is not None:
            _check_age(signed_at, _now_ms() if now_ms is None else now_ms, self.max_age)

    def _mac(
        self,
        key_id: str,
        signed_at: str,
        value: bytes | None,
        key: bytes | None,
        headers: collections.abc.Mapping[str, str],
    ) -> bytes:
        fields = (
            _VERSION,
            key_id.encode(),
            signed_at.encode(),
            value,
            key,
            _encoded(headers.get(EVENT_NAME_HEADER)),
            _encoded(headers.get(MESSAGE_ID_HEADER)),
        )
        return hmac.new(self.keys[key_id], _framed(fields), hashlib.sha256).digest()


#: How far in the future a signing time may be: the publishers' clocks run ahead a little.
_CLOCK_SKEW_MS: typing.Final = 60_000


def _check_age(signed_at: str, now_ms: int, max_age: datetime.timedelta) -> None:
    max_age_ms = max_age // datetime.timedelta(milliseconds=1)
    age_ms = now_ms - int(signed_at) if signed_at.isdigit() else max_age_ms + 1
    if age_ms > max_age_ms or age_ms < -_CLOCK_SKEW_MS:
        raise SignatureError(
            f"the record was signed {age_ms / 1000:.0f} s ago, outside the "
            f"{max_age_ms / 1000:.0f} s this keyring accepts ({MAX_AGE_VARIABLE})."
        )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _seconds(text: str) -> datetime.timedelta | None:
    if not text:
        return None
    try:
        return datetime.timedelta(seconds=float(text))
    except ValueError:
        raise ConfigurationError(
            f"{MAX_AGE_VARIABLE}={text!r} is not a number of seconds."
        ) from None


def _encoded(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def _framed(fields: collections.abc.Iterable[bytes | None]) -> bytes:
    """Each field with its length (or a mark for none), so no two records' fields run
    together into the same bytes."""
    parts: list[bytes] = []
    for field in fields:
        parts.append(b"\x00" if field is None else b"\x01" + struct.pack(">Q", len(field)) + field)
    return b"".join(parts)
