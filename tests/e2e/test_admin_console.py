"""The operator console of the running reference system: a record inventory's consumer gave
up on is found and replayed through the HTTP API mounted at `/admin` and through the
`cqrs-admin` command, each replay audited, a second one refused unless forced, and nothing
answered without the launcher's operator token (scope `admin`)."""

from __future__ import annotations

import asyncio
import collections.abc
import json
import time
import typing
import uuid

import aiokafka
import httpx
import pytest

from cqrs.admin.paging import MAX_PAGE_SIZE
from cqrs_admin.cli import main as cqrs_admin
from cqrs_demo import ReferenceSystem
from cqrs_demo.system import OPERATOR

from .running import started_system

COMMANDS_TOPIC = "inventory.commands"
DEAD_LETTER_TOPIC = f"{COMMANDS_TOPIC}.dlq"
DEADLINE_SECONDS = 60.0

Json = dict[str, typing.Any]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> collections.abc.Iterator[ReferenceSystem]:
    folder = tmp_path_factory.mktemp("admin-console")
    with started_system("postgresql", folder) as system:
        yield system


def _produce_poison(bootstrap_servers: str, key: str) -> None:
    """A record on the command topic that is no command: inventory dead-letters it."""

    async def send() -> None:
        producer = aiokafka.AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
        await producer.start()
        try:
            await producer.send_and_wait(  # pyright: ignore[reportUnknownMemberType]  (aiokafka: untyped)
                COMMANDS_TOPIC,
                b'{"event_name": "no_such_command"}',
                key=key.encode(),
                headers=[("message_id", str(uuid.uuid4()).encode())],
            )
        finally:
            await producer.stop()

    asyncio.run(send())


def _dead_letters(http: httpx.Client, system: ReferenceSystem, key: str) -> list[Json]:
    response = http.get(
        f"{system.url('inventory')}/admin/dead-letters",
        params={"topic": DEAD_LETTER_TOPIC, "limit": MAX_PAGE_SIZE},
        headers=system.config.operator_headers,
    )
    assert response.status_code == 200, response.text
    return [letter for letter in response.json()["items"] if letter["key"] == key]


def _wait_for_dead_letters(
    http: httpx.Client, system: ReferenceSystem, key: str, count: int
) -> list[Json]:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        letters = _dead_letters(http, system, key)
        if len(letters) >= count:
            return letters
        assert time.monotonic() < deadline, f"{len(letters)} dead letters of {key}, not {count}"
        time.sleep(0.2)


def test_a_dead_letter_is_listed_and_replayed_over_http_and_by_the_command(
    system: ReferenceSystem, capsys: pytest.CaptureFixture[str]
) -> None:
    key = f"poison-{uuid.uuid4().hex[:8]}"
    inventory = system.url("inventory")
    _produce_poison(system.config.bootstrap_servers, key)
    with httpx.Client(timeout=30.0) as http:
        [letter] = _wait_for_dead_letters(http, system, key, 1)
        assert (letter["original_topic"], letter["replayed"]) == (COMMANDS_TOPIC, None)
        where = {name: letter[name] for name in ("topic", "partition", "offset")}

        anonymous = http.post(f"{inventory}/admin/dead-letters/replay", json=where)
        authorised = system.config.operator_headers
        first = http.post(f"{inventory}/admin/dead-letters/replay", json=where, headers=authorised)
        second = http.post(f"{inventory}/admin/dead-letters/replay", json=where, headers=authorised)

        assert anonymous.status_code == 401
        assert first.status_code == 204, first.text
        assert second.status_code == 409, second.text
        # The replay went back to inventory.commands, was consumed again and, still no
        # command, dead-lettered again: a second letter of the same key, from a later offset.
        letters = _wait_for_dead_letters(http, system, key, 2)
        assert letters[0]["replayed"]["actor"] == OPERATOR
        assert letters[1]["original_offset"] > letter["original_offset"]

    options = ["--bootstrap-servers", system.config.bootstrap_servers, "--actor", "e2e-cli"]
    listing = ["dead-letters", "list", "--topic", DEAD_LETTER_TOPIC, "--limit", str(MAX_PAGE_SIZE)]
    listed = cqrs_admin([*listing, "--json", *options])
    items = [item for item in json.loads(capsys.readouterr().out)["items"] if item["key"] == key]
    again = [str(letters[0][name]) for name in ("topic", "partition", "offset")]
    refused = cqrs_admin(["dead-letters", "replay", *again, *options])
    refused_error = capsys.readouterr().err
    forced = cqrs_admin(["dead-letters", "replay", *again, "--force", "--reason", "e2e", *options])
    capsys.readouterr()
    audit = cqrs_admin(["dead-letters", "audit", "--json", *options])
    entries = json.loads(capsys.readouterr().out)

    assert listed == 0
    assert [item["offset"] for item in items] == [item["offset"] for item in letters]
    assert refused == 4
    assert f"replayed by {OPERATOR}" in refused_error
    assert (forced, audit) == (0, 0)
    assert [entry["actor"] for entry in entries[:2]] == ["e2e-cli", OPERATOR]
