"""`RateLimit`: a per-client request budget, answered 429 with `Retry-After` when spent.

Each client has a bucket of `burst` requests that refills at `per_second`;
a request finds its bucket empty gets 429 and `Retry-After`, the whole
seconds until a request is allowed again. Clients are told apart by a key
function (the customer, or by default the client's address). Buckets live
in the process: with several instances, each allows its own budget.

`RateLimit.parse("30/minute")` reads a setting such as `ORDERS_RATE_LIMIT`
(`<count>/<second|minute|hour>`, the count also the burst; `off` or empty:
no limit, for tests that need volume).

>>> from cqrs.testing.clock import FakeClock
>>> clock = FakeClock()
>>> limit = RateLimit(burst=2, per_second=1.0, clock=clock)
>>> [limit.wait("alice") for _ in range(3)]
[0.0, 0.0, 1.0]
>>> clock.advance(seconds=1)
>>> limit.wait("alice"), limit.wait("bob")
(0.0, 0.0)
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import typing

import fastapi

from cqrs.clock import Clock, utc_now
from cqrs.exceptions import ConfigurationError

__all__ = ("RateLimit", "client_address")

_PERIODS: typing.Final = {"second": 1.0, "minute": 60.0, "hour": 3600.0}
#: Buckets kept before full ones are forgotten (a full bucket is a new client's).
_MAX_BUCKETS: typing.Final = 100_000


def client_address(request: fastapi.Request) -> str:
    """The default client key: the peer's address (put the proxy's forwarded address
    there with uvicorn's `--proxy-headers`)."""
    return request.client.host if request.client is not None else "unknown"


@dataclasses.dataclass
class _Bucket:
    tokens: float
    at: datetime.datetime


class RateLimit:
    """`burst` requests at once per client, refilled at `per_second`; see the module."""

    def __init__(self, burst: int, per_second: float, *, clock: Clock = utc_now) -> None:
        if burst < 1 or per_second <= 0:
            raise ConfigurationError(
                f"a rate limit needs a burst of 1 or more and a positive rate, not "
                f"{burst} and {per_second}."
            )
        self.burst = burst
        self.per_second = per_second
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    @classmethod
    def parse(cls, spec: str | None, *, clock: Clock = utc_now) -> RateLimit | None:
        """The limit of a `<count>/<second|minute|hour>` setting; `None` for `off` or empty.

        >>> RateLimit.parse("30/minute").per_second, RateLimit.parse("off")
        (0.5, None)
        """
        text = (spec or "").strip().lower()
        if text in ("", "off"):
            return None
        count, _, period = text.partition("/")
        if not count.isdigit() or period not in _PERIODS:
            raise ConfigurationError(
                f"rate limit {spec!r} is not <count>/<second|minute|hour> (e.g. 30/minute) or off."
            )
        return cls(int(count), int(count) / _PERIODS[period], clock=clock)

    def wait(self, client: str) -> float:
        """Take one request from `client`'s bucket: 0.0 if allowed, else the seconds to
        wait until one is."""
        now = self._clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            self._forget_full(now)
            bucket = self._buckets[client] = _Bucket(float(self.burst), now)
        elapsed = (now - bucket.at).total_seconds()
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.per_second)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.per_second

    def dependency(
        self, key: typing.Callable[[fastapi.Request], str] = client_address
    ) -> typing.Callable[[fastapi.Request], typing.Awaitable[None]]:
        """A route dependency charging each request to `key(request)`'s bucket; 429 with
        `Retry-After` when it is empty (declare it: `problem_responses(429)`)."""

        async def limited(request: fastapi.Request) -> None:
            self.charge(key(request))

        return limited

    def charge(self, client: str) -> None:
        """Take one request from `client`'s bucket; raises `fastapi.HTTPException` 429
        with `Retry-After` when it is empty (for a dependency whose client is not a
        function of the request alone, such as an authenticated customer)."""
        wait = self.wait(client)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise fastapi.HTTPException(
                429,
                f"too many requests from this client; try again in {seconds} s",
                headers={"Retry-After": str(seconds)},
            )

    def _forget_full(self, now: datetime.datetime) -> None:
        if len(self._buckets) < _MAX_BUCKETS:
            return
        refill = datetime.timedelta(seconds=self.burst / self.per_second)
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.at < refill}
