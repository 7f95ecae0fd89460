"""`admin_router` over the in-memory ports: every route, its auth and its problems."""

from __future__ import annotations

import datetime
import typing
import uuid

import httpx
import pytest
from fastapi import FastAPI

from cqrs.admin.dead_letters import RawRecord
from cqrs.exceptions import ConfigurationError
from cqrs.message_brokers.memory import InMemoryMessageBroker
from cqrs.message_brokers.protocol import Message
from cqrs.outbox.memory import MemoryOutbox
from cqrs.outbox.relay import OutboxRelay
from cqrs.saga.models import SagaStatus
from cqrs.testing.outbox_admin import give_up_on_pending
from cqrs.testing.saga_admin import leave_compensation_failed
from cqrs_admin import BearerTokens, NoCredentialError, admin_router
from cqrs_admin.auth import TOKENS_ENV
from cqrs_admin.problems import MAX_BODY_BYTES, PROBLEM_JSON

from .console import BOB_TOKEN, Console


def _message(topic: str = "parcels", key: str = "p-1") -> Message:
    return Message(message_name="Weighed", topic=topic, payload={"parcel_id": key}, key=key)


async def _dead_rows(console: Console, *messages: Message) -> list[int]:
    console.outbox.stage(messages)
    await give_up_on_pending(console.outbox, console.outbox)
    return [row.id for row in (await console.outbox.list_dead(limit=500)).items]


async def _compensation_failed(console: Console) -> uuid.UUID:
    return await leave_compensation_failed(console.storage, console.clock)


def _dead_letter(console: Console, offset: int = 7) -> dict[str, object]:
    where = console.dead_letters.add(
        "parcels.dlq",
        RawRecord("parcels", b"p-1", b'{"parcel_id": "p-1"}', {"message_id": "m-1"}),
        original_partition=0,
        original_offset=offset,
        reason="no handler",
    )
    return {"topic": where.topic, "partition": where.partition, "offset": where.offset}


def _api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every admin API route, as the OpenAPI document lists them."""
    return sorted(
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/admin/") and path != "/admin/"
        for method in operations
    )


def _concrete(path: str) -> str:
    return path.replace("{row_id}", "1").replace("{saga_id}", str(uuid.uuid4()))


def _is_problem(response: httpx.Response, status: int) -> dict[str, typing.Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = typing.cast(dict[str, typing.Any], response.json())
    assert (problem["status"], problem["type"]) == (status, "about:blank")
    assert "Traceback" not in response.text
    return problem


# -- building it ------------------------------------------------------------------


def test_without_a_credential_there_is_no_router(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKENS_ENV, raising=False)

    with pytest.raises(NoCredentialError, match=TOKENS_ENV):
        admin_router(outbox=MemoryOutbox())

    monkeypatch.setenv(TOKENS_ENV, " , ")
    with pytest.raises(NoCredentialError):
        admin_router(outbox=MemoryOutbox())


def test_tokens_from_the_environment_name_their_operators(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKENS_ENV, f"bob:{BOB_TOKEN}, 0123456789abcdef0123")

    assert BearerTokens.from_env().actors == ["bob", "admin"]
    assert admin_router(outbox=MemoryOutbox()).routes


@pytest.mark.parametrize("tokens", ["short", "alice:short", "alice:"])
def test_a_guessable_token_is_refused(tokens: str) -> None:
    with pytest.raises(NoCredentialError):
        BearerTokens.parse(tokens)


def test_a_router_with_nothing_to_administer_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="outbox="):
        admin_router(authenticate=BearerTokens({BOB_TOKEN: "bob"}))


# -- who may call it ----------------------------------------------------------------


async def test_every_api_route_refuses_a_request_without_a_token(console: Console) -> None:
    routes = _api_routes(console.app)
    assert len(routes) == 12

    for method, path in routes:
        response = await console.call(method, _concrete(path)[len("/admin") :], token=None)
        problem = _is_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer", (method, path)
        assert "Authorization: Bearer" in problem["detail"]


async def test_every_api_route_refuses_an_unknown_token(console: Console) -> None:
    for method, path in _api_routes(console.app):
        response = await console.call(method, _concrete(path)[len("/admin") :], token="x" * 20)
        _is_problem(response, 401)
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_the_console_page_is_a_static_shell_that_needs_no_token(console: Console) -> None:
    response = await console.call("GET", "/", token=None)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '"dead_letters": true' in response.text
    assert '"retry": true' in response.text


async def test_the_openapi_document_declares_every_problem_and_the_bearer_scheme(
    console: Console,
) -> None:
    document = console.app.openapi()

    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for method, path in _api_routes(console.app):
        operation = document["paths"][path][method.lower()]
        assert operation["security"] == [{"HTTPBearer": []}], path
        for status in ("401", "422", "500", "503"):
            content = operation["responses"][status]["content"]
            assert list(content) == [PROBLEM_JSON], (path, status)
        if method == "POST":
            assert {"404", "409", "413"} <= operation["responses"].keys(), path


# -- the outbox -----------------------------------------------------------------------


async def test_dead_rows_are_listed_replayed_and_audited_under_the_operator(
    console: Console,
) -> None:
    first, second = await _dead_rows(console, _message(key="p-1"), _message(key="p-2"))

    listed = await console.call("GET", "/outbox/dead?limit=1")
    replayed = await console.call("POST", f"/outbox/dead/{first}/replay", json={"reason": "fixed"})
    audit = await console.call("GET", "/audit")

    assert listed.status_code == 200
    page = listed.json()
    assert [row["id"] for row in page["items"]] == [first]
    assert page["items"][0]["payload"] == {"parcel_id": "p-1"}
    assert page["next_cursor"] == str(first)
    assert replayed.status_code == 204
    [entry] = audit.json()
    assert (entry["actor"], entry["action"], entry["target"], entry["reason"]) == (
        "alice",
        "outbox.replay",
        f"outbox/{first}",
        "fixed",
    )
    broker = InMemoryMessageBroker()
    assert await OutboxRelay(console.outbox, broker).run_once() == 1
    rest = await console.call("GET", f"/outbox/dead?cursor={first}")
    assert [row["id"] for row in rest.json()["items"]] == [second]


async def test_a_replay_without_a_body_is_fine_and_a_second_one_is_not_found(
    console: Console,
) -> None:
    [row_id] = await _dead_rows(console, _message())

    assert (await console.call("POST", f"/outbox/dead/{row_id}/replay")).status_code == 204
    _is_problem(await console.call("POST", f"/outbox/dead/{row_id}/replay"), 404)


async def test_replay_all_of_a_topic_answers_how_many(console: Console) -> None:
    await _dead_rows(console, _message("parcels"), _message("labels"), _message("parcels"))

    response = await console.call(
        "POST", "/outbox/dead/replay", json={"topic": "parcels", "reason": "fixed"}, token=BOB_TOKEN
    )
    stats = await console.call("GET", "/outbox/stats")

    assert response.json() == {"replayed": 2}
    assert stats.json() == [
        {"topic": "labels", "pending": 0, "dead": 1, "oldest_pending_age_seconds": None},
        {"topic": "parcels", "pending": 2, "dead": 0, "oldest_pending_age_seconds": 0.0},
    ]


async def test_a_discard_needs_a_reason(console: Console) -> None:
    [row_id] = await _dead_rows(console, _message())

    missing = await console.call("POST", f"/outbox/dead/{row_id}/discard", json={})
    blank = await console.call("POST", f"/outbox/dead/{row_id}/discard", json={"reason": "  "})
    done = await console.call("POST", f"/outbox/dead/{row_id}/discard", json={"reason": "dup"})

    assert _is_problem(missing, 422)["errors"][0]["loc"] == ["body", "reason"]
    _is_problem(blank, 422)
    assert done.status_code == 204
    assert (await console.call("GET", "/outbox/dead")).json()["items"] == []


# -- dead letters ------------------------------------------------------------------


async def test_a_dead_letter_is_replayed_once_unless_forced(console: Console) -> None:
    where = _dead_letter(console)

    listed = (await console.call("GET", "/dead-letters")).json()["items"]
    first = await console.call("POST", "/dead-letters/replay", json=where)
    second = await console.call("POST", "/dead-letters/replay", json=where)
    forced = await console.call("POST", "/dead-letters/replay", json={**where, "force": True})

    assert [(letter["original_topic"], letter["key"], letter["value"]) for letter in listed] == [
        ("parcels", "p-1", '{"parcel_id": "p-1"}')
    ]
    assert first.status_code == 204
    assert "replay it again with force" in _is_problem(second, 409)["detail"]
    assert forced.status_code == 204
    assert [record.topic for record in console.dead_letters.replayed] == ["parcels", "parcels"]
    [letter] = (await console.call("GET", "/dead-letters")).json()["items"]
    assert letter["replayed"]["actor"] == "alice"


@pytest.mark.parametrize(
    "body",
    [
        {"topic": "parcels.dlq", "partition": "0", "offset": 0},
        {"topic": "parcels.dlq", "partition": True, "offset": 0},
        {"topic": "parcels.dlq", "partition": -1, "offset": 0},
        {"topic": "parcels.dlq", "partition": 0, "offset": 2**63},
        {"topic": "", "partition": 0, "offset": 0},
        {"topic": "parcels.dlq", "partition": 0, "offset": 0, "surprise": 1},
        {"topic": "parcels.dlq\u0000", "partition": 0, "offset": 0},
        {"topic": "parcels.dlq", "partition": 0, "offset": 0, "reason": "nul\u0000"},
    ],
    ids=str,
)
async def test_a_malformed_dead_letter_replay_is_422(
    console: Console, body: dict[str, object]
) -> None:
    _dead_letter(console, offset=0)

    _is_problem(await console.call("POST", "/dead-letters/replay", json=body), 422)

    assert console.dead_letters.replayed == []


async def test_a_dead_letter_that_is_not_kept_is_404(console: Console) -> None:
    body = {"topic": "parcels.dlq", "partition": 0, "offset": 99}

    _is_problem(await console.call("POST", "/dead-letters/replay", json=body), 404)


# -- sagas ---------------------------------------------------------------------------


async def test_a_saga_left_compensation_failed_is_listed_shown_and_retried(
    console: Console,
) -> None:
    saga_id = await _compensation_failed(console)

    listed = await console.call("GET", "/sagas?status=compensation_failed")
    shown = await console.call("GET", f"/sagas/{saga_id}")
    retried = await console.call("POST", f"/sagas/{saga_id}/retry", json={"reason": "fixed"})

    assert [saga["saga_id"] for saga in listed.json()["items"]] == [str(saga_id)]
    detail = shown.json()
    assert (detail["status"], detail["context"]["weight"]) == ("compensation_failed", 3)
    assert [entry["step"] for entry in detail["log"]] == ["Weigh", "PrintLabel", "Weigh"]
    assert retried.status_code == 200
    after = retried.json()
    assert after["status"] == "failed"
    assert [(entry["actor"], entry["details"]) for entry in after["audit"]] == [
        ("alice", {"from": "compensation_failed", "to": "failed"})
    ]


async def test_a_saga_is_resolved_with_a_reason_once(console: Console) -> None:
    saga_id = await _compensation_failed(console)

    no_reason = await console.call("POST", f"/sagas/{saga_id}/resolve", json={})
    resolved = await console.call(
        "POST", f"/sagas/{saga_id}/resolve", json={"reason": "refunded by hand"}
    )
    again = await console.call("POST", f"/sagas/{saga_id}/resolve", json={"reason": "again"})
    retried = await console.call("POST", f"/sagas/{saga_id}/retry")

    _is_problem(no_reason, 422)
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["log"][-1] == {
        "step": "ParcelSaga",
        "action": "resolve",
        "status": "completed",
        "at": console.clock().isoformat().replace("+00:00", "Z"),
        "details": "alice: refunded by hand",
    }
    assert "resolved already" in _is_problem(again, 409)["detail"]
    _is_problem(retried, 409)
    assert (await console.storage.load_saga_state(saga_id)).status is SagaStatus.RESOLVED


async def test_a_saga_a_worker_holds_is_not_retried(console: Console) -> None:
    saga_id = await _compensation_failed(console)
    assert await console.storage.claim(saga_id, "worker-a", datetime.timedelta(seconds=30))

    _is_problem(await console.call("POST", f"/sagas/{saga_id}/retry"), 409)


async def test_an_unknown_or_malformed_saga_id(console: Console) -> None:
    _is_problem(await console.call("GET", f"/sagas/{uuid.uuid4()}"), 404)
    _is_problem(await console.call("GET", "/sagas/not-a-uuid"), 422)


@pytest.mark.parametrize(
    "query",
    [
        "status=stuck",
        "limit=0",
        f"limit={501}",
        "min_recovery_attempts=-1",
        "running_longer_than=-5",
        "cursor=garbage",
        f"name={'n' * 256}",
        "overdue=perhaps",
    ],
)
async def test_a_malformed_saga_listing_is_422(console: Console, query: str) -> None:
    _is_problem(await console.call("GET", f"/sagas?{query}"), 422)


# -- hostile and failing requests ---------------------------------------------------


async def test_an_oversized_body_is_refused_before_it_is_read(console: Console) -> None:
    [row_id] = await _dead_rows(console, _message())
    body = '{"reason": "' + "x" * MAX_BODY_BYTES + '"}'

    response = await console.call(
        "POST",
        f"/outbox/dead/{row_id}/discard",
        content=body,
        headers={"Content-Type": "application/json"},
    )

    _is_problem(response, 413)
    assert len((await console.call("GET", "/outbox/dead")).json()["items"]) == 1


@pytest.mark.parametrize("query", ["topic=a%00b", "cursor=-1", "cursor=abc", "topic="])
async def test_a_malformed_dead_row_listing_is_422(console: Console, query: str) -> None:
    _is_problem(await console.call("GET", f"/outbox/dead?{query}"), 422)


async def test_a_port_that_cannot_reach_its_store_is_503_and_a_bug_is_500(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable(**_: object) -> None:
        raise ConnectionRefusedError("database at 10.0.0.1 refused")

    async def broken() -> None:
        raise KeyError("secret internals")

    monkeypatch.setattr(console.outbox, "list_dead", unreachable)
    monkeypatch.setattr(console.outbox, "stats", broken)

    assert "refused" in _is_problem(await console.call("GET", "/outbox/dead"), 503)["detail"]
    assert "secret" not in _is_problem(await console.call("GET", "/outbox/stats"), 500)["detail"]
