"""Idempotent requests: a client retries a booking and is charged once.

A ferry company takes seat bookings. A phone on a bad connection sends a
booking, loses the answer and sends it again under the same
`Idempotency-Key`: the second request gets the first answer (the same
booking number) and books nothing. A third request reusing the key for a
different booking is refused (`IdempotencyConflictError`, answered 409 over
HTTP). A booking that crashed before committing left no key behind, so its
retry books the seat.

The key is claimed in the same transaction as the booking; here the
in-memory store stands for the database (`cqrs_sqla.SqlAlchemyIdempotencyStore`
on PostgreSQL or SQLite behaves the same).

Run: `python examples/idempotent_requests.py`
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from cqrs.idempotency import (
    IdempotencyConflictError,
    IdempotentRequest,
    MemoryIdempotencyStore,
    fingerprint,
)

store = MemoryIdempotencyStore()
BOOKINGS: list[str] = []


class Crash(Exception):
    """The server dying before its transaction commits."""


async def book(passenger: str, key: str, seat: str, *, crash: bool = False) -> str:
    """Book `seat` under the client's idempotency `key`; the booking number."""
    body = json.dumps({"seat": seat}).encode()
    request = IdempotentRequest(f"bookings:{passenger}", key, fingerprint(body))
    async with store.session() as session, session.begin():
        stored = await store.claim(session, request)
        if stored is not None:
            return stored  # answered before: nothing booked again
        BOOKINGS.append(seat)
        number = f"B-{len(BOOKINGS)}"
        await store.save(session, request, number)
        if crash:
            raise Crash  # the transaction rolls back: key and booking are gone together
        return number


async def main() -> dict[str, object]:
    BOOKINGS.clear()
    first = await book("ines", "k-1", "12A")
    retried = await book("ines", "k-1", "12A")
    try:
        await book("ines", "k-1", "14C")
        reused = "accepted"
    except IdempotencyConflictError:
        reused = "refused"
    with contextlib.suppress(Crash):
        await book("tom", "k-9", "3B", crash=True)
    after_crash = await book("tom", "k-9", "3B")
    return {
        "first": first,
        "retried": retried,
        "reused_key": reused,
        "after_crash": after_crash,
        "committed_seats": list(store.answers().values()),
    }


if __name__ == "__main__":
    print(asyncio.run(main()))
