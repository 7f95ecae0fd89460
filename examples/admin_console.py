"""The operator console: mount `cqrs_admin.admin_router` and fix what the system gave up on.

A parcel service keeps its outbox and its sagas; this example uses the
in-memory stores (the SQL and Kafka ones plug in the same way:
`SqlAlchemyOutboxAdmin`, `SqlAlchemySagaAdmin`, `KafkaDeadLetterAdmin`). The
broker was down, so the relay gave up on an event; a consumer gave up on a
record; a saga could not undo its first step. `main()` then acts as an
operator would, over HTTP with a bearer token: it lists the dead row and
replays it, replays the dead letter, and resolves the saga with a reason,
and finally reads the audit log, which names the operator behind each action.

`app` is the ASGI application (`CQRS_ADMIN_TOKENS` is not needed here: the
tokens are given in code). Open `/admin/#token=...` in a browser for the page.

Run: `python examples/admin_console.py`
"""

from __future__ import annotations

import asyncio
import typing
import uuid

import fastapi
import httpx

from cqrs.admin import MemoryDeadLetters, RawRecord, SagaAdmin
from cqrs.message_brokers.protocol import Message
from cqrs.outbox import MemoryOutbox, OutboxRelay, RetryPolicy
from cqrs.saga import MemorySagaStorage, SagaStatus
from cqrs_admin import BearerTokens, admin_router

TOKEN = "ops-4f9d2c71a8e6b05d"

outbox = MemoryOutbox()
sagas = MemorySagaStorage(outbox=outbox)
dead_letters = MemoryDeadLetters()

app = fastapi.FastAPI()
app.include_router(
    admin_router(
        outbox=outbox,
        sagas=SagaAdmin(sagas),  # give it your SagaRecoveryWorker to allow retries
        dead_letters=dead_letters,
        authenticate=BearerTokens({TOKEN: "olivia"}),
    ),
    prefix="/admin",
)


class BrokerDown:
    async def send_message(self, message: Message) -> None:
        raise ConnectionError("broker unreachable")


async def what_went_wrong() -> uuid.UUID:
    """A dead outbox row, a dead letter, and a saga left `compensation_failed`."""
    outbox.stage([Message("parcel_shipped", "parcels", {"parcel_id": "p-7"}, key="p-7")])
    await OutboxRelay(outbox, BrokerDown(), retry=RetryPolicy(max_attempts=1)).run_once()
    dead_letters.add(
        "labels.dlq",
        RawRecord("labels", b"p-7", b'{"event_name": "label_printed"}', {"message_id": "m-1"}),
        original_partition=0,
        original_offset=41,
        reason="no handler for 'label_printed'",
    )
    saga_id = uuid.uuid4()
    await sagas.create_saga(saga_id, "ShipParcelSaga", {"parcel_id": "p-7"})
    await sagas.update_status(saga_id, SagaStatus.COMPENSATION_FAILED, "RefundError: timeout")
    return saga_id


async def main() -> list[tuple[str, typing.Any]]:
    saga_id = await what_went_wrong()
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://parcels.test/admin", headers=headers
    ) as http:
        dead = (await http.get("/outbox/dead")).json()["items"]
        row_id = dead[0]["id"]
        await http.post(f"/outbox/dead/{row_id}/replay", json={"reason": "broker is back"})
        letter = (await http.get("/dead-letters")).json()["items"][0]
        where = {key: letter[key] for key in ("topic", "partition", "offset")}
        await http.post("/dead-letters/replay", json={**where, "reason": "handler deployed"})
        resolved = await http.post(f"/sagas/{saga_id}/resolve", json={"reason": "refunded by hand"})
        audit = (await http.get("/audit")).json()
    return [
        ("dead row", (dead[0]["topic"], dead[0]["last_error"])),
        ("saga", resolved.json()["status"]),
        ("audit", [(entry["actor"], entry["action"]) for entry in audit]),
    ]


if __name__ == "__main__":
    for what, value in asyncio.run(main()):
        print(f"{what}: {value}")
